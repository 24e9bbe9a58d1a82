"""EXTRACT-A's extractors never raise and are deterministic, whatever the input.

Arbitrary Unicode, empty text and 100 KB of text, called directly (not through
``extract``, which would hide an exception), with ``at`` anywhere in 1900-2100.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ddt_engine.extract.base import ExtractOptions
from ddt_engine.extract.commands import detect_command
from ddt_engine.extract.dates import extract_date, extract_day, extract_month, extract_year
from ddt_engine.extract.money import extract_money
from ddt_engine.extract.numbers import extract_integer, extract_number, spoken_digits
from ddt_engine.extract.times import extract_datetime, extract_time
from ddt_engine.extract.yesno import detect_yes_no, extract_yes_no

OPTS = ExtractOptions()
EXTRACTORS: list[Callable[..., Any]] = [
    extract_integer,
    extract_number,
    extract_date,
    extract_day,
    extract_month,
    extract_year,
    extract_time,
    extract_datetime,
    extract_money,
    extract_yes_no,
]

# Words our grammars react to, so that generated text reaches deep into them.
VOCAB = (
    "il 3 marzo 1980 31/02/2020 domani alle cinque e mezza meno un quarto tra fra giorni fa "
    "primo maggio ottanta mille venti euro centesimi zero tre doppio sette più no sì non è "
    "lunedì prossimo scorso mezzogiorno the day after tomorrow next friday at 5 pm quarter "
    "past to half a hundred and one oh double plus cents twenty euros 12,50 € 1.250,00 "
    "1,250.00 17:30 : / - . , ' 99 0 00 2025-06-11 9999 virgola point minus meno 45 "
    "settimana prossima ago in week month year seconds dollari repeat operatore annulla"
).split()

text_strategy = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(VOCAB), max_size=25).map(" ".join),
    st.lists(st.one_of(st.sampled_from(VOCAB), st.text(max_size=5)), max_size=15).map(" ".join),
)
at_strategy = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def _all(text: str, lang: str, at: datetime) -> list[Any]:
    out: list[Any] = [fn(text, lang, at, OPTS) for fn in EXTRACTORS]
    out.append(detect_command(text, lang))
    out.append(detect_yes_no(text, lang))
    out.append(spoken_digits(text, lang))
    return out


@settings(max_examples=300, deadline=None)
@given(text=text_strategy, lang=st.sampled_from(["it", "en", "fr", ""]), at=at_strategy)
def test_never_raises_and_is_deterministic(text: str, lang: str, at: datetime) -> None:
    assert _all(text, lang, at) == _all(text, lang, at)


def test_empty_and_huge_inputs() -> None:
    at = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)
    huge_words = ("il 3 marzo 1980 venti euro alle cinque sì " * 2500)[:100_000]
    huge_junk = ("\u0000\U0001f600ßç٣" * 25_000)[:100_000]
    for text in ("", " ", huge_words, huge_junk, "9" * 100_000):
        for lang in ("it", "en"):
            assert _all(text, lang, at) == _all(text, lang, at)


def test_extreme_at_does_not_raise() -> None:
    for at in (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)):
        for text in ("domani", "ieri", "tra 3 anni", "3 giorni fa", "in a month", "80",
                     "next week", "tra mezz'ora", "domani alle 5", "l'altro ieri"):  # fmt: skip
            for lang in ("it", "en"):
                _all(text, lang, at)
