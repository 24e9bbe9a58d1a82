"""Expression AST: what the compiler parses designer conditions and templates into.

The runtime never parses source text; it evaluates these trees (see
``ddt_engine.expressions``). Dates are ISO strings ``YYYY-MM-DD`` and times
``HH:MM`` in memory, so they stay JSON values and compare correctly as strings.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas._base import Value

Scalar = str | int | float | bool | None


class Lit(Value):
    """A literal: string, number, bool or null."""

    k: Literal["lit"] = "lit"
    v: Scalar


class DateLit(Value):
    """A date literal such as ``2024-03-01``; ``v`` is ISO ``YYYY-MM-DD``."""

    k: Literal["date"] = "date"
    v: str


class Duration(Value):
    """A duration literal such as ``30d``, ``2w``, ``18y``, ``90min``."""

    k: Literal["dur"] = "dur"
    days: int = 0
    months: int = 0
    seconds: int = 0


class Var(Value):
    """A dotted variable path into session memory (``appointment.date``)."""

    k: Literal["var"] = "var"
    path: tuple[str, ...]


class IsSet(Value):
    """``x is set`` / ``x is not set``."""

    k: Literal["isset"] = "isset"
    path: tuple[str, ...]
    negate: bool = False


class Unary(Value):
    """``not a`` or ``-a``."""

    k: Literal["unary"] = "unary"
    op: Literal["not", "neg"]
    a: Expr


BinOp = Literal["and", "or", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "in"]


class Binary(Value):
    """A binary operation; ``and``/``or`` short-circuit."""

    k: Literal["bin"] = "bin"
    op: BinOp
    a: Expr
    b: Expr


class Call(Value):
    """A call of a function of the fixed, pure library (``len``, ``age``, filters …).

    A template filter ``x | date("long")`` is lowered to ``Call("date", [x, "long"])``.
    """

    k: Literal["call"] = "call"
    fn: str
    args: tuple[Expr, ...] = ()


class ListLit(Value):
    """A list literal, typically the right side of ``in``."""

    k: Literal["list"] = "list"
    items: tuple[Expr, ...] = ()


Expr = Annotated[
    Lit | DateLit | Duration | Var | IsSet | Unary | Binary | Call | ListLit,
    Field(discriminator="k"),
]


class TextPart(Value):
    """Literal text of a prompt template."""

    k: Literal["text"] = "text"
    text: str


class ExprPart(Value):
    """A ``{{ expression }}`` slot of a prompt template."""

    k: Literal["expr"] = "expr"
    expr: Expr


TemplatePart = Annotated[TextPart | ExprPart, Field(discriminator="k")]


class Template(Value):
    """A parsed prompt template: text and expression parts, rendered by concatenation."""

    parts: tuple[TemplatePart, ...] = ()


for _m in (Unary, Binary, Call, ListLit, ExprPart, Template):
    _m.model_rebuild()
