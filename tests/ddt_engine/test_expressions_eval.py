"""Evaluator of the expression AST: values, dates and durations, None-safety, templates,
memory paths.

(Named ``test_expressions_eval.py``, not ``test_expressions.py``: the tests directories have
no ``__init__.py``, and two test modules with one basename break pytest's collection.)
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ddt_engine.expressions as ev
from compiler.expressions import parse_expr, parse_template
from ddt_engine.expressions import (
    Dur,
    compile_expr,
    evaluate,
    format_value,
    get_path,
    jsonable,
    render,
    set_path,
)
from schemas.expressions import Call, Lit, Var

NOW = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

MEMORY: dict[str, Any] = {
    "name": "mario",
    "age_years": 45,
    "birth": "1980-03-03",
    "confirmed": True,
    "amount": 12.5,
    "zero": 0,
    "empty": "",
    "slots": [{"time": "09:30"}, {"time": "11:00"}],
    "appointment": {"date": "2025-06-20", "time": "10:15", "when": "2025-06-20T10:15:00"},
    "patient": {"cf": "RSSMRA80C03H501U"},
    "mobile": "+393471234567",
    "allowed": ["a", "b"],
    "partial": {"month": 3, "year": 1980},
}


def run(text: str, memory: dict[str, Any] | None = None) -> Any:
    return evaluate(parse_expr(text), MEMORY if memory is None else memory, NOW)


def test_public_api_is_pinned() -> None:
    assert sorted(ev.__all__) == sorted(
        [
            "Dur",
            "Fn",
            "compile_expr",
            "evaluate",
            "format_value",
            "get_path",
            "jsonable",
            "render",
            "set_path",
        ]
    )


EVAL_CASES: list[tuple[str, Any]] = [
    # literals and arithmetic
    ("1 + 2 * 3", 7),
    ("7 / 2", 3.5),
    ("6 / 2", 3.0),
    ("7 % 3", 1),
    ("-age_years", -45),
    ("'a' + 'b'", "ab"),
    ("[1] + [2]", [1, 2]),
    ("amount * 2", 25.0),
    # comparisons and logic
    ("age_years >= 18 and confirmed", True),
    ("age_years < 18 or name == 'mario'", True),
    ("not confirmed", False),
    ("1 < age_years <= 45", True),
    ("1 == 1.0", True),
    ("1 == true", False),
    ("zero or empty", False),
    ("name in ['mario', 'luigi']", True),
    ("name not in allowed", True),
    ("'ar' in name", True),
    ("'cf' in patient", True),
    # paths
    ("slots.1.time", "11:00"),
    ("slots.5.time", None),
    ("slots.x", None),
    ("appointment.time < '11:00'", True),
    ("patient.cf.x", None),
    # is set
    ("name is set", True),
    ("empty is set", False),
    ("missing is not set", True),
    ("appointment.date is set", True),
    # dates and durations
    ("birth + 18y", "1998-03-03"),
    ("2024-01-31 + 1m", "2024-02-29"),
    ("2023-01-31 + 1m", "2023-02-28"),
    ("2024-03-01 - 1d", "2024-02-29"),
    ("2024-03-01 + 2w", "2024-03-15"),
    ("30d + 2024-03-01", "2024-03-31"),
    ("2024-03-01 - 2024-02-01", Dur(days=29)),
    ("appointment.date - today()", Dur(days=9)),
    ("appointment.date - today() <= 30d", True),
    ("appointment.date - today() > 1m", False),
    ("appointment.when + 2h", "2025-06-20T12:15:00"),
    ("appointment.when - '2025-06-20T08:00:00'", Dur(days=0, seconds=8100)),
    ("appointment.time + 90min", "11:45"),
    ("'23:30' + 1h", "00:30"),
    ("'10:00' - '09:15'", Dur(seconds=2700)),
    ("today()", "2025-06-11"),
    ("now()", "2025-06-11T10:30:00+00:00"),
    ("today() > 2025-01-01", True),
    ("birth < 2000-01-01", True),
    ("days(appointment.date - today())", 9),
    ("days(1y)", 365),
    ("2d * 3", Dur(days=6)),
    ("-(2d)", Dur(days=-2)),
    # functions
    ("age(birth)", 45),
    ("age('1980-06-11')", 45),
    ("age('1980-06-12')", 44),
    ("age('2024-02-29')", 1),
    ("year(birth)", 1980),
    ("month(appointment.when)", 6),
    ("day(birth)", 3),
    ("weekday(2025-06-11)", 3),
    ("year(partial)", 1980),
    ("len(name)", 5),
    ("len(slots)", 2),
    ("upper(name)", "MARIO"),
    ("capitalize(name)", "Mario"),
    ("trim('  x ')", "x"),
    ("contains(patient.cf, 'MRA')", True),
    ("contains(allowed, 'b')", True),
    ("startswith(patient.cf, 'RSS')", True),
    ("endswith(name, 'io')", True),
    ("matches(name, '^[a-z]+$')", True),
    ("matches(upper(name), '^[A-Z][a-z]+$')", False),
    ("matches(name, 'ari')", True),  # found anywhere
    ("matches(name, '^ari')", False),
    ("matches(nope, 'x')", False),  # not a string: false, never an error
    ("abs(-3)", 3),
    ("round(2.567, 2)", 2.57),
    ("round(2.5)", 2),
    ("min(3, 1, 2)", 1),
    ("max('a', 'b')", "b"),
    ("str(3.0)", "3"),
    ("str(true) + str(null)", "true"),
    ("int('42')", 42),
    ("int(' -7 ')", -7),
    ("int(3.9)", 3),
    ("number('12,5')", 12.5),
    ("number('1.234,50')", 1234.5),
    ("number('1,234.50')", 1234.5),
    ("number('12')", 12),
    ("coalesce(missing, empty, name)", "mario"),
    ("default(missing, 'cliente')", "cliente"),
    # None-safety and type clashes
    ("missing", None),
    ("missing > 3", False),
    ("missing < 3", False),
    ("missing == null", True),
    ("missing != null", False),
    ("missing + 1", None),
    ("name * 2", None),
    ("1 / 0", None),
    ("1 % 0", None),
    ("true + 1", None),
    ("name < 3", False),
    ("-name", None),
    ("missing in allowed", False),
    ("1 in name", False),
    ("'a' in 5", False),
    ("age(name)", None),
    ("year(missing)", None),
    ("len(3)", None),
    ("int('abc')", None),
    ("round('x')", None),
    ("min(1, 'a')", None),
    ("upper(missing)", None),
    ("nosuchfunction(1)", None),
    ("age(birth, 1)", None),  # wrong arity: the checker reports it, the evaluator shrugs
    ("'2024-02-30' + 1d", None),
    ("9999-12-31 + 1d", None),
    ("name + 1d", None),
]


@pytest.mark.parametrize(("text", "expected"), EVAL_CASES, ids=[c[0] for c in EVAL_CASES])
def test_evaluate(text: str, expected: Any) -> None:
    got = run(text)
    assert got == expected
    assert type(got) is type(expected)


def test_age_around_the_birthday() -> None:
    e = parse_expr("age(birth)")
    at = datetime(2025, 3, 2, 23, 59, tzinfo=UTC)
    assert evaluate(e, {"birth": "1980-03-03"}, at) == 44
    assert evaluate(e, {"birth": "1980-03-03"}, at.replace(day=3, hour=0, minute=0)) == 45
    assert evaluate(e, {"birth": "1980-03-03T08:00:00"}, at.replace(day=3)) == 45


def test_time_only_from_now() -> None:
    e = parse_expr("today() + 1d")
    assert evaluate(e, {}, datetime(2024, 2, 28, tzinfo=UTC)) == "2024-02-29"
    assert evaluate(e, {}, datetime(2023, 2, 28, tzinfo=UTC)) == "2023-03-01"


def test_compiled_once_per_expression() -> None:
    e = parse_expr("x + 1")
    f = compile_expr(e)
    assert compile_expr(e) is f
    assert f({"x": 1}, NOW) == 2
    assert compile_expr(e, lang="it") is not f
    other = e.model_copy()  # equal but another object: its own entry
    assert other == e and other is not e
    assert compile_expr(other) is not f


def test_cache_entries_leave_with_their_expression() -> None:
    e = parse_expr("y * 2").model_copy()  # parse_expr keeps its own in a cache of texts
    compile_expr(e)
    key = id(e)
    assert key in ev._CACHE
    del e
    gc.collect()
    assert key not in ev._CACHE


def test_hand_built_and_unknown_nodes_do_not_raise() -> None:
    assert evaluate(Call(fn="upper", args=(Lit(v=1),)), {}, NOW) == "1"
    assert evaluate(Var(path=("a", "b")), {"a": "text"}, NOW) is None
    assert evaluate(Var(path=("a",)), {"a": object}, NOW) is object


class _Hostile:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no")

    def __bool__(self) -> bool:
        raise RuntimeError("no")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("no")

    __hash__ = object.__hash__


_EXPRS = [
    parse_expr(t)
    for t in [
        "x + 1",
        "x - y",
        "x * y / 2 % 3",
        "x == y",
        "x < y",
        "x in y",
        "not x and y or x",
        "-x",
        "x.a.0.b",
        "x is set",
        "age(x) >= 18",
        "len(x) + year(y)",
        "x + 30d",
        "x - 2024-01-01",
        "date(x, 'long')",
        "money(x)",
        "article(x, 'il')",
        "digits(x)",
        "min(x, y)",
        "coalesce(x, y)",
        "round(x, y)",
        "int(x)",
        "number(x)",
        "time(x)",
        "str(x)",
        "x in [1, 'a', null]",
        "contains(x, y)",
        "weekday(x)",
        "days(x)",
    ]
]

_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=12),
        st.sampled_from(["2024-02-29", "1980-03-03", "10:30", "2024-01-01T10:00:00", "12,50"]),
    ),
    lambda ch: st.one_of(
        st.lists(ch, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "0"]), ch, max_size=3)
    ),
    max_leaves=6,
)
_values = st.one_of(
    _json, st.just(_Hostile()), st.builds(Dur, st.integers(), st.integers(), st.integers())
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(x=_values, y=_values)
def test_never_raises_on_any_memory(x: Any, y: Any) -> None:
    memory = {"x": x, "y": y}
    for e in _EXPRS:
        evaluate(e, memory, NOW)
        evaluate(e, memory, NOW, lang="it")
    t = parse_template("{{ x }} {{ y | date }} {{ x | money }} {{ x | digits }} {{ y | upper }}")
    assert isinstance(render(t, memory, NOW, "it"), str)


@settings(max_examples=200)
@given(x=_json, y=_json)
def test_deterministic(x: Any, y: Any) -> None:
    memory = {"x": x, "y": y}
    for e in _EXPRS:
        a = evaluate(e, memory, NOW)
        b = evaluate(e, memory, NOW)
        assert repr(a) == repr(b)


# --------------------------------------------------------------------------------------------
# templates

RENDER_CASES: list[tuple[str, str, str]] = [
    ("Buongiorno {{ name | capitalize }}!", "it", "Buongiorno Mario!"),
    (
        "Lei è nato il {{ birth | date('long') }}, giusto?",
        "it",
        "Lei è nato il 3 marzo 1980, giusto?",
    ),
    ("You were born on {{ birth | date('long') }}.", "en", "You were born on 3 March 1980."),
    ("{{ birth | date }}", "it", "3 marzo 1980"),
    ("{{ birth | date('short') }}", "it", "03/03/1980"),
    ("{{ birth | date('short') }}", "en", "03/03/1980"),
    ("{{ appointment.date | date('weekday') }}", "it", "venerdì 20 giugno 2025"),
    ("{{ appointment.date | date('weekday') }}", "en", "Friday 20 June 2025"),
    ("{{ partial | date }}", "it", "marzo 1980"),
    ("{{ partial }}", "en", "March 1980"),
    ("{{ partial | date('short') }}", "en", "--/03/1980"),
    ("alle {{ appointment.when | time }}", "it", "alle 10:15"),
    ("{{ slots.0.time | time }}", "en", "09:30"),
    ("{{ patient.cf | digits }}", "it", "R S S M R A 8 0 C 0 3 H 5 0 1 U"),
    ("{{ '347 123 45' | digits }}", "it", "3 4 7 1 2 3 4 5"),
    ("{{ mobile | phone }}", "it", "347 123 4567"),
    ("{{ '3471234567' | phone }}", "en", "347 123 4567"),
    ("{{ '0039 06 1234 5678' | phone }}", "it", "06 1234 5678"),
    ("{{ '+390552345678' | phone }}", "it", "055 234 5678"),
    ("{{ '+39800123456' | phone }}", "it", "800 123 456"),
    ("{{ '+441234567890' | phone }}", "en", "+44 1234 567890"),
    ("[{{ missing | phone }}]", "it", "[]"),
    ("{{ mobile | phone | spell }}", "it", "3 4 7, 1 2 3, 4 5 6 7"),
    ("{{ patient.cf | spell(4) }}", "it", "R S S M, R A 8 0, C 0 3 H, 5 0 1 U"),
    ("{{ 'AB 12' | spell }}", "en", "A B, 1 2"),
    ("[{{ 'AB' | spell(0) }}]", "en", "[]"),
    ("{{ amount | money }}", "it", "12,50 euro"),
    ("{{ amount | money }}", "en", "EUR 12.50"),
    ("{{ 1234567.891 | money }}", "it", "1.234.567,89 euro"),
    ("{{ 1234567.891 | money }}", "en", "EUR 1,234,567.89"),
    ("{{ 20 | money }}", "it", "20 euro"),
    ("{{ 0.005 | money('USD') }}", "it", "0,01 USD"),
    ("{{ -3 | money }}", "en", "-EUR 3"),
    ("{{ '12,5' | money }}", "it", "12,50 euro"),
    # the date filter's own output never changes (recorded sessions replay to the same
    # bytes); after an article, the first of the month is "1º" (read "primo")
    ("{{ '2026-03-01' | date }}", "it", "1 marzo 2026"),
    ("{{ '2026-03-01' | date | article('il') }}", "it", "il 1º marzo 2026"),
    ("{{ '2026-03-01' | date('weekday') }}", "en", "Sunday 1 March 2026"),
    ("{{ '2026-03-08' | date | article('il') }}", "it", "l'8 marzo 2026"),
    ("{{ '2026-03-11' | date | article('del') }}", "it", "dell'11 marzo 2026"),
    ("{{ '2026-03-09' | date | article('del') }}", "it", "del 9 marzo 2026"),
    ("{{ '2026-03-01' | date | article('al') }}", "it", "al 1º marzo 2026"),
    ("{{ '2026-08-02' | date('short') | article('dal') }}", "it", "dal 02/08/2026"),
    ("{{ '2026-03-08' | date('short') | article('nel') }}", "it", "nell'08/03/2026"),
    ("{{ 85 | article('sul') }} {{ 11000 | article('il') }}", "it", "sull'85 l'11000"),
    ("{{ 110 | article('il') }} {{ 1 | article('il') }}", "it", "il 110 il 1"),
    (
        "{{ 'ambulatorio' | article('nel') }} {{ 'Umberto' | article('del') }}",
        "it",
        "nell'ambulatorio dell'Umberto",
    ),
    ("[{{ missing | article('il') }}]", "it", "[]"),
    ("{{ name | upper }} {{ name | lower }}", "en", "MARIO mario"),
    ("[{{ missing }}]", "it", "[]"),
    ("[{{ missing | date }}]", "it", "[]"),
    ("[{{ missing | upper }}]", "it", "[]"),
    ("{{ 6 / 2 }} {{ 7 / 2 }} {{ amount }}", "en", "3 3.5 12.5"),
    ("{{ 6 / 2 }} {{ 7 / 2 }} {{ amount }}", "it", "3 3,5 12,5"),
    ("{{ 0.1 + 0.2 }}", "en", "0.3"),
    ("{{ confirmed }}", "it", "sì"),
    ("{{ confirmed }}", "en", "yes"),
    ("{{ allowed }}", "en", "a, b"),
    ("{{ appointment.date - today() }}", "it", "9 giorni"),
    ("{{ 1y + 2m + 1d }}", "it", "1 anno, 2 mesi e 1 giorno"),
    ("{{ 90min }}", "en", "1 hour and 30 minutes"),
    (
        "{{ name | default('cliente') }} / {{ missing | default('cliente') }}",
        "it",
        "mario / cliente",
    ),
    ("Hai {{ age(birth) }} anni", "it", "Hai 45 anni"),
    (r"Scrivi \{{ nome }}", "it", "Scrivi {{ nome }}"),
    ("{{ appointment }}", "it", ""),
]


@pytest.mark.parametrize(
    ("text", "lang", "expected"), RENDER_CASES, ids=[f"{c[1]}:{c[0]}" for c in RENDER_CASES]
)
def test_render(text: str, lang: str, expected: str) -> None:
    assert render(parse_template(text), MEMORY, NOW, lang) == expected


def test_render_is_memoised_per_language() -> None:
    t = parse_template("{{ birth | date }}")
    assert render(t, MEMORY, NOW, "it") == "3 marzo 1980"
    assert render(t, MEMORY, NOW, "en") == "3 March 1980"
    assert render(t, MEMORY, NOW, "it") == "3 marzo 1980"


@pytest.mark.parametrize(
    ("value", "lang", "text"),
    [
        (None, "it", ""),
        (3, "it", "3"),
        (3.0, "it", "3"),
        (-2.50, "it", "-2,5"),
        (1e20, "en", "100000000000000000000"),
        (1.5e-7, "en", "1.5e-07"),
        (float("nan"), "en", ""),
        (False, "it", "no"),
        ("testo", "en", "testo"),
        ([1, None, "a"], "en", "1, , a"),
        ({"x": 1}, "en", ""),
        (object(), "en", ""),
    ],
)
def test_format_value(value: Any, lang: str, text: str) -> None:
    assert format_value(value, lang) == text


# --------------------------------------------------------------------------------------------
# memory paths


def test_get_path() -> None:
    assert get_path(MEMORY, ("slots", "0", "time")) == "09:30"
    assert get_path(MEMORY, ("slots", "-1")) is None
    assert get_path(MEMORY, ("name", "x")) is None
    assert get_path(MEMORY, ()) is MEMORY
    assert get_path({"a": (1, 2)}, ("a", "1")) == 2


def test_set_path_copies_on_write() -> None:
    before = {"patient": {"cf": "X", "tel": "1"}, "other": {"k": 1}}
    after = set_path(before, ("patient", "cf"), "Y")
    assert after == {"patient": {"cf": "Y", "tel": "1"}, "other": {"k": 1}}
    assert before == {"patient": {"cf": "X", "tel": "1"}, "other": {"k": 1}}
    assert after["other"] is before["other"]  # untouched branches are shared
    assert set_path({}, ("a", "b", "c"), 1) == {"a": {"b": {"c": 1}}}
    assert set_path({"a": "text"}, ("a", "b"), 1) == {"a": {"b": 1}}
    with pytest.raises(ValueError, match="empty path"):
        set_path({}, (), 1)


def test_stored_durations_read_back_as_durations() -> None:
    stored = jsonable(Dur(days=9))
    memory = {"wait": stored, "d": "2025-06-01"}
    assert run("wait <= 30d", memory) is True
    assert run("d + wait", memory) == "2025-06-10"
    assert run("wait + 1d", memory) == Dur(days=10)
    assert run("days(wait)", memory) == 9
    assert run("-wait", memory) == Dur(days=-9)
    assert render(parse_template("{{ wait }}"), memory, NOW, "it") == "9 giorni"
    assert run("wait + 1", {"wait": {"days": 1}}) is None


def test_jsonable() -> None:
    assert jsonable([Dur(days=3), {"d": Dur(months=1)}, 1]) == [
        {"days": 3, "months": 0, "seconds": 0},
        {"d": {"days": 0, "months": 1, "seconds": 0}},
        1,
    ]
