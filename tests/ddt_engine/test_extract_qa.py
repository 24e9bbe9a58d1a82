"""Caller utterances found wrong in QA passes over the spoken extractors, it and en.

Each row: (utterance, expected). Expected is the value, ("uncertain", value) for a value
the DDT should read back, "!reason" for an invalid extraction, or None for no match.
``at`` is Wednesday 2025-06-11 10:30.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract
from ddt_engine.extract.yesno import detect_yes_no

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

Row = tuple[str, object]


def _got(type_name: str, text: str, lang: str) -> object:
    got = extract(type_name, text, lang, AT)
    if got is None:
        return None
    if got.invalid:
        return "!" + got.invalid
    if got.uncertain:
        assert got.confidence < 1.0, got
        return ("uncertain", got.value)
    return got.value


# --------------------------------------------------------------------------------- time

TIME_IT: list[Row] = [
    # a duration said as approximate: the clock time from it is read back
    ("tra circa dieci minuti", ("uncertain", "10:40")),
    ("tra dieci minuti più o meno", ("uncertain", "10:40")),
    ("tra circa mezz'ora", ("uncertain", "11:00")),
    ("tra 10 minuti", "10:40"),
    ("circa dieci minuti", None),  # a duration with no "tra": no time of day
]

TIME_EN: list[Row] = [
    # "half five" (British) is 5:30, as "half past five"
    ("half five", ("uncertain", "05:30")),
    ("at half five", ("uncertain", "05:30")),
    ("half five in the afternoon", "17:30"),
    ("see you at half seven tonight", "19:30"),
    ("half ten", ("uncertain", "10:30")),
    ("half past five", ("uncertain", "05:30")),
    ("in half an hour", "11:00"),
    # an approximate duration
    ("in ten minutes or so", ("uncertain", "10:40")),
    ("in about ten minutes", ("uncertain", "10:40")),
    ("in roughly an hour", ("uncertain", "11:30")),
    ("in 10 minutes", "10:40"),
    ("about ten minutes", None),  # was ten o'clock
    ("at 5", ("uncertain", "05:00")),
]


@pytest.mark.parametrize(("text", "expected"), TIME_IT)
def test_time_it(text: str, expected: object) -> None:
    assert _got("time", text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), TIME_EN)
def test_time_en(text: str, expected: object) -> None:
    assert _got("time", text, "en") == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("tra circa dieci minuti", "it", ("uncertain", "2025-06-11T10:40")),
        ("in ten minutes or so", "en", ("uncertain", "2025-06-11T10:40")),
        ("tomorrow at half five pm", "en", "2025-06-12T17:30"),
    ],
)
def test_datetime(text: str, lang: str, expected: object) -> None:
    assert _got("datetime", text, lang) == expected


# --------------------------------------------------------------------------------- date

DATE_IT: list[Row] = [
    # a list or a range of days is no one date (it was the last day said)
    ("il tre, quattro marzo", None),
    ("il 3, 4 marzo", None),
    ("dal 3 al 5 marzo", None),
    ("dal 3 marzo al 5 marzo", None),
    ("tra il 3 e il 5 marzo", None),
    ("il 3 marzo, 1980", "1980-03-03"),
    # "martedì a otto": a week after the coming Tuesday (it was Tuesday 8 July)
    ("martedì a otto", "2025-06-24"),
    ("oggi a otto", "2025-06-18"),
    ("martedì", "2025-06-17"),
    # "per" is no quantity word
    ("per il 20", {"day": 20}),
    ("vorrei prenotare per il 20", {"day": 20}),
    ("il 20 per cento", None),
    # the caller is unsure or approximate: read back
    ("circa il 10 marzo", ("uncertain", {"day": 10, "month": 3})),
    ("intorno al 15", ("uncertain", {"day": 15})),
    ("forse il 10", ("uncertain", {"day": 10})),
    ("il 10 credo", ("uncertain", {"day": 10})),
    ("il 10", {"day": 10}),
    # "ai primi di marzo": the month only, the DDT asks the day (a wrong day is worse)
    ("ai primi di marzo", {"month": 3}),
    ("agli inizi di marzo", {"month": 3}),
    ("gli ultimi giorni di marzo", {"month": 3}),
]

DATE_EN: list[Row] = [
    ("the 3rd, 4th of March", None),
    ("from the 3rd to the 5th of March", None),
    ("March 3 to 5", None),
    ("March 3-5", None),
    ("between March 3 and March 5", None),
    ("March 3, 1980", "1980-03-03"),
    # British: a week after the coming weekday (each was the coming one)
    ("Tuesday week", "2025-06-24"),
    ("a week on Tuesday", "2025-06-24"),
    ("Friday after next", "2025-06-20"),
    ("next Tuesday", "2025-06-17"),
    ("this coming Friday", "2025-06-13"),
    ("around the 15th", ("uncertain", {"day": 15})),
    ("maybe the 10th", ("uncertain", {"day": 10})),
    ("I think it was the 10th", ("uncertain", {"day": 10})),
    ("the 10th", {"day": 10}),
    ("early March", {"month": 3}),
    ("late March", {"month": 3}),
    ("the first week of March", {"month": 3}),
]


@pytest.mark.parametrize(("text", "expected"), DATE_IT)
def test_date_it(text: str, expected: object) -> None:
    assert _got("date", text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), DATE_EN)
def test_date_en(text: str, expected: object) -> None:
    assert _got("date", text, "en") == expected


# ------------------------------------------------------------- time: ranges and bounds

TIME_BOUNDS_IT: list[Row] = [
    ("dalle 9 alle 10", None),  # was 09:00
    ("dopo le 17", None),  # was 17:00
    ("prima delle 9", None),  # was 09:00
    ("non prima delle 10", None),
    ("a partire dalle 9", None),
    ("entro le 18", "18:00"),  # a deadline is the time named
    ("la prima ora disponibile alle 9", ("uncertain", "09:00")),
    ("alle 17", "17:00"),
]

TIME_BOUNDS_EN: list[Row] = [
    ("9 to 10 am", None),  # was 09:51
    ("at quarter to", None),  # was 15:00
    ("at half past", None),
    ("after 5 pm", None),  # was 17:00
    ("any time after three", None),
    ("ten after five", ("uncertain", "05:10")),
    ("10 minutes after 5", ("uncertain", "05:10")),
    ("seven minutes past nine", ("uncertain", "09:07")),
    ("a quarter to nine", ("uncertain", "08:45")),
    ("five to six", ("uncertain", "05:55")),
    ("by 6 pm", "18:00"),
]


@pytest.mark.parametrize(("text", "expected"), TIME_BOUNDS_IT)
def test_time_bounds_it(text: str, expected: object) -> None:
    assert _got("time", text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), TIME_BOUNDS_EN)
def test_time_bounds_en(text: str, expected: object) -> None:
    assert _got("time", text, "en") == expected


# ------------------------------------------------------------------------------- yes_no

YES_NO_IT: list[Row] = [
    # a self-correction: the answer after the marker counts
    ("sì, cioè no", False),  # was True: the value read back was confirmed
    ("no aspetti sì", True),  # was False
    ("sì, no scusi, no", False),
    ("sì anzi no", False),
    ("anzi sì", True),
    ("sì scusi", True),
    ("eh sì", True),
    ("eh no", False),
    ("meglio di no", False),
    ("no, è giusto", None),
]

YES_NO_EN: list[Row] = [
    ("yes I mean no", False),  # was True
    ("no sorry yes", True),  # was False
    ("no wait yes", True),  # was False
    ("yes, actually no", False),
    ("actually yes", True),
    ("correct me if I'm wrong", None),  # was True
    ("er no", False),
    ("go ahead", True),
    ("please do", True),
    ("I'd rather not", False),
    ("yeah no", None),
]


@pytest.mark.parametrize(("text", "expected"), YES_NO_IT)
def test_yes_no_it(text: str, expected: object) -> None:
    got = extract("yes_no", text, "it", AT)
    assert (None if got is None else got.value) == expected


@pytest.mark.parametrize(("text", "expected"), YES_NO_EN)
def test_yes_no_en(text: str, expected: object) -> None:
    got = extract("yes_no", text, "en", AT)
    assert (None if got is None else got.value) == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("sì, cioè no, il 16", "it", (False, "il 16")),
        ("no, aspetti, l'ho ritrovata", "it", (False, "aspetti, l'ho ritrovata")),
        ("no wait, yes, the 15th", "en", (True, "the 15th")),
    ],
)
def test_detect_yes_no_after_a_correction(
    text: str, lang: str, expected: tuple[bool | None, str]
) -> None:
    assert detect_yes_no(text, lang) == expected


# ------------------------------------------------------------------ money, number: more

MONEY_QA: list[tuple[str, str, object]] = [
    ("half a million euros", "en", None),  # was 1000000.0
    ("mezzo milione di euro", "it", None),
    ("I paid 20 euros and then 30", "en", None),  # was 20.0
    ("twenty euros plus thirty", "en", None),
    ("ho pagato 20 euro e poi 30", "it", None),  # was 20.0
    ("cento euro più 22 di iva", "it", None),
    ("cento euro più iva", "it", 100.0),
    ("ten euros and a half", "en", 10.5),
    ("dieci euro e mezzo", "it", 10.5),
]

NUMBER_QA: list[tuple[str, str, object]] = [
    ("mezzo milione", "it", None),  # was 0.5
    ("un milione e mezzo", "it", None),  # was 1000000.5
    ("half a million", "en", None),
    ("a million and a half", "en", None),
    ("2,5 milioni", "it", 2500000),
    ("2.5 million", "en", 2500000),
    ("due e mezzo", "it", 2.5),
]


@pytest.mark.parametrize(("text", "lang", "expected"), MONEY_QA)
def test_money(text: str, lang: str, expected: object) -> None:
    assert _got("money", text, lang) == expected


@pytest.mark.parametrize(("text", "lang", "expected"), NUMBER_QA)
def test_number(text: str, lang: str, expected: object) -> None:
    assert _got("number", text, lang) == expected
