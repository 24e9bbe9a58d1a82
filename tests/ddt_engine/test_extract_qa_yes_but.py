"""A yes with a change ("sì, ma alle dieci e mezza") at a recap was a plain yes: the visit
was booked at the time read back (QA pass over medical_booking and insurance_claim)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

ROWS: list[tuple[str, str, object]] = [
    ("it", "sì ma alle dieci e mezza", None),
    ("it", "Sì, però alle dieci e mezza", None),
    ("it", "va bene ma preferisco giovedì", None),
    ("it", "sì, solo che il luogo è sbagliato", None),
    ("en", "yes but at half past ten", None),
    ("en", "Yeah BUT can we do 10:30 instead", None),
    ("en", "sure, however the place is wrong", None),
    # still answers
    ("it", "sì ma certo", True),
    ("it", "ma sì", True),
    ("it", "sì, grazie mille", True),
    ("it", "no ma grazie", False),
    ("en", "yes but of course", True),
    ("en", "yes please, thanks a lot", True),
    ("en", "no but thanks", False),
]


@pytest.mark.parametrize(("lang", "text", "expected"), ROWS)
def test_yes_but(lang: str, text: str, expected: object) -> None:
    got = extract("yes_no", text, lang, AT)
    assert (None if got is None else got.value) == expected
