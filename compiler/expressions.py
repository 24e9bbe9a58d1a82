"""Expression stage of the compiler: parse (lark, LALR) conditions and prompt templates into
the ``schemas.expressions`` AST, type-check them and fold constants.

lark is used only here, at compile time; the runtime evaluates the AST with
``ddt_engine.expressions``. Every failure of ``parse_expr``/``parse_template`` is an
``ExprSyntaxError`` with a 1-based column, what was expected in words and, where one
helps, a hint.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

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
    Scalar,
    Template,
    TemplatePart,
    TextPart,
    Unary,
    Var,
)
from schemas.functions import FUNCTIONS

__all__ = [
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

MAX_LENGTH = 10_000
"""Longest expression or template accepted, in characters."""
MAX_DEPTH = 100
"""Deepest nesting of sub-expressions accepted."""

_INT_MAX = 2**63 - 1  # JSON numbers must stay 64-bit (orjson, MongoDB)

# ---------------------------------------------------------------------------------------------
# errors


class ExprSyntaxError(Exception):
    """A syntax error in an expression or template.

    ``col`` is the 1-based offset of the error in ``text`` (the whole template for
    templates); ``expected`` lists what would have been accepted there, in words.
    """

    def __init__(
        self,
        message: str,
        col: int,
        *,
        expected: Sequence[str] = (),
        hint: str | None = None,
        text: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.expected = list(expected)
        self.hint = hint
        self.text = text

    def __str__(self) -> str:
        return f"{self.message} (column {self.col})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_error,
            (self.message, self.col, tuple(self.expected), self.hint, self.text),
        )

    def caret(self) -> str:
        """The line of ``text`` holding the error and a caret under its column."""
        return draw_caret(self.text, self.col)

    def render(self) -> str:
        """Message, caret drawing and hint, as a user should see them."""
        out = [str(self)]
        if self.text:
            out.append(self.caret())
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)


def _rebuild_error(
    message: str, col: int, expected: Sequence[str], hint: str | None, text: str
) -> ExprSyntaxError:
    return ExprSyntaxError(message, col, expected=expected, hint=hint, text=text)


def draw_caret(text: str, col: int, *, indent: str = "  ", span: int = 60) -> str:
    """Draw the line of ``text`` that holds 1-based offset ``col``, then a caret under it.
    Long lines are cut to ``span`` characters around the column."""
    pos = max(0, min(col - 1, len(text)))
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    if end < 0:
        end = len(text)
    line = text[start:end]
    at = pos - start
    if len(line) > span:
        lo = max(0, min(at - span // 2, len(line) - span))
        line, at = line[lo : lo + span], at - lo
    pad = "".join("\t" if ch == "\t" else " " for ch in line[:at])
    return f"{indent}{line}\n{indent}{pad}^"


@dataclass
class TypeIssue:
    """A type problem in an expression; ``col`` is 1-based (1 when the node has no
    recorded position, e.g. an AST built by hand)."""

    message: str
    hint: str | None = None
    col: int = 1


# ---------------------------------------------------------------------------------------------
# positions of nodes, kept beside the AST (the AST itself is position-free so that compiled
# programs do not change when a designer only moves spaces around)


class _Ref(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("key",)
    key: int


def _drop(ref: _Ref) -> None:
    _POS.pop(ref.key, None)


# id(node) -> (column, weak reference whose callback drops the entry with the node)
_POS: dict[int, tuple[int, _Ref]] = {}


def _at(node: Expr, col: int) -> Expr:
    key = id(node)
    entry = _POS.get(key)
    if entry is not None and entry[1]() is node:
        _POS[key] = (col, entry[1])
    else:
        ref = _Ref(node, _drop)
        ref.key = key
        _POS[key] = (col, ref)
    return node


def _col(node: Expr) -> int | None:
    entry = _POS.get(id(node))
    return entry[0] if entry is not None and entry[1]() is node else None


def expr_col(node: Expr) -> int | None:
    """The 1-based column where the parser found ``node`` (its operator for operations),
    or None for a node the parser did not make."""
    return _col(node)


# ---------------------------------------------------------------------------------------------
# parser


@cache
def _lark() -> Lark:
    grammar = Path(__file__).with_name("expressions.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        start=["start_expr", "start_tpl"],
        maybe_placeholders=True,
    )


_VALUE_TERMS = {"NAME", "INT", "FLOAT", "STRING", "DATE", "DURATION", "LPAR", "LSQB"}
_OP_TERMS = {
    "AND", "OR", "NOT", "IN", "IS", "EQ", "NE", "LT", "LE", "GT", "GE",
    "PLUS", "MINUS", "STAR", "SLASH", "PERCENT",
}  # fmt: skip
_WORDS = {
    "RPAR": "')'",
    "RSQB": "']'",
    "COMMA": "','",
    "SET": "'set'",
    "NOT": "'not'",
    "IS": "'is'",
    "VBAR": "'|'",
    "IN": "'in'",
    "LPAR": "'('",
    "DOT": "'.'",
    "NAME": "a name",
}
_ORDER = ["a value", "an operator", "')'", "']'", "','", "'set'", "'in'", "a name", "'|'"]


def _expected_words(terms: Iterable[str], *, end: str) -> list[str]:
    terms = set(terms)
    words: list[str] = []
    if terms & _VALUE_TERMS and {"NAME", "INT"} <= terms:
        words.append("a value")
        terms -= _VALUE_TERMS | {"MINUS", "PLUS", "NOT"}
    closers = terms & {"RPAR", "RSQB", "COMMA"}
    ops = terms & _OP_TERMS
    if len(ops) >= 4:
        if not closers:
            words.append("an operator")
        terms -= _OP_TERMS | {"DOT", "LPAR"}
    for t in sorted(terms):
        if t == "$END":
            continue
        w = _WORDS.get(t, t.lower())
        if w not in words:
            words.append(w)
    words.sort(key=lambda w: _ORDER.index(w) if w in _ORDER else len(_ORDER))
    if "$END" in terms:
        words.append(end)
    return words


def _join(words: Sequence[str]) -> str:
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


_UNITS = {
    "day": "d", "days": "d", "giorno": "d", "giorni": "d", "gg": "d",
    "week": "w", "weeks": "w", "settimana": "w", "settimane": "w",
    "month": "m", "months": "m", "mese": "m", "mesi": "m",
    "year": "y", "years": "y", "anno": "y", "anni": "y",
    "hour": "h", "hours": "h", "ora": "h", "ore": "h",
    "minute": "min", "minutes": "min", "minuto": "min", "minuti": "min",
    "second": "s", "seconds": "s", "secondo": "s", "secondi": "s",
}  # fmt: skip
_WORD_OPS = {"AND": "and", "OR": "or", "NOT": "not", "IN": "in", "IS": "is", "SET": "set",
             "e": "and", "o": "or", "non": "not", "TRUE": "true", "FALSE": "false",
             "NULL": "null"}  # fmt: skip


_STRAIGHT = "straight quotes \" or '"
_LOOKALIKES = {
    "≥": "'>='", "≤": "'<='", "≠": "'!='", "×": "'*'", "÷": "'/'", "–": "'-'", "—": "'-'",
    "“": _STRAIGHT, "”": _STRAIGHT, "‘": _STRAIGHT, "’": _STRAIGHT,
}  # fmt: skip


def ascii_name_hint(name: str, known: Iterable[str] = ()) -> str | None:
    """The hint for a name with a letter outside ASCII (``età``, ``città``), or None.

    Names (variables, their fields, functions, filters) are ASCII letters, digits and ``_``:
    the accented letter is the likely mistake, and its unaccented spelling the fix (or the
    ``known`` name closest to that spelling)."""
    if name.isascii():
        return None
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    hint = "names are ASCII letters, digits and '_' (no accented letters)"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", plain):
        return hint
    pool = sorted(k for k in set(known) if k.isascii())
    if pool and plain not in pool:
        close = difflib.get_close_matches(plain, pool, n=1, cutoff=0.6)
        if close:
            return f"{hint}: did you mean '{close[0]}'?"
    return f"{hint}: write '{plain}' for '{name}'"


def _word_at(text: str, pos: int) -> str:
    """The name-like word (letters of any script, accents, digits, '_') at ``text[pos]``."""

    def part(ch: str) -> bool:
        return ch.isalnum() or ch == "_" or unicodedata.category(ch) == "Mn"

    start, end = pos, pos
    while start > 0 and part(text[start - 1]):
        start -= 1
    while end < len(text) and part(text[end]):
        end += 1
    return text[start:end]


def _open_bracket(text: str, upto: int) -> tuple[str, int] | None:
    """The innermost bracket still open before ``upto`` (skipping strings)."""
    stack: list[tuple[str, int]] = []
    quote = ""
    i = 0
    while i < upto:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            stack.append((ch, i))
        elif ch in ")]" and stack:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


def _syntax_error(
    e: UnexpectedInput, accepts: set[str], text: str, offset: int, full: str, template: bool
) -> ExprSyntaxError:
    end_word = "'}}'" if template else "the end of the expression"
    if accepts == {"NAME", "INT"}:
        expected = ["a field name"]
    elif accepts == {"NAME"} and template:
        expected = ["a filter name"]
    else:
        expected = _expected_words(accepts, end=end_word)
    hint: str | None = None
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream or 0
        ch = text[pos]
        two = text[pos : pos + 2]
        if ch in "\"'":
            return ExprSyntaxError(
                "unclosed string",
                offset + pos + 1,
                expected=[f"the closing {ch}"],
                hint=f"add the closing {ch} at the end of the text",
                text=full,
            )
        what = f"unexpected character {ch!r}" if ch.isprintable() else "unexpected character"
        if two == "&&" or ch == "&":
            hint = "write 'and' to join two conditions"
        elif ch == "=" and text[pos + 1 : pos + 2] in ("<", ">"):
            hint = "write '<=' or '>='"
        elif ch == "=":
            hint = "write '==' to compare two values"
        elif ch == "!":
            hint = "write 'not' to negate a condition, '!=' for 'is different from'"
        elif ch == "{" or ch == "}":
            hint = (
                "'{{' … '}}' belongs in prompt templates; a condition is written without it"
                if not template
                else "a '{{ … }}' cannot hold another one"
            )
        elif ch == "^":
            hint = "there is no power operator; multiply instead"
        elif ch in _LOOKALIKES:
            hint = f"write {_LOOKALIKES[ch]}"
        elif not ch.isascii() and (ch.isalnum() or unicodedata.category(ch) == "Mn"):
            hint = ascii_name_hint(_word_at(text, pos))
        return ExprSyntaxError(
            f"{what}, expected {_join(expected)}",
            offset + pos + 1,
            expected=expected,
            hint=hint,
            text=full,
        )
    if not isinstance(e, UnexpectedToken):  # pragma: no cover - LALR reports tokens
        return ExprSyntaxError(
            f"unexpected end of the expression, expected {_join(expected)}",
            offset + len(text) + 1,
            expected=expected,
            text=full,
        )
    tok = e.token
    if tok.type == "$END":
        opened = _open_bracket(text, len(text))
        if opened is not None:
            closer = ")" if opened[0] == "(" else "]"
            hint = (
                f"the {opened[0]!r} at column {offset + opened[1] + 1} is not closed by {closer!r}"
            )
        if not text.strip():
            return ExprSyntaxError(
                "empty expression", offset + 1, expected=expected, hint=hint, text=full
            )
        if template:
            what, col = "'}}'", len(text) + 1
        else:
            what, col = "end of the expression", len(text.rstrip()) + 1
        return ExprSyntaxError(
            f"unexpected {what}, expected {_join(expected)}",
            offset + col,
            expected=expected,
            hint=hint,
            text=full,
        )
    pos = tok.start_pos or 0
    value = str(tok.value)
    prev = text[:pos].rstrip()
    if tok.type == "NAME" and value in _WORD_OPS:
        hint = f"write '{_WORD_OPS[value]}'" + (
            " in lower case" if value.lower() == _WORD_OPS[value] else ""
        )
    elif tok.type == "NAME" and value.lower() in _UNITS and re.search(r"\d$", prev):
        num = re.search(r"(\d+)$", prev)
        hint = (
            f"write a duration with no space: "
            f"{num.group(1) if num else '30'}{_UNITS[value.lower()]} "
            "(units d, w, m = months, y, h, min, s)"
        )
    elif tok.type == "VBAR" and text[pos : pos + 2] == "||":
        hint = "write 'or' to join two alternatives"
    elif tok.type == "VBAR" and not template:
        hint = "filters ('x | upper') are only for '{{ … }}' in prompt templates"
    elif tok.type == "LPAR" and re.search(r"\.\s*[A-Za-z_]\w*$", prev):
        hint = "call a function as f(x): there are no methods such as x.f()"
    elif tok.type == "GT" and prev.endswith("<"):
        hint = "write '!=' for 'is different from'"
    elif tok.type in ("EQ", "LT", "GT", "LE", "GE", "NE") and prev and prev[-1] in "=<>!":
        hint = "write a single comparison operator: == != < <= > >="
    elif tok.type == "SET":
        hint = "'is set' tests a variable: 'x is set', 'x is not set'"
    elif re.search(r"(^|\W)is(\s+not)?$", prev):
        hint = "write 'x is set', 'x is not set' or 'x == null'"
    shown = value if len(value) <= 20 else value[:17] + "..."
    return ExprSyntaxError(
        f"unexpected {shown!r}, expected {_join(expected)}",
        offset + pos + 1,
        expected=expected,
        hint=hint,
        text=full,
    )


def _parse_tree(text: str, start: str, offset: int, full: str) -> Tree[Token]:
    try:
        return _lark().parse(text, start=start)
    except UnexpectedInput:
        pass  # parse again step by step, to know exactly what was acceptable where it failed
    template = start == "start_tpl"
    ip = _lark().parse_interactive(text, start=start)
    try:
        for _ in ip.iter_parse():
            pass
        return cast(Tree[Token], ip.feed_eof())  # type: ignore[no-untyped-call]
    except UnexpectedInput as e:
        failed = getattr(e, "interactive_parser", None) or ip
        try:
            accepts = set(failed.accepts())
        except Exception:  # noqa: BLE001 - fall back to what lark reported
            accepts = set(getattr(e, "expected", None) or getattr(e, "allowed", None) or ())
        raise _syntax_error(e, accepts, text, offset, full, template) from None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/", "{": "{"}


class _Builder:
    """Turns a lark tree into the AST, recording each node's column."""

    def __init__(self, text: str, offset: int, full: str) -> None:
        self.text = text
        self.offset = offset
        self.full = full

    def col(self, tok: Token) -> int:
        return self.offset + (tok.start_pos or 0) + 1

    def err(self, msg: str, tok: Token, hint: str | None = None) -> ExprSyntaxError:
        return ExprSyntaxError(msg, self.col(tok), hint=hint, text=self.full)

    def build(self, node: Tree[Token] | Token, depth: int = 0) -> Expr:
        if depth > MAX_DEPTH:
            tok = _first_token(node)
            raise ExprSyntaxError(
                f"expression nested too deeply (more than {MAX_DEPTH} levels)",
                self.col(tok) if tok is not None else self.offset + 1,
                hint="split it over several conditions or variables",
                text=self.full,
            )
        if isinstance(node, Token):  # pragma: no cover - the grammar wraps every token
            raise self.err(f"unexpected {node.value!r}", node)
        kind = str(node.data)
        ch = [c for c in node.children if c is not None]
        d = depth + 1
        if kind in ("start_expr", "paren"):
            inner = [c for c in ch if isinstance(c, Tree)]
            return self.build(inner[0], d)
        if kind in ("or_test", "and_test", "sum", "term"):
            left = self.build(ch[0], d)
            for i in range(1, len(ch), 2):
                op_node = ch[i]
                op_tok = op_node if isinstance(op_node, Token) else op_node.children[0]
                assert isinstance(op_tok, Token)
                right = self.build(ch[i + 1], d)
                left = _at(
                    Binary(op=cast(BinOp, str(op_tok.value)), a=left, b=right), self.col(op_tok)
                )
            return left
        if kind == "comparison":
            operands = [self.build(c, d) for c in ch[0::2]]
            result: Expr | None = None
            for i, op_node in enumerate(ch[1::2]):
                assert isinstance(op_node, Tree)
                toks = [t for t in op_node.children if isinstance(t, Token)]
                col = self.col(toks[0])
                cmp: Expr
                if len(toks) == 2:  # not in
                    cmp = _at(Binary(op="in", a=operands[i], b=operands[i + 1]), self.col(toks[1]))
                    cmp = _at(Unary(op="not", a=cmp), col)
                else:
                    op = cast(BinOp, str(toks[0].value))
                    cmp = _at(Binary(op=op, a=operands[i], b=operands[i + 1]), col)
                result = cmp if result is None else _at(Binary(op="and", a=result, b=cmp), col)
            assert result is not None
            return result
        if kind == "isset":
            target = self.build(ch[0], d)
            is_tok = ch[1]
            assert isinstance(is_tok, Token)
            negate = len(ch) == 4
            if not isinstance(target, Var):
                raise self.err(
                    "only a variable can be tested with 'is set'",
                    is_tok,
                    hint="write 'x is set' where x is a variable name",
                )
            return _at(IsSet(path=target.path, negate=negate), self.col(is_tok))
        if kind in ("not_", "neg", "pos"):
            op_tok = ch[0]
            assert isinstance(op_tok, Token)
            operand = self.build(ch[1], d)
            if kind == "pos":
                return operand
            return _at(Unary(op="not" if kind == "not_" else "neg", a=operand), self.col(op_tok))
        if kind in ("int_", "float_", "string", "date", "duration"):
            lit_tok = ch[0]
            assert isinstance(lit_tok, Token)
            return _at(self.literal(kind, lit_tok), self.col(lit_tok))
        if kind == "var":
            toks = [t for t in ch if isinstance(t, Token) and t.type != "DOT"]
            path = tuple(str(t.value) for t in toks)
            if len(path) == 1 and path[0] in _CONSTANTS:
                return _at(Lit(v=_CONSTANTS[path[0]]), self.col(toks[0]))
            if path[0] in _CONSTANTS:
                raise self.err(f"{path[0]!r} has no fields", toks[0])
            return _at(Var(path=path), self.col(toks[0]))
        if kind == "call":
            name_tok = ch[0]
            assert isinstance(name_tok, Token)
            args = self.args(ch, d)
            return _at(Call(fn=str(name_tok.value), args=args), self.col(name_tok))
        if kind == "list_":
            open_tok = ch[0]
            assert isinstance(open_tok, Token)
            return _at(ListLit(items=self.args(ch, d)), self.col(open_tok))
        raise ExprSyntaxError(  # pragma: no cover - every rule is handled above
            f"unsupported construct {kind!r}", self.offset + 1, text=self.full
        )

    def args(self, ch: Sequence[Tree[Token] | Token], depth: int) -> tuple[Expr, ...]:
        for c in ch:
            if isinstance(c, Tree) and c.data == "args":
                return tuple(self.build(a, depth) for a in c.children if isinstance(a, Tree))
        return ()

    def literal(self, kind: str, tok: Token) -> Expr:
        s = str(tok.value)
        if kind == "int_":
            if len(s) > 19 or int(s) > _INT_MAX:
                raise self.err("number too large", tok, hint=f"integers go up to {_INT_MAX}")
            return Lit(v=int(s))
        if kind == "float_":
            v = float(s)
            if not math.isfinite(v):
                raise self.err("number too large", tok)
            return Lit(v=v)
        if kind == "string":
            return Lit(v=self.unescape(s, tok))
        if kind == "date":
            try:
                date.fromisoformat(s)
            except ValueError as e:
                raise self.err(
                    f"invalid date {s!r}: {e}", tok, hint="dates are written YYYY-MM-DD"
                ) from None
            return DateLit(v=s)
        m = re.fullmatch(r"(\d+)(min|d|w|m|y|h|s)", s)
        assert m is not None
        n = int(m.group(1)) if len(m.group(1)) <= 12 else _INT_MAX
        if n > 1_000_000:
            raise self.err("duration too large", tok, hint="at most 1000000 of a unit")
        unit = m.group(2)
        days = n if unit == "d" else n * 7 if unit == "w" else 0
        months = n if unit == "m" else n * 12 if unit == "y" else 0
        seconds = {"h": 3600, "min": 60, "s": 1}.get(unit, 0) * n
        return Duration(days=days, months=months, seconds=seconds)

    def unescape(self, s: str, tok: Token) -> str:
        body = s[1:-1]
        if "\\" not in body:
            return body
        out: list[str] = []
        i = 0
        while i < len(body):
            c = body[i]
            if c != "\\":
                out.append(c)
                i += 1
                continue
            nxt = body[i + 1 : i + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
            else:
                raise ExprSyntaxError(
                    f"unknown escape '\\{nxt}' in a string",
                    self.col(tok) + 1 + i,
                    hint="escapes are \\n \\t \\\\ \\\" \\' \\uXXXX; write '\\\\' for a backslash",
                    text=self.full,
                )
        return "".join(out)


_CONSTANTS: dict[str, Scalar] = {
    "true": True, "True": True, "false": False, "False": False, "null": None, "None": None,
}  # fmt: skip


def _first_token(node: Tree[Token] | Token) -> Token | None:
    if isinstance(node, Token):
        return node
    for c in node.children:
        if c is not None:
            found = _first_token(c)
            if found is not None:
                return found
    return None


def _check_depth(expr: Expr, offset: int, full: str) -> Expr:
    """Chains such as ``1 + 1 + …`` are built in a loop; their depth is checked here."""
    stack: list[tuple[Expr, int]] = [(expr, 1)]
    while stack:
        e, d = stack.pop()
        if d > MAX_DEPTH:
            raise ExprSyntaxError(
                f"expression nested too deeply (more than {MAX_DEPTH} levels)",
                _col(e) or offset + 1,
                hint="split it over several conditions or variables",
                text=full,
            )
        if isinstance(e, Unary):
            stack.append((e.a, d + 1))
        elif isinstance(e, Binary):
            stack.extend(((e.a, d + 1), (e.b, d + 1)))
        elif isinstance(e, Call):
            stack.extend((a, d + 1) for a in e.args)
        elif isinstance(e, ListLit):
            stack.extend((a, d + 1) for a in e.items)
    return expr


def _parse(text: str, *, start: str, offset: int, full: str) -> Expr:
    tree = _parse_tree(text, start, offset, full)
    b = _Builder(text, offset, full)
    try:
        if start == "start_expr":
            return _check_depth(b.build(tree), offset, full)
        value = b.build(tree.children[0])
        for f in tree.children[1:]:
            assert isinstance(f, Tree)
            toks = [t for t in f.children if isinstance(t, Token)]
            name_tok = toks[1]
            args = b.args(f.children, 1)
            value = _at(Call(fn=str(name_tok.value), args=(value, *args)), b.col(name_tok))
        return _check_depth(value, offset, full)
    except ExprSyntaxError:
        raise
    except RecursionError:
        raise ExprSyntaxError("expression nested too deeply", offset + 1, text=full) from None


def _check_length(text: str) -> None:
    if len(text) > MAX_LENGTH:
        raise ExprSyntaxError(
            f"text too long ({len(text)} characters, at most {MAX_LENGTH})",
            MAX_LENGTH + 1,
            hint="move long texts into several prompts",
            text=text,
        )


_CACHE_SIZE = 4096


def parse_expr(text: str) -> Expr:
    """Parse one expression (a condition, a validation rule, an assignment's value).

    Raises ExprSyntaxError, and nothing else, whatever ``text`` is. The same text gives
    the same (immutable) object while it stays in a cache of recent texts."""
    if not isinstance(text, str):
        raise ExprSyntaxError(f"expected an expression as text, got {type(text).__name__}", 1)
    try:
        return _parse_expr_cached(text)
    except ExprSyntaxError:
        raise
    except Exception as e:  # noqa: BLE001 - a bug of ours must still read as a clear error
        raise ExprSyntaxError(f"invalid expression ({type(e).__name__})", 1, text=text) from None


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_expr_cached(text: str) -> Expr:
    _check_length(text)
    return _parse(text, start="start_expr", offset=0, full=text)


def _find_close(text: str, start: int) -> int:
    """Index of the ``}}`` closing a slot opened before ``start``, skipping quoted strings;
    -1 if none."""
    quote = ""
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote or ch == "\n":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "}" and text.startswith("}}", i):
            return i
        i += 1
    return -1


def parse_template(text: str) -> Template:
    """Parse a prompt template: literal text with ``{{ expression }}`` slots, each slot
    optionally piped through filters (``{{ birth | date("long") }}``). Write ``\\{{`` for a
    literal ``{{``. Raises ExprSyntaxError, and nothing else."""
    if not isinstance(text, str):
        raise ExprSyntaxError(f"expected a template as text, got {type(text).__name__}", 1)
    try:
        return _parse_template_cached(text)
    except ExprSyntaxError:
        raise
    except Exception as e:  # noqa: BLE001 - a bug of ours must still read as a clear error
        raise ExprSyntaxError(f"invalid template ({type(e).__name__})", 1, text=text) from None


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_template_cached(text: str) -> Template:
    _check_length(text)
    parts: list[TemplatePart] = []
    buf: list[str] = []
    i = 0
    n = len(text)
    try:
        while i < n:
            if text.startswith("\\{{", i):
                buf.append("{{")
                i += 3
                continue
            if not text.startswith("{{", i):
                buf.append(text[i])
                i += 1
                continue
            close = _find_close(text, i + 2)
            if close < 0:
                naive = text.find("}}", i + 2)
                if naive >= 0:  # a quote inside is not closed: let the parser say where
                    close = naive
                else:
                    raise ExprSyntaxError(
                        "unclosed '{{'",
                        i + 1,
                        expected=["'}}'"],
                        hint="close it with '}}', or write '\\{{' for a literal '{{'",
                        text=text,
                    )
            inner = text[i + 2 : close]
            if not inner.strip():
                raise ExprSyntaxError(
                    "empty '{{ }}'",
                    i + 1,
                    expected=["a value"],
                    hint="put a variable inside, e.g. '{{ name }}'",
                    text=text,
                )
            expr = _parse(inner, start="start_tpl", offset=i + 2, full=text)
            if buf:
                parts.append(TextPart(text="".join(buf)))
                buf = []
            parts.append(ExprPart(expr=expr))
            i = close + 2
    except RecursionError:  # pragma: no cover - depth is limited before this can happen
        raise ExprSyntaxError("template nested too deeply", 1, text=text) from None
    if buf:
        parts.append(TextPart(text="".join(buf)))
    return Template(parts=tuple(parts))


# ---------------------------------------------------------------------------------------------
# variables read


def expr_vars(expr: Expr) -> set[str]:
    """Dotted paths of the variables an expression reads (``x is set`` included)."""
    out: set[str] = set()
    stack: list[Expr] = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Var | IsSet):
            out.add(".".join(e.path))
        elif isinstance(e, Unary):
            stack.append(e.a)
        elif isinstance(e, Binary):
            stack.extend((e.a, e.b))
        elif isinstance(e, Call):
            stack.extend(e.args)
        elif isinstance(e, ListLit):
            stack.extend(e.items)
    return out


def template_vars(template: Template) -> set[str]:
    """Dotted paths of the variables a template reads."""
    out: set[str] = set()
    for p in template.parts:
        if isinstance(p, ExprPart):
            out |= expr_vars(p.expr)
    return out


# ---------------------------------------------------------------------------------------------
# type checking

_NUMERIC = {"integer", "number"}
_A = {
    "string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
    "date": "a date", "time": "a time", "datetime": "a datetime", "duration": "a duration",
    "list": "a list", "object": "an object", "any": "a value", "null": "null",
}  # fmt: skip


def _a(t: str) -> str:
    return _A.get(t, f"a {t}")


def _lit_type(v: Scalar) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return "string"


def _accepts(spec: str, t: str) -> bool:
    allowed = set(spec.split("|"))
    if "any" in allowed or t in ("any", "null") or t in allowed:
        return True
    if t == "integer" and "number" in allowed:
        return True
    return t == "time" and "string" in allowed


def _comparable(a: str, b: str) -> bool:
    if "any" in (a, b) or "null" in (a, b) or a == b:
        return True
    if {a, b} <= _NUMERIC:
        return True
    return {a, b} in ({"time", "string"}, {"date", "datetime"})


@dataclass
class _Checker:
    scopes: dict[str, str]
    issues: list[TypeIssue] = field(default_factory=list)

    def issue(self, node: Expr, message: str, hint: str | None = None) -> None:
        self.issues.append(TypeIssue(message, hint, _col(node) or 1))

    def var_type(self, node: Expr, path: tuple[str, ...]) -> str:
        name = ".".join(path)
        if name in self.scopes:
            return self.scopes[name]
        prefix = name + "."
        if any(k.startswith(prefix) for k in self.scopes):
            return "object"
        for i in range(len(path) - 1, 0, -1):
            head = ".".join(path[:i])
            t = self.scopes.get(head)
            if t is None:
                continue
            if t in ("object", "any", "list"):
                return "any"
            if t in ("date", "datetime") and len(path) == i + 1:
                if path[i] in ("day", "month", "year"):
                    return "integer"
            self.issue(node, f"{head!r} is {_a(t)}, it has no field {path[i]!r}")
            return "any"
        names = set(self.scopes)
        for k in self.scopes:
            parts = k.split(".")
            names.update(".".join(parts[:j]) for j in range(1, len(parts)))
        close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
        self.issue(
            node,
            f"unknown variable {name!r}",
            f"did you mean {close[0]!r}?" if close else "declare it under 'variables'",
        )
        return "any"

    def check(self, e: Expr) -> str:
        if isinstance(e, Lit):
            return _lit_type(e.v)
        if isinstance(e, DateLit):
            return "date"
        if isinstance(e, Duration):
            return "duration"
        if isinstance(e, Var):
            return self.var_type(e, e.path)
        if isinstance(e, IsSet):
            self.var_type(e, e.path)
            return "boolean"
        if isinstance(e, ListLit):
            for item in e.items:
                self.check(item)
            return "list"
        if isinstance(e, Unary):
            t = self.check(e.a)
            if e.op == "not":
                if t not in ("boolean", "any", "null"):
                    self.issue(
                        e,
                        f"'not' expects a condition, got {_a(t)}",
                        "test it instead, e.g. 'x is not set' or 'x == \"\"'",
                    )
                return "boolean"
            if t in _NUMERIC or t in ("duration", "any"):
                return t
            self.issue(e, f"cannot negate {_a(t)}")
            return "any"
        if isinstance(e, Binary):
            return self.binary(e)
        assert isinstance(e, Call)
        return self.call(e)

    def binary(self, e: Binary) -> str:
        a = self.check(e.a)
        b = self.check(e.b)
        op = e.op
        if op in ("and", "or"):
            for t in (a, b):
                if t not in ("boolean", "any"):
                    self.issue(
                        e,
                        f"'{op}' expects conditions on both sides, got {_a(t)}",
                        "compare the value, e.g. 'x is set' or 'x != \"\"'",
                    )
                    break
            return "boolean"
        if op in ("==", "!=", "<", "<=", ">", ">="):
            if {a, b} == {"date", "string"}:
                self.issue(
                    e,
                    f"'{op}' compares {_a(a)} with {_a(b)}",
                    "write a date without quotes: 2024-03-01",
                )
            elif not _comparable(a, b):
                self.issue(
                    e,
                    f"'{op}' compares {_a(a)} with {_a(b)}",
                    f"the result is always {'true' if op == '!=' else 'false'}",
                )
            elif op not in ("==", "!=") and (
                "null" in (a, b)
                or a in ("boolean", "list", "object")
                or b in ("boolean", "list", "object")
            ):
                bad = a if a in ("null", "boolean", "list", "object") else b
                self.issue(e, f"'{op}' cannot order {_a(bad)}", "the result is always false")
            return "boolean"
        if op == "in":
            if b not in ("list", "string", "object", "any"):
                self.issue(
                    e,
                    f"'in' needs a list or a string on the right, got {_a(b)}",
                    "write a list literal such as [1, 2, 3]",
                )
            elif b == "string" and a not in ("string", "any"):
                self.issue(e, f"'in' on a string needs a string on the left, got {_a(a)}")
            return "boolean"
        if "boolean" in (a, b):
            self.issue(e, f"arithmetic '{op}' on a boolean", "use 'and'/'or' to combine conditions")
            return "any"
        result = _arith(op, a, b)
        if result is None:
            self.issue(e, f"cannot apply '{op}' to {_a(a)} and {_a(b)}")
            return "any"
        return result

    def call(self, e: Call) -> str:
        arg_types = [self.check(x) for x in e.args]
        sig = FUNCTIONS.get(e.fn)
        if sig is None:
            close = difflib.get_close_matches(e.fn, sorted(FUNCTIONS), n=1, cutoff=0.6)
            self.issue(
                e,
                f"unknown function or filter {e.fn!r}",
                f"did you mean {close[0]!r}?" if close else "see the function table in the docs",
            )
            return "any"
        n = len(e.args)
        lo, hi = sig.min_args, sig.max_args
        if n < lo or (hi is not None and n > hi):
            if hi is None:
                want = f"at least {lo}"
            elif lo == hi:
                want = str(lo)
            else:
                want = f"{lo} to {hi}"
            self.issue(
                e,
                f"{e.fn}() takes {want} argument{'s' if want != '1' else ''}, got {n}",
                f"for example: {sig.example}" if sig.example else None,
            )
            return sig.result if sig.result != "same" else "any"
        for i, (arg, t) in enumerate(zip(e.args, arg_types, strict=True)):
            p = sig.params[min(i, len(sig.params) - 1)]
            if not _accepts(p.type, t):
                self.issue(
                    arg if _col(arg) is not None else e,
                    f"{e.fn}() expects {' or '.join(_a(x) for x in p.type.split('|'))} "
                    f"for {p.name!r}, got {_a(t)}",
                )
            elif p.choices and isinstance(arg, Lit) and arg.v not in p.choices:
                self.issue(
                    arg if _col(arg) is not None else e,
                    f"{e.fn}() {p.name} must be one of "
                    + ", ".join(repr(c) for c in p.choices)
                    + f", got {arg.v!r}",
                )
        if e.fn == "matches":
            wrong = _pattern_issue(e)
            if wrong is not None:
                self.issue(*wrong)
        if sig.result != "same":
            return sig.result
        known = [t for t in arg_types if t not in ("null", "any")]
        if not known:
            return "any"
        if all(t in _NUMERIC for t in known):
            return "integer" if all(t == "integer" for t in known) else "number"
        return known[0] if all(t == known[0] for t in known) else "any"


def _pattern_issue(e: Call) -> tuple[Expr, str, str | None] | None:
    """What is wrong with the pattern of ``matches(s, pattern)``: it must be a string written
    in the expression (compiled once, with the project) and a valid regular expression."""
    pat = e.args[1]
    if not (isinstance(pat, Lit) and isinstance(pat.v, str)):
        return (
            pat if _col(pat) is not None else e,
            "matches() takes its pattern as a string written in the expression",
            'for example: matches(value, "^[0-9]+$")',
        )
    try:
        re.compile(pat.v)
    except re.error as exc:
        return (
            pat if _col(pat) is not None else e,
            f"matches() pattern is not a valid regular expression: {exc}",
            "Python's re syntax; a backslash is written twice inside a string (\\\\d)",
        )
    return None


def _arith(op: str, a: str, b: str) -> str | None:
    if a in _NUMERIC and b in _NUMERIC:
        if op == "/":
            return "number"
        return "integer" if a == b == "integer" else "number"
    if "any" in (a, b):
        other = b if a == "any" else a
        if op == "-" and other in ("date", "datetime") and a == other:
            return "duration"
        return "any"
    if op == "+":
        if a == b and a in ("string", "list", "duration"):
            return a
        if a in ("date", "datetime", "time") and b == "duration":
            return a
        if b in ("date", "datetime", "time") and a == "duration":
            return b
        return None
    if op == "-":
        if a in ("date", "datetime", "time") and b == "duration":
            return a
        if a == b and a in ("date", "datetime", "duration"):
            return "duration"
        return None
    if op == "*" and {a, b} in ({"duration", "integer"},):
        return "duration"
    return None


def check_expr(
    expr: Expr, var_types: Mapping[str, str], *, locals: Mapping[str, str] | None = None
) -> tuple[str, list[TypeIssue]]:
    """Infer the type of ``expr`` and list its problems.

    ``var_types`` maps declared dotted variable names to types; ``locals`` adds names bound
    by the context (``value`` in validation rules). A prefix of a declared name is an
    object; a path under an ``object``, ``any`` or ``list`` variable is ``any``."""
    scopes = dict(var_types)
    scopes.update(locals or {})
    checker = _Checker(scopes)
    try:
        result = checker.check(expr)
    except RecursionError:  # pragma: no cover - parse_expr limits nesting
        checker.issues.append(TypeIssue("expression nested too deeply", None, 1))
        result = "any"
    return result, checker.issues


def check_template(
    template: Template, var_types: Mapping[str, str], *, locals: Mapping[str, str] | None = None
) -> list[TypeIssue]:
    """Type-check every slot of a template."""
    issues: list[TypeIssue] = []
    for p in template.parts:
        if isinstance(p, ExprPart):
            issues.extend(check_expr(p.expr, var_types, locals=locals)[1])
    return issues


# ---------------------------------------------------------------------------------------------
# constant folding (mirrors ddt_engine.expressions on constants; a property test checks it)

_BIG = 2**63


def _const(e: Expr) -> tuple[bool, Scalar]:
    if isinstance(e, Lit):
        return True, e.v
    if isinstance(e, DateLit):
        return True, e.v
    return False, None


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _eq(a: Scalar, b: Scalar) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _fold_value(op: str, a: Scalar, b: Scalar) -> tuple[bool, Scalar]:
    """(folded?, value) for a binary operation on two constants."""
    if op == "==":
        return True, _eq(a, b)
    if op == "!=":
        return True, not _eq(a, b)
    if op in ("<", "<=", ">", ">="):
        if (_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str)):
            x, y = cast(Any, a), cast(Any, b)
            less = x < y if op == "<" else x <= y if op == "<=" else x > y if op == ">" else x >= y
            return True, bool(less)
        return True, False
    if op in ("and", "or"):
        return True, (bool(a) and bool(b)) if op == "and" else (bool(a) or bool(b))
    if _is_num(a) and _is_num(b):
        x, y = cast(float, a), cast(float, b)
        r: float
        if op == "+":
            r = x + y
        elif op == "-":
            r = x - y
        elif op == "*":
            r = x * y
        elif op == "/":
            if y == 0:
                return False, None
            r = x / y
        elif op == "%":
            if y == 0:
                return False, None
            r = x % y
        else:
            return False, None
        if isinstance(r, float) and not math.isfinite(r):
            return False, None
        if isinstance(r, int) and abs(r) >= _BIG:
            return False, None
        return True, r
    if op == "+" and isinstance(a, str) and isinstance(b, str) and len(a) + len(b) <= 1000:
        return True, a + b
    return False, None


def fold_constants(expr: Expr) -> Expr:
    """Replace constant sub-expressions by their value (``1 + 2`` → ``3``, ``not true`` →
    ``false``, ``"a" in ["a", "b"]`` → ``true``). Variables and calls, the clock-dependent
    ones included, are left for run time; a node that would not evaluate (``1 / 0``) is
    kept as written."""
    try:
        return _fold(expr)
    except RecursionError:  # pragma: no cover - parse_expr limits nesting
        return expr


def _keep_pos(new: Expr, old: Expr) -> Expr:
    col = _col(old)
    return _at(new, col) if col is not None and new is not old else new


def _fold(e: Expr) -> Expr:
    if isinstance(e, Unary):
        a = _fold(e.a)
        ok, v = _const(a)
        if ok and isinstance(a, Lit):
            if e.op == "not":
                return _keep_pos(Lit(v=not v), e)
            if _is_num(v):
                return _keep_pos(Lit(v=-cast(float, v)), e)
        return e if a is e.a else _keep_pos(Unary(op=e.op, a=a), e)
    if isinstance(e, Binary):
        a = _fold(e.a)
        b = _fold(e.b)
        oka, va = _const(a)
        okb, vb = _const(b)
        if e.op in ("and", "or") and oka and isinstance(a, Lit):
            # short-circuit on a constant left side; the right side is pure
            if e.op == "and" and not va:
                return _keep_pos(Lit(v=False), e)
            if e.op == "or" and va:
                return _keep_pos(Lit(v=True), e)
        if e.op == "in" and oka and isinstance(b, ListLit):
            consts = [_const(x) for x in b.items]
            if all(ok for ok, _ in consts):
                return _keep_pos(Lit(v=any(_eq(va, v) for _, v in consts)), e)
        if e.op == "in" and oka and okb:
            if isinstance(va, str) and isinstance(vb, str):
                return _keep_pos(Lit(v=va in vb), e)
            return _keep_pos(Lit(v=False), e)
        if oka and okb:
            if isinstance(a, DateLit) or isinstance(b, DateLit):
                if e.op not in ("==", "!=", "<", "<=", ">", ">="):
                    return e if (a is e.a and b is e.b) else _keep_pos(Binary(op=e.op, a=a, b=b), e)
            ok, v = _fold_value(e.op, va, vb)
            if ok:
                return _keep_pos(Lit(v=v), e)
        if a is e.a and b is e.b:
            return e
        return _keep_pos(Binary(op=e.op, a=a, b=b), e)
    if isinstance(e, Call):
        args = tuple(_fold(x) for x in e.args)
        if all(x is y for x, y in zip(args, e.args, strict=True)):
            return e
        return _keep_pos(Call(fn=e.fn, args=args), e)
    if isinstance(e, ListLit):
        items = tuple(_fold(x) for x in e.items)
        if all(x is y for x, y in zip(items, e.items, strict=True)):
            return e
        return _keep_pos(ListLit(items=items), e)
    return e
