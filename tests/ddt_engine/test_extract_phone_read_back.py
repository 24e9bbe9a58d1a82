"""The ``phone`` read-back filter's grouping for any country (``phone_read_back``).

QA: "+447911123456" was read back as "+447911123456" in chat and "+ 4 4 7 9 1 1 1 2 3 4 5 6"
on voice; only Italian numbers were grouped. ``phone_read_back`` groups any country's
number as phonenumbers formats it, and gives exactly the old answer for everything else
(the Italian groups a caller hears today do not move).

The filter is wired in two places that a test pins together
(tests/ddt_engine/test_engine_render_fast.py::test_fast_slots_equal_the_evaluator): the
evaluator's ``phone`` (ddt_engine/expressions.py) and the engine's plain-Python read-back
slots (``_FAST_FILTERS`` in ddt_engine/engine.py). Both switch to ``phone_read_back`` in
one change; until then ``test_the_filter_groups_a_foreign_number`` is an expected failure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.expressions import parse_template
from ddt_engine.expressions import compile_expr, phone_read_back
from schemas.expressions import ExprPart

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

GROUPED: list[tuple[str, str]] = [
    # other countries: their own international groups, the prefix kept
    ("+447911123456", "+44 7911 123456"),  # UK mobile
    ("+442079460958", "+44 20 7946 0958"),  # London
    ("+12015550123", "+1 201 555 0123"),  # US: "201-555-0123", said in groups
    ("+1 (201) 555-0123", "+1 201 555 0123"),
    ("+33612345678", "+33 6 12 34 56 78"),
    ("+4930123456", "+49 30 123456"),
    ("0044 7911 123456", "+44 7911 123456"),  # the 00 prefix written out
    ("+4412", "+4412"),  # not a number phonenumbers can place: as it is
    # Italian numbers: unchanged (national groups, no +39)
    ("+393471234567", "347 123 4567"),
    ("+390612345678", "06 1234 5678"),
    ("+39800123456", "800 123 456"),
    ("0039 333 123 4567", "333 123 4567"),
    ("3471234567", "347 123 4567"),
    ("non lo so", "non lo so"),
    ("", ""),
]


@pytest.mark.parametrize(("value", "expected"), GROUPED)
def test_phone_read_back_groups(value: str, expected: str) -> None:
    assert phone_read_back(value) == expected


def test_phone_read_back_is_none_for_no_text() -> None:
    assert phone_read_back(None) is None
    assert phone_read_back(447911123456) is None


# The filter before it read foreign numbers (Italian groups only), kept as the oracle of
# everything else.
def _italian_only_before(x: Any) -> str | None:
    if type(x) is not str:
        return None
    s = x.strip()
    compact = "".join(ch for ch in s if ch not in " .-/()")
    if compact.startswith("0039"):
        compact = "+39" + compact[4:]
    national = compact[3:] if compact.startswith("+39") else compact
    if not (national.isascii() and national.isdigit()) or not 6 <= len(national) <= 11:
        return s
    if national[0] == "3":  # mobile: 347 123 4567
        head, rest = national[:3], national[3:]
    elif national[0] == "0":  # landline: 06 / 02 have a two-digit area code, else three
        cut = 2 if national[1] in "26" else 3
        head, rest = national[:cut], national[cut:]
    else:  # 800 / 199 numbers and the like
        head, rest = national[:3], national[3:]
    if len(rest) <= 4:
        return f"{head} {rest}"
    split = len(rest) // 2 if len(rest) <= 8 else 4
    return f"{head} {rest[:split]} {rest[split:]}"


def _foreign(v: Any) -> bool:
    if type(v) is not str:
        return False
    compact = "".join(ch for ch in v.strip() if ch not in " .-/()")
    return (compact[:1] == "+" and compact[:3] != "+39") or (
        compact[:2] == "00" and compact[:4] != "0039" and len(compact) > 11
    )


VALUES = st.one_of(
    st.sampled_from(["+393331234567", "+390612345678", "0039 333 123 4567", "800123456"]),
    st.text(alphabet="0123456789 +.-/()\u00a0\u2003\tab", max_size=20),
    st.text(max_size=12),
    st.integers(),
    st.none(),
)


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_everything_but_a_foreign_number_reads_back_as_before(v: Any) -> None:
    if not _foreign(v):
        assert phone_read_back(v) == _italian_only_before(v), v


def _render(src: str, value: str, lang: str) -> Any:
    part = parse_template("{{ " + src + " }}").parts[0]
    assert isinstance(part, ExprPart)
    return compile_expr(part.expr, lang=lang)({"value": value}, NOW)


@pytest.mark.parametrize("lang", ["it", "en"])
def test_the_filter_groups_a_foreign_number(lang: str) -> None:
    assert _render("value | phone", "+447911123456", lang) == "+44 7911 123456"
    assert _render("value | phone | spell", "+447911123456", lang) == (
        "+ 4 4, 7 9 1 1, 1 2 3 4 5 6"
    )
    assert _render("value | phone | spell", "+12015550123", lang) == "+ 1, 2 0 1, 5 5 5, 0 1 2 3"
