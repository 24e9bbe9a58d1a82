"""Parser, error messages, type checker and constant folding of the expression language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

import compiler.expressions as cx
from compiler.expressions import (
    ExprSyntaxError,
    TypeIssue,
    check_expr,
    expr_col,
    expr_vars,
    fold_constants,
    parse_expr,
    parse_template,
)
from ddt_engine.expressions import evaluate
from schemas.expressions import (
    Binary,
    BinOp,
    Call,
    DateLit,
    Duration,
    Expr,
    ExprPart,
    IsSet,
    ListLit,
    Lit,
    Template,
    TextPart,
    Unary,
    Var,
)
from schemas.functions import FILTERS, FUNCTIONS


def V(path: str) -> Var:
    return Var(path=tuple(path.split(".")))


def L(v: Any) -> Lit:
    return Lit(v=v)


def B(op: BinOp, a: Expr, b: Expr) -> Binary:
    return Binary(op=op, a=a, b=b)


def C(fn: str, *args: Expr) -> Call:
    return Call(fn=fn, args=args)


def NOT(a: Expr) -> Unary:
    return Unary(op="not", a=a)


def NEG(a: Expr) -> Unary:
    return Unary(op="neg", a=a)


def test_public_api_is_pinned() -> None:
    assert sorted(cx.__all__) == sorted(
        [
            "MAX_DEPTH",
            "MAX_LENGTH",
            "ExprSyntaxError",
            "TypeIssue",
            "check_expr",
            "check_template",
            "expr_col",
            "expr_vars",
            "fold_constants",
            "parse_expr",
            "parse_template",
            "template_vars",
        ]
    )


# --------------------------------------------------------------------------------------------
# parsing

PARSE_CASES: list[tuple[str, Expr]] = [
    ("18", L(18)),
    ("1.5", L(1.5)),
    ("1e3", L(1000.0)),
    ('"ciao"', L("ciao")),
    ("'ciao'", L("ciao")),
    (r'"a\"b\n\u00e8"', L('a"b\nè')),
    (r"'it\'s'", L("it's")),
    ("true", L(True)),
    ("False", L(False)),
    ("null", L(None)),
    ("None", L(None)),
    ("2024-03-01", DateLit(v="2024-03-01")),
    ("2024 - 03 - 01", B("-", B("-", L(2024), L(3)), L(1))),
    ("30d", Duration(days=30)),
    ("2w", Duration(days=14)),
    ("6m", Duration(months=6)),
    ("18y", Duration(months=216)),
    ("2h", Duration(seconds=7200)),
    ("90min", Duration(seconds=5400)),
    ("45s", Duration(seconds=45)),
    ("age", V("age")),
    ("appointment.date", V("appointment.date")),
    ("slots.0.time", V("slots.0.time")),
    ("slots.0.1", V("slots.0.1")),
    ("a and b or c", B("or", B("and", V("a"), V("b")), V("c"))),
    ("a or b and c", B("or", V("a"), B("and", V("b"), V("c")))),
    ("not a and b", B("and", NOT(V("a")), V("b"))),
    ("not not a", NOT(NOT(V("a")))),
    ("not a == b", NOT(B("==", V("a"), V("b")))),
    ("a == 1 + 2 * 3", B("==", V("a"), B("+", L(1), B("*", L(2), L(3))))),
    ("(1 + 2) * 3", B("*", B("+", L(1), L(2)), L(3))),
    ("10 - 4 - 3", B("-", B("-", L(10), L(4)), L(3))),
    ("-x * 2", B("*", NEG(V("x")), L(2))),
    ("- -1", NEG(NEG(L(1)))),
    ("+x", V("x")),
    ("7 % 2 / 1", B("/", B("%", L(7), L(2)), L(1))),
    ("a != b", B("!=", V("a"), V("b"))),
    ("1 < x <= 3", B("and", B("<", L(1), V("x")), B("<=", V("x"), L(3)))),
    ("x >= 1 > y", B("and", B(">=", V("x"), L(1)), B(">", L(1), V("y")))),
    ("x in [1, 2]", B("in", V("x"), ListLit(items=(L(1), L(2))))),
    ("x in [1, 2,]", B("in", V("x"), ListLit(items=(L(1), L(2))))),
    ("x in []", B("in", V("x"), ListLit(items=()))),
    ("x in allowed", B("in", V("x"), V("allowed"))),
    ("x not in ['a']", NOT(B("in", V("x"), ListLit(items=(L("a"),))))),
    ("x is set", IsSet(path=("x",))),
    ("patient.cf is not set", IsSet(path=("patient", "cf"), negate=True)),
    ("x is set and y", B("and", IsSet(path=("x",)), V("y"))),
    ("today()", C("today")),
    ("age(birth) >= 18", B(">=", C("age", V("birth")), L(18))),
    ("min(a, 2, 3,)", C("min", V("a"), L(2), L(3))),
    ("birth + 18y <= today()", B("<=", B("+", V("birth"), Duration(months=216)), C("today"))),
    (
        "value - 2024-01-01 < 30d",
        B("<", B("-", V("value"), DateLit(v="2024-01-01")), Duration(days=30)),
    ),
    ("  x\n  ==\t1 ", B("==", V("x"), L(1))),
    ("orders", V("orders")),
    ("notes", V("notes")),
    ("index", V("index")),
    ("settings", V("settings")),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse(text: str, expected: Expr) -> None:
    assert parse_expr(text) == expected


def test_ast_survives_json() -> None:
    adapter: TypeAdapter[Expr] = TypeAdapter(Expr)
    for text, expected in PARSE_CASES:
        e = parse_expr(text)
        again = adapter.validate_json(adapter.dump_json(e))
        assert again == expected
        assert type(again) is type(expected)
        if isinstance(e, Lit):
            assert type(again.v) is type(e.v)  # type: ignore[union-attr]


TEMPLATE_CASES: list[tuple[str, tuple[Any, ...]]] = [
    ("", ()),
    ("Buongiorno", (TextPart(text="Buongiorno"),)),
    ("Ciao {{ name }}!", (TextPart(text="Ciao "), ExprPart(expr=V("name")), TextPart(text="!"))),
    ("{{name}}", (ExprPart(expr=V("name")),)),
    ("{{ x | upper }}", (ExprPart(expr=C("upper", V("x"))),)),
    (
        "Nato il {{ birth | date('long') }}.",
        (
            TextPart(text="Nato il "),
            ExprPart(expr=C("date", V("birth"), L("long"))),
            TextPart(text="."),
        ),
    ),
    (
        "{{ x | date('short') | upper }}",
        (ExprPart(expr=C("upper", C("date", V("x"), L("short")))),),
    ),
    ("{{ a + 1 | str }}", (ExprPart(expr=C("str", B("+", V("a"), L(1)))),)),
    ("{{ name | default('cliente') }}", (ExprPart(expr=C("default", V("name"), L("cliente"))),)),
    (r"Scrivi \{{ così", (TextPart(text="Scrivi {{ così"),)),
    ("{{ '{{' }} e }}", (ExprPart(expr=L("{{")), TextPart(text=" e }}"))),
    ('{{ "}}" }}', (ExprPart(expr=L("}}")),)),
    ("a } b { c", (TextPart(text="a } b { c"),)),
]


@pytest.mark.parametrize(
    ("text", "parts"), TEMPLATE_CASES, ids=[c[0] or "empty" for c in TEMPLATE_CASES]
)
def test_parse_template(text: str, parts: tuple[Any, ...]) -> None:
    assert parse_template(text) == Template(parts=parts)


def test_columns_point_at_the_node() -> None:
    e = parse_expr("age >= 18 and name")
    assert isinstance(e, Binary)
    assert expr_col(e) == 11  # the 'and'
    assert expr_col(e.a) == 5  # the '>='
    assert expr_col(e.b) == 15
    t = parse_template("Ciao {{ x + 1 }}")
    part = t.parts[1]
    assert isinstance(part, ExprPart)
    assert expr_col(part.expr) == 11  # column in the whole template
    assert expr_col(L(1)) is None


def test_positions_leave_with_their_nodes() -> None:
    import gc

    e = fold_constants(parse_expr("unique_name_for_this_test + (1 + 1)"))
    assert isinstance(e, Binary)
    key = id(e.b)
    assert key in cx._POS
    del e
    cx._parse_expr_cached.cache_clear()
    gc.collect()
    assert key not in cx._POS


def test_expr_vars() -> None:
    e = parse_expr("a.b > 1 and c is set or f(d.e, [g]) or 2024-01-01 < h")
    assert expr_vars(e) == {"a.b", "c", "d.e", "g", "h"}
    assert expr_vars(parse_expr("1 + 2")) == set()
    assert cx.template_vars(parse_template("{{ x }} e {{ y.z | upper }}")) == {"x", "y.z"}


# --------------------------------------------------------------------------------------------
# syntax errors: whole rendered texts

ERROR_CASES: list[tuple[str, str]] = [
    (
        "age = 18",
        """unexpected character '=', expected an operator or the end of the expression (column 5)
  age = 18
      ^
hint: write '==' to compare two values""",
    ),
    (
        "age >= 18 && ok",
        """unexpected character '&', expected an operator or the end of the expression (column 11)
  age >= 18 && ok
            ^
hint: write 'and' to join two conditions""",
    ),
    (
        "a || b",
        """unexpected '|', expected the end of the expression (column 3)
  a || b
    ^
hint: write 'or' to join two alternatives""",
    ),
    (
        "age >= 18 AND ok",
        """unexpected 'AND', expected an operator or the end of the expression (column 11)
  age >= 18 AND ok
            ^
hint: write 'and' in lower case""",
    ),
    (
        "x e y",
        """unexpected 'e', expected an operator or the end of the expression (column 3)
  x e y
    ^
hint: write 'and'""",
    ),
    (
        'name == "Mario',
        """unclosed string (column 9)
  name == "Mario
          ^
hint: add the closing " at the end of the text""",
    ),
    (
        "(a or b",
        """unexpected end of the expression, expected ')' (column 8)
  (a or b
         ^
hint: the '(' at column 1 is not closed by ')'""",
    ),
    (
        "x in [1, 2",
        """unexpected end of the expression, expected ']' or ',' (column 11)
  x in [1, 2
            ^
hint: the '[' at column 6 is not closed by ']'""",
    ),
    (
        "x ==",
        """unexpected end of the expression, expected a value (column 5)
  x ==
      ^""",
    ),
    (
        "",
        "empty expression (column 1)",
    ),
    (
        "a b",
        """unexpected 'b', expected an operator or the end of the expression (column 3)
  a b
    ^""",
    ),
    (
        "a <> b",
        """unexpected '>', expected a value (column 4)
  a <> b
     ^
hint: write '!=' for 'is different from'""",
    ),
    (
        "!confirmed",
        """unexpected character '!', expected a value (column 1)
  !confirmed
  ^
hint: write 'not' to negate a condition, '!=' for 'is different from'""",
    ),
    (
        "x is nul",
        """unexpected 'nul', expected 'set' or 'not' (column 6)
  x is nul
       ^
hint: write 'x is set', 'x is not set' or 'x == null'""",
    ),
    (
        "1 is set",
        """only a variable can be tested with 'is set' (column 3)
  1 is set
    ^
hint: write 'x is set' where x is a variable name""",
    ),
    (
        "value < today() + 30 days",
        """unexpected 'days', expected an operator or the end of the expression (column 22)
  value < today() + 30 days
                       ^
hint: write a duration with no space: 30d (units d, w, m = months, y, h, min, s)""",
    ),
    (
        "2024-02-30 < value",
        """invalid date '2024-02-30': day is out of range for month (column 1)
  2024-02-30 < value
  ^
hint: dates are written YYYY-MM-DD""",
    ),
    (
        r'x == "C:\temp\q"',
        r"""unknown escape '\q' in a string (column 14)
  x == "C:\temp\q"
               ^
hint: escapes are \n \t \\ \" \' \uXXXX; write '\\' for a backslash""",
    ),
    (
        "x | upper",
        """unexpected '|', expected the end of the expression (column 3)
  x | upper
    ^
hint: filters ('x | upper') are only for '{{ … }}' in prompt templates""",
    ),
    (
        "{{ x }} == 1",
        """unexpected character '{', expected a value (column 1)
  {{ x }} == 1
  ^
hint: '{{' … '}}' belongs in prompt templates; a condition is written without it""",
    ),
    (
        "name.lower()",
        """unexpected '(', expected an operator or the end of the expression (column 11)
  name.lower()
            ^
hint: call a function as f(x): there are no methods such as x.f()""",
    ),
    (
        "x ≥ 3",
        """unexpected character '≥', expected an operator or the end of the expression (column 3)
  x ≥ 3
    ^
hint: write '>='""",
    ),
    (
        "a.",
        """unexpected end of the expression, expected a field name (column 3)
  a.
    ^""",
    ),
    (
        "99999999999999999999 > x",
        """number too large (column 1)
  99999999999999999999 > x
  ^
hint: integers go up to 9223372036854775807""",
    ),
    (
        "x == 1\n  and y ==",
        """unexpected end of the expression, expected a value (column 18)
    and y ==
            ^""",
    ),
]


@pytest.mark.parametrize(
    ("text", "rendered"), ERROR_CASES, ids=[c[0] or "empty" for c in ERROR_CASES]
)
def test_syntax_error_texts(text: str, rendered: str) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse_expr(text)
    assert info.value.render() == rendered


TEMPLATE_ERRORS: list[tuple[str, str]] = [
    (
        "Ciao {{ name",
        """unclosed '{{' (column 6)
  Ciao {{ name
       ^
hint: close it with '}}', or write '\\{{' for a literal '{{'""",
    ),
    (
        "Ciao {{ }}",
        """empty '{{ }}' (column 6)
  Ciao {{ }}
       ^
hint: put a variable inside, e.g. '{{ name }}'""",
    ),
    (
        "Ciao {{ name | }}",
        """unexpected '}}', expected a filter name (column 16)
  Ciao {{ name | }}
                 ^""",
    ),
    (
        'Il {{ birth | date("long" }}',
        """unexpected '}}', expected ')' or ',' (column 27)
  Il {{ birth | date("long" }}
                            ^
hint: the '(' at column 19 is not closed by ')'""",
    ),
    (
        "Ciao {{ a b }}",
        """unexpected 'b', expected an operator, '|' or '}}' (column 11)
  Ciao {{ a b }}
            ^""",
    ),
    (
        'x {{ "abc }}',
        """unclosed string (column 6)
  x {{ "abc }}
       ^
hint: add the closing " at the end of the text""",
    ),
]


@pytest.mark.parametrize(("text", "rendered"), TEMPLATE_ERRORS, ids=[c[0] for c in TEMPLATE_ERRORS])
def test_template_error_texts(text: str, rendered: str) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse_template(text)
    assert info.value.render() == rendered


def test_error_fields() -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse_expr("f(a")
    e = info.value
    assert e.col == 4
    assert e.expected == ["')'", "','"]
    assert e.hint == "the '(' at column 2 is not closed by ')'"
    assert e.caret() == "  f(a\n     ^"
    assert str(e) == "unexpected end of the expression, expected ')' or ',' (column 4)"


def test_error_pickles() -> None:
    import pickle

    with pytest.raises(ExprSyntaxError) as info:
        parse_expr("x is not nul")
    again = pickle.loads(pickle.dumps(info.value))
    assert again.render() == info.value.render()
    assert info.value.hint == "write 'x is set', 'x is not set' or 'x == null'"


def test_unicode_digits_are_not_numbers() -> None:
    with pytest.raises(ExprSyntaxError, match="unexpected character '٣'"):
        parse_expr("x == ٣")


def test_caret_cuts_long_lines() -> None:
    text = "a" * 100 + " b"
    with pytest.raises(ExprSyntaxError) as info:
        parse_expr(text)
    line, caret = info.value.caret().split("\n")
    assert len(line) <= 62
    assert line[len(caret) - 1] == "b"


def test_limits() -> None:
    with pytest.raises(ExprSyntaxError, match="nested too deeply"):
        parse_expr("(" * 200 + "1" + ")" * 200)
    with pytest.raises(ExprSyntaxError, match="too long"):
        parse_expr("1 + " * 3000 + "1")
    with pytest.raises(ExprSyntaxError, match="nested too deeply"):
        parse_expr(" + ".join(["1"] * 150))  # a long flat chain also builds a deep tree
    assert parse_expr(" or ".join(["x"] * 90)) is not None


_GRAMMARISH = st.lists(
    st.sampled_from(
        list("abxyz019 .,()[]{}|+-*/%<>=!&\"'\\\n_")
        + [" and ", " or ", "not ", " in ", " is ", "set", "null", "true", "2024-03-01", "30d"]
        + ["{{", "}}", "f(", "date(", "2024-13-45", "1.5", "99999999999999999999"]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), _GRAMMARISH))
def test_parse_never_raises_anything_else(text: str) -> None:
    for parse in (parse_expr, parse_template):
        try:
            parse(text)
        except ExprSyntaxError as e:
            assert e.col >= 1
            assert e.message
            e.render()  # never fails either


# --------------------------------------------------------------------------------------------
# type checking

VARS = {
    "age_years": "integer",
    "birth": "date",
    "appointment.date": "date",
    "appointment.time": "time",
    "name": "string",
    "confirmed": "boolean",
    "slots": "list",
    "patient": "object",
    "amount": "number",
    "when": "datetime",
}

CHECK_CASES: list[tuple[str, str, list[TypeIssue]]] = [
    ("age_years >= 18", "boolean", []),
    ("appointment", "object", []),
    ("appointment.date - today() <= 30d", "boolean", []),
    ("birth + 18y", "date", []),
    ("today() - birth", "duration", []),
    ("when - 2h", "datetime", []),
    ("slots.0.time", "any", []),
    ("patient.cf.x", "any", []),
    ("value.day <= 31", "boolean", []),
    ("birth.year > 1900", "boolean", []),
    ("appointment.time < '09:30'", "boolean", []),
    ("amount / 2", "number", []),
    ("age_years % 2", "integer", []),
    ("min(age_years, 2.5)", "number", []),
    ("coalesce(name, 'x')", "string", []),
    ("'a' in name", "boolean", []),
    ("[1, 2]", "list", []),
    ("money(amount)", "string", []),
    ("len(slots) > 0 and confirmed", "boolean", []),
    (
        "brith < today()",
        "boolean",
        [TypeIssue("unknown variable 'brith'", "did you mean 'birth'?", 1)],
    ),
    (
        "x is set",
        "boolean",
        [TypeIssue("unknown variable 'x'", "declare it under 'variables'", 3)],
    ),
    (
        "appointment.date == '2024-03-01'",
        "boolean",
        [
            TypeIssue(
                "'==' compares a date with a string", "write a date without quotes: 2024-03-01", 18
            )
        ],
    ),
    (
        "name < 3",
        "boolean",
        [TypeIssue("'<' compares a string with an integer", "the result is always false", 6)],
    ),
    (
        "confirmed < true",
        "boolean",
        [TypeIssue("'<' cannot order a boolean", "the result is always false", 11)],
    ),
    (
        "confirmed + 1",
        "any",
        [TypeIssue("arithmetic '+' on a boolean", "use 'and'/'or' to combine conditions", 11)],
    ),
    (
        "name and confirmed",
        "boolean",
        [
            TypeIssue(
                "'and' expects conditions on both sides, got a string",
                "compare the value, e.g. 'x is set' or 'x != \"\"'",
                6,
            )
        ],
    ),
    (
        "not name",
        "boolean",
        [
            TypeIssue(
                "'not' expects a condition, got a string",
                "test it instead, e.g. 'x is not set' or 'x == \"\"'",
                1,
            )
        ],
    ),
    (
        "age_years in 5",
        "boolean",
        [
            TypeIssue(
                "'in' needs a list or a string on the right, got an integer",
                "write a list literal such as [1, 2, 3]",
                11,
            )
        ],
    ),
    ("birth - name", "any", [TypeIssue("cannot apply '-' to a date and a string", None, 7)]),
    ("-name", "any", [TypeIssue("cannot negate a string", None, 1)]),
    ("name.first", "any", [TypeIssue("'name' is a string, it has no field 'first'", None, 1)]),
    (
        "uper(name)",
        "any",
        [TypeIssue("unknown function or filter 'uper'", "did you mean 'upper'?", 1)],
    ),
    (
        "age(birth, 1)",
        "integer",
        [TypeIssue("age() takes 1 argument, got 2", "for example: age(birth_date) >= 18", 1)],
    ),
    (
        "min(1)",
        "any",
        [TypeIssue("min() takes at least 2 arguments, got 1", "for example: min(a, b, 10)", 1)],
    ),
    (
        "year(confirmed)",
        "integer",
        [
            TypeIssue(
                "year() expects a date or a datetime or a string for 'd', got a boolean", None, 6
            )
        ],
    ),
    ("matches(name, '^[A-Z][a-z]+$')", "boolean", []),
    (
        "matches(name, name)",
        "boolean",
        [
            TypeIssue(
                "matches() takes its pattern as a string written in the expression",
                'for example: matches(value, "^[0-9]+$")',
                15,
            )
        ],
    ),
    (
        "matches(name, '(ab')",
        "boolean",
        [
            TypeIssue(
                "matches() pattern is not a valid regular expression: "
                "missing ), unterminated subpattern at position 0",
                "Python's re syntax; a backslash is written twice inside a string (\\\\d)",
                15,
            )
        ],
    ),
    (
        "date(birth, 'medium')",
        "string",
        [
            TypeIssue(
                "date() style must be one of 'long', 'short', 'weekday', got 'medium'", None, 13
            )
        ],
    ),
]


@pytest.mark.parametrize(("text", "type_", "issues"), CHECK_CASES, ids=[c[0] for c in CHECK_CASES])
def test_check(text: str, type_: str, issues: list[TypeIssue]) -> None:
    assert check_expr(parse_expr(text), VARS, locals={"value": "date"}) == (type_, issues)


def test_check_template_filters() -> None:
    t = parse_template("Il {{ birth | date('long') }} alle {{ appointment.time | tme }}")
    assert cx.check_template(t, VARS) == [
        TypeIssue("unknown function or filter 'tme'", "did you mean 'time'?", 58)
    ]


def test_check_hand_built_ast_has_column_1() -> None:
    assert check_expr(V("nope"), {}) == (
        "any",
        [TypeIssue("unknown variable 'nope'", "declare it under 'variables'", 1)],
    )


def test_function_table_is_consistent() -> None:
    for name, sig in FUNCTIONS.items():
        assert sig.name == name
        assert sig.doc and sig.example
        optional_seen = False
        for p in sig.params:
            assert not (optional_seen and not p.optional), name
            optional_seen = optional_seen or p.optional
        if sig.filter:
            assert sig.params, name
    assert set(FILTERS) >= {"date", "time", "upper", "lower", "digits", "money", "default"}


def test_docs_list_every_function() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "expressions.md").read_text(encoding="utf-8")
    for name in FUNCTIONS:
        assert f"| `{name}(" in doc, name


# --------------------------------------------------------------------------------------------
# constant folding

FOLD_CASES: list[tuple[str, Expr]] = [
    ("1 + 2", L(3)),
    ("2 * 3 + 1", L(7)),
    ("7 / 2", L(3.5)),
    ("6 / 2", L(3.0)),
    ("7 % 3", L(1)),
    ("-(2)", L(-2)),
    ("not true", L(False)),
    ("not null", L(True)),
    ('"a" + "b"', L("ab")),
    ('"a" in ["a", "b"]', L(True)),
    ("3 in [1, 2]", L(False)),
    ("true in [1]", L(False)),
    ('"ci" in "ciao"', L(True)),
    ("1 == 1.0", L(True)),
    ("1 == true", L(False)),
    ("1 < 'a'", L(False)),
    ("2024-03-01 < 2024-04-01", L(True)),
    ("false and x", L(False)),
    ("true or x", L(True)),
    ("1 < 2 < 3", L(True)),
    ("x + (1 + 2)", B("+", V("x"), L(3))),
    ("x and true", B("and", V("x"), L(True))),
    ("true and x", B("and", L(True), V("x"))),
    ("1 / 0", B("/", L(1), L(0))),
    ("true + 1", B("+", L(True), L(1))),
    ("today() > 2024-01-01", B(">", C("today"), DateLit(v="2024-01-01"))),
    ("age(birth) >= 10 + 8", B(">=", C("age", V("birth")), L(18))),
    ("upper('a')", C("upper", L("a"))),
    ("2024-01-01 + 30d", B("+", DateLit(v="2024-01-01"), Duration(days=30))),
    ("x in [1 + 1, 3]", B("in", V("x"), ListLit(items=(L(2), L(3))))),
]


@pytest.mark.parametrize(("text", "expected"), FOLD_CASES, ids=[c[0] for c in FOLD_CASES])
def test_fold(text: str, expected: Expr) -> None:
    assert fold_constants(parse_expr(text)) == expected


def test_fold_keeps_unchanged_nodes_and_columns() -> None:
    e = parse_expr("x > 1")
    assert fold_constants(e) is e
    f = fold_constants(parse_expr("x > 1 + 1"))
    assert isinstance(f, Binary) and expr_col(f) == 3 and expr_col(f.b) == 7


NOW = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet="ab1-", max_size=3),
)
_leaves = st.one_of(
    st.builds(Lit, v=_scalars),
    st.builds(
        DateLit,
        v=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)).map(date.isoformat),
    ),
    st.builds(
        Duration,
        days=st.integers(0, 400),
        months=st.integers(0, 30),
        seconds=st.integers(0, 10**5),
    ),
)
_const_trees = st.recursive(
    _leaves,
    lambda ch: st.one_of(
        st.builds(Unary, op=st.sampled_from(["not", "neg"]), a=ch),
        st.builds(Binary, op=st.sampled_from(list(get_args(BinOp))), a=ch, b=ch),
        st.builds(ListLit, items=st.lists(ch, max_size=3).map(tuple)),
        st.builds(
            Call,
            fn=st.sampled_from(["len", "upper", "abs", "year", "coalesce", "min", "str"]),
            args=st.lists(ch, max_size=2).map(tuple),
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(_const_trees)
def test_folding_preserves_the_value(e: Expr) -> None:
    folded = fold_constants(e)
    before = evaluate(e, {}, NOW)
    after = evaluate(folded, {}, NOW)
    assert repr(after) == repr(before)
    assert type(after) is type(before)
