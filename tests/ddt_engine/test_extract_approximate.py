"""Approximate values, bounds and ambiguous readings of spoken quantities, it and en.

Each row: (utterance, expected). Expected is the value, ("uncertain", value) for a value
the DDT should read back, or None for no match. A wrong value is worse than no match: an
amount the caller only estimates is kept and marked uncertain; a bound ("più di venti")
or a reading that could be two values ("tre, quattro": 34, or three or four?) asks again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

Row = tuple[str, object]


def _got(type_name: str, text: str, lang: str) -> object:
    got = extract(type_name, text, lang, AT)
    if got is None:
        return None
    assert got.invalid is None, got
    if got.uncertain:
        assert got.confidence < 1.0, got
        return ("uncertain", got.value)
    return got.value


# ---------------------------------------------------------------------- integer, number

INTEGER_IT: list[Row] = [
    # two digits said one by one: 34, or "three or four"?
    ("tre, quattro", None),
    ("tre quattro", None),
    ("sono tre, quattro", None),
    ("zero sette", 7),  # a leading zero: digits, not a range
    ("tre quattro sette", 347),
    ("uno due tre quattro no tre cinque", 1235),  # digits correcting digits
    # a bound is not the value
    ("più di venti", None),
    ("meno di venti", None),
    ("almeno tre", None),
    ("al massimo cinque", None),
    ("oltre cento", None),
    ("fino a dieci", None),
    # an estimate is kept, to be read back
    ("circa venti", ("uncertain", 20)),
    ("più o meno trenta", ("uncertain", 30)),
    ("quasi trenta", ("uncertain", 30)),
    ("saremo sui venti", ("uncertain", 20)),
    ("circa una dozzina", ("uncertain", 12)),
    ("venti", 20),
    ("meno cinque", -5),
]

INTEGER_EN: list[Row] = [
    ("three, four", None),
    ("three four", None),
    ("three four seven", 347),
    ("one two three four I mean three five", 1235),
    ("more than twenty", None),
    ("less than twenty", None),
    ("at least three", None),
    ("at most five", None),
    ("over a hundred", None),
    ("up to ten", None),
    ("about twenty", ("uncertain", 20)),
    ("twenty or so", ("uncertain", 20)),
    ("twenty-ish", ("uncertain", 20)),
    ("nearly thirty", ("uncertain", 30)),
    ("about a dozen", ("uncertain", 12)),
    ("a dozen or so", ("uncertain", 12)),
    ("a dozen", 12),
    ("twenty", 20),
]


@pytest.mark.parametrize(("text", "expected"), INTEGER_IT)
def test_integer_it(text: str, expected: object) -> None:
    assert _got("integer", text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), INTEGER_EN)
def test_integer_en(text: str, expected: object) -> None:
    assert _got("integer", text, "en") == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("circa 2,5", "it", ("uncertain", 2.5)),
        ("tre, quattro", "it", None),
        ("più di 2,5", "it", None),
        ("about 2.5", "en", ("uncertain", 2.5)),
        ("three, four", "en", None),
        ("under 2.5", "en", None),
    ],
)
def test_number(text: str, lang: str, expected: object) -> None:
    assert _got("number", text, lang) == expected


# -------------------------------------------------------------------------------- money

MONEY_IT: list[Row] = [
    ("più di venti euro", None),
    ("meno di venti euro", None),
    ("al massimo cinquanta euro", None),
    ("fino a cento euro", None),
    ("circa venti euro", ("uncertain", 20.0)),
    ("tipo venti euro", ("uncertain", 20.0)),
    ("più o meno cinquanta euro", ("uncertain", 50.0)),
    # "uno cinquanta": 1,50 or 150? no match; said in full it is read
    ("uno cinquanta euro", None),
    ("uno e cinquanta", 1.5),
    ("un euro e cinquanta", 1.5),
    ("centocinquanta euro", 150.0),
    ("venti euro", 20.0),
]

MONEY_EN: list[Row] = [
    ("more than twenty euros", None),
    ("under fifty euros", None),
    ("up to 100 euros", None),
    ("about 45 euros", ("uncertain", 45.0)),
    ("roughly twenty euros", ("uncertain", 20.0)),
    # "one fifty": 1.50 or 150? no match; said in full it is read
    ("one fifty euros", None),
    ("one fifty", None),
    ("two fifty euros", None),
    ("one euro fifty", 1.5),
    ("a hundred and fifty euros", 150.0),
    ("one hundred fifty euros", 150.0),
    ("twenty euros", 20.0),
]


@pytest.mark.parametrize(("text", "expected"), MONEY_IT)
def test_money_it(text: str, expected: object) -> None:
    assert _got("money", text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), MONEY_EN)
def test_money_en(text: str, expected: object) -> None:
    assert _got("money", text, "en") == expected
