"""Dates callers say when booking, found wrong in the QA pass over medical_booking and
insurance_claim (it, en). ``at`` is Wednesday 2025-06-11 10:30.

Each row: (utterance, expected): the value, or None for no match.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract
from ddt_engine.extract.base import ExtractOptions

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

ROWS: list[tuple[str, str, object]] = [
    # British "a week Thursday" was the coming Thursday (2025-06-12), certain
    ("en", "a week Thursday", "2025-06-19"),
    # "fortnight": "Monday fortnight" / "a fortnight on Monday" were the coming Monday
    ("en", "Monday fortnight", "2025-06-30"),
    ("en", "a fortnight on Monday", "2025-06-30"),
    ("en", "in a fortnight", "2025-06-25"),
    ("en", "a fortnight from today", "2025-06-25"),
    # two weekdays offered: the first one was taken, certain
    ("it", "giovedì o venerdì", None),
    ("it", "lunedì oppure martedì", None),
    ("en", "Thursday or Friday", None),
    ("it", "martedì o meglio mercoledì", "2025-06-18"),  # a correction, not a choice
    ("en", "Tuesday or rather Wednesday", "2025-06-18"),
    # "first thing Monday" was the next Monday that is the 1st (2025-09-01)
    ("en", "first thing Monday", "2025-06-16"),
    ("en", "first thing tomorrow", "2025-06-12"),
    ("en", "first thing on Monday morning", "2025-06-16"),
    ("it", "lunedì come prima cosa", "2025-06-16"),
    # a weekday counted in a month: "secondo martedì del mese prossimo" was 2025-07-01
    # (certain), "the first Monday of next month" the next Monday that is the 1st
    ("en", "the first Monday of next month", "2025-07-07"),
    ("it", "il secondo martedì del mese prossimo", "2025-07-08"),
    ("it", "la prima domenica del mese prossimo", "2025-07-06"),
    ("en", "the last Friday of next month", "2025-07-25"),
    ("it", "l'ultimo venerdì del mese", "2025-06-27"),
    ("it", "il primo lunedì di luglio 2025", "2025-07-07"),
    ("en", "the fifth Monday of next month", None),  # July 2025 has four
    ("en", "the first Monday of January", {"month": 1}),  # the year is not said
    # unchanged
    ("en", "a week on Tuesday", "2025-06-24"),
    ("en", "Tuesday week", "2025-06-24"),
    ("it", "il primo del mese prossimo", "2025-07-01"),
    ("it", "il primo dicembre", {"day": 1, "month": 12}),
]


@pytest.mark.parametrize(("lang", "text", "expected"), ROWS)
def test_booking_dates(lang: str, text: str, expected: object) -> None:
    got = extract("date", text, lang, AT)
    assert (None if got is None else got.value) == expected
    if got is not None:
        assert not got.uncertain


def test_fortnight_with_past_is_not_the_last_weekday() -> None:
    got = extract("date", "Monday fortnight", "en", AT, ExtractOptions(past=True))
    assert got is not None and got.value == "2025-06-30"
