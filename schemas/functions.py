"""The fixed, pure function library of the expression language, as data.

Shared by the type checker (``compiler.expressions.check_expr``) and the evaluator
(``ddt_engine.expressions``). Types are the expression types: ``string``, ``integer``,
``number``, ``boolean``, ``date``, ``time``, ``datetime``, ``duration``, ``list``,
``object``, ``any``, ``null``; a parameter may accept several (``"string|list"``).
A result type ``"same"`` means "the type of the first argument".

Every function of one or more parameters can also be written as a template filter,
``{{ x | f(a) }}`` meaning ``f(x, a)``; those with ``filter=True`` are the ones meant
for that and are listed as filters in the documentation.
"""

from __future__ import annotations

from schemas._base import Value


class Param(Value):
    """One parameter: its name, accepted types, whether it may be left out, and, for an
    option given as a string literal, the accepted values."""

    name: str
    type: str = "any"
    optional: bool = False
    choices: tuple[str, ...] = ()


class Signature(Value):
    """A library function. ``variadic``: the last parameter may repeat. ``uses_clock``: the
    result depends on the evaluation time (never constant-folded)."""

    name: str
    params: tuple[Param, ...] = ()
    variadic: bool = False
    result: str = "any"
    filter: bool = False
    uses_clock: bool = False
    doc: str = ""
    example: str = ""

    @property
    def min_args(self) -> int:
        return sum(1 for p in self.params if not p.optional)

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.params)


def _p(
    name: str, type_: str = "any", *, optional: bool = False, choices: tuple[str, ...] = ()
) -> Param:
    return Param(name=name, type=type_, optional=optional, choices=choices)


_DATEISH = "date|datetime|string"
_NUM = "integer|number"

_SIGNATURES: tuple[Signature, ...] = (
    # strings and lists
    Signature(
        name="len",
        params=(_p("x", "string|list|object"),),
        result="integer",
        filter=True,
        doc="number of characters or items",
        example="len(name) > 2",
    ),
    Signature(
        name="lower",
        params=(_p("s", "string"),),
        result="string",
        filter=True,
        doc="lower case",
        example='lower(answer) == "si"',
    ),
    Signature(
        name="upper",
        params=(_p("s", "string"),),
        result="string",
        filter=True,
        doc="upper case",
        example="{{ code | upper }}",
    ),
    Signature(
        name="capitalize",
        params=(_p("s", "string"),),
        result="string",
        filter=True,
        doc="first letter upper case, the rest unchanged",
        example="{{ name | capitalize }}",
    ),
    Signature(
        name="trim",
        params=(_p("s", "string"),),
        result="string",
        filter=True,
        doc="without leading and trailing spaces",
        example='trim(note) != ""',
    ),
    Signature(
        name="contains",
        params=(_p("s", "string|list"), _p("x")),
        result="boolean",
        doc="substring or list item test",
        example='contains(email, "@")',
    ),
    Signature(
        name="startswith",
        params=(_p("s", "string"), _p("prefix", "string")),
        result="boolean",
        doc="prefix test",
        example='startswith(phone, "3")',
    ),
    Signature(
        name="endswith",
        params=(_p("s", "string"), _p("suffix", "string")),
        result="boolean",
        doc="suffix test",
        example='endswith(email, ".it")',
    ),
    Signature(
        name="matches",
        params=(_p("s", "string"), _p("pattern", "string")),
        result="boolean",
        doc=(
            "regular expression test (Python syntax), found anywhere in the text: anchor it "
            "with ^ and $ for the whole text; the pattern is written in the expression, as a "
            "string, and checked when the project compiles"
        ),
        example='matches(lower(value), "^(si|sì|no|ok)[.!]*$")',
    ),
    # dates
    Signature(
        name="year",
        params=(_p("d", _DATEISH),),
        result="integer",
        doc="year of a date",
        example="year(value) >= 1900",
    ),
    Signature(
        name="month",
        params=(_p("d", _DATEISH),),
        result="integer",
        doc="month of a date, 1-12",
        example="month(value) != 8",
    ),
    Signature(
        name="day",
        params=(_p("d", _DATEISH),),
        result="integer",
        doc="day of the month, 1-31",
        example="day(value) <= 15",
    ),
    Signature(
        name="weekday",
        params=(_p("d", _DATEISH),),
        result="integer",
        doc="day of the week, 1 = Monday … 7 = Sunday",
        example="weekday(value) <= 5",
    ),
    Signature(
        name="age",
        params=(_p("birth", _DATEISH),),
        result="integer",
        uses_clock=True,
        doc="whole years from the date to today",
        example="age(birth_date) >= 18",
    ),
    Signature(
        name="today",
        result="date",
        uses_clock=True,
        doc="today's date (from the event time)",
        example="value >= today()",
    ),
    Signature(
        name="now",
        result="datetime",
        uses_clock=True,
        doc="the event time, ISO datetime",
        example="{{ now() | time }}",
    ),
    Signature(
        name="days",
        params=(_p("d", "duration"),),
        result="integer",
        doc="whole days of a duration (a month counts 30 days, a year 365)",
        example="days(value - today()) <= 90",
    ),
    # numbers
    Signature(
        name="abs",
        params=(_p("x", _NUM),),
        result="same",
        filter=True,
        doc="absolute value",
        example="abs(delta) < 5",
    ),
    Signature(
        name="round",
        params=(_p("x", _NUM), _p("digits", "integer", optional=True)),
        result="number",
        filter=True,
        doc="rounded (half to even); to an integer without digits",
        example="{{ total | round(2) }}",
    ),
    Signature(
        name="min",
        params=(_p("a"), _p("b")),
        variadic=True,
        result="same",
        doc="smallest argument",
        example="min(a, b, 10)",
    ),
    Signature(
        name="max",
        params=(_p("a"), _p("b")),
        variadic=True,
        result="same",
        doc="largest argument",
        example="max(guests, 1)",
    ),
    # conversions
    Signature(
        name="str",
        params=(_p("x"),),
        result="string",
        filter=True,
        doc="as text: numbers without a trailing .0, null empty, true/false",
        example='str(n) + " euro"',
    ),
    Signature(
        name="int",
        params=(_p("x"),),
        result="integer",
        filter=True,
        doc="as an integer (from a number or digits), null if not a number",
        example="int(value) > 0",
    ),
    Signature(
        name="number",
        params=(_p("x"),),
        result="number",
        filter=True,
        doc='as a number ("12,5" and "12.5" both read as 12.5), null if not a number',
        example="number(amount) <= 1000",
    ),
    Signature(
        name="coalesce",
        params=(_p("a"), _p("b")),
        variadic=True,
        result="same",
        filter=True,
        doc="first argument that is set",
        example="coalesce(nick, name)",
    ),
    Signature(
        name="default",
        params=(_p("x"), _p("fallback")),
        result="same",
        filter=True,
        doc="x, or the fallback when x is not set",
        example='{{ name | default("cliente") }}',
    ),
    # template filters
    Signature(
        name="date",
        params=(
            _p("d", _DATEISH),
            _p("style", "string", optional=True, choices=("long", "short", "weekday")),
        ),
        result="string",
        filter=True,
        doc='a date in words: "long" (3 marzo 1980 / 3 March 1980, the default), '
        '"short" (03/03/1980), "weekday" (lunedì 3 marzo 1980 / Monday 3 March 1980)',
        example='{{ birth | date("long") }}',
    ),
    Signature(
        name="time",
        params=(_p("t", "time|datetime|string"),),
        result="string",
        filter=True,
        doc="a time as HH:MM (from a time or a datetime)",
        example="{{ slot | time }}",
    ),
    Signature(
        name="digits",
        params=(_p("x"),),
        result="string",
        filter=True,
        doc="characters separated by spaces, for text-to-speech",
        example="{{ phone | digits }}",
    ),
    Signature(
        name="phone",
        params=(_p("x", "string"),),
        result="string",
        filter=True,
        doc="an Italian phone number in its national groups, without +39: mobiles "
        '"+393471234567" -> "347 123 4567", landlines "+390612345678" -> "06 1234 5678"; '
        "any other text as it is",
        example="{{ patient.phone | phone }}",
    ),
    Signature(
        name="spell",
        params=(_p("x"), _p("group", "integer", optional=True)),
        result="string",
        filter=True,
        doc="characters one by one for text-to-speech, a comma (a short pause) between "
        'groups: the groups of the text ("347 123" -> "3 4 7, 1 2 3"), or every `group` '
        'characters ("RSSMRA80" with 3 -> "R S S, M R A, 8 0")',
        example="{{ value | phone | spell }}",
    ),
    Signature(
        name="money",
        params=(_p("x", _NUM + "|string"), _p("currency", "string", optional=True)),
        result="string",
        filter=True,
        doc='an amount: it "1.234,50 euro", en "EUR 1,234.50"; whole amounts without '
        'cents ("20 euro"); currency code, default EUR',
        example="{{ total | money }}",
    ),
    Signature(
        name="article",
        params=(
            _p("x"),
            _p(
                "prep",
                "string",
                choices=("il", "del", "al", "dal", "nel", "sul"),
            ),
        ),
        result="string",
        filter=True,
        doc="Italian: the text after an article or articled preposition, elided where "
        'Italian elides it: il -> "l\'8 marzo", "l\'11 marzo", "il 9 marzo", '
        '"il 1º marzo"; del -> "dell\'8 marzo", "del 9 marzo"; al, dal, nel, sul alike',
        example="{{ appointment.date | date('long') | article('il') }}",
    ),
)

FUNCTIONS: dict[str, Signature] = {s.name: s for s in _SIGNATURES}
"""Function name -> signature."""

FILTERS: tuple[str, ...] = tuple(s.name for s in _SIGNATURES if s.filter)
"""Names documented as template filters."""

__all__ = ["FILTERS", "FUNCTIONS", "Param", "Signature"]
