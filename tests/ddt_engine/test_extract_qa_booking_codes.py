"""Codes spelt by callers, found refused in the QA pass over medical_booking and
insurance_claim: many Italians spell with "R di Roma" rather than "R come Roma"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

ROWS: list[tuple[str, str, object]] = [
    # "R di Roma …" was no match (or invalid: "di" read as a D)
    (
        "codice_fiscale",
        "R di Roma S di Savona S di Savona M di Milano R di Roma A di Ancona 8 0 C di Como "
        "0 3 H di hotel 5 0 1 F di Firenze",
        "RSSMRA80C03H501F",
    ),
    (
        "codice_fiscale",
        "erre di roma esse di savona esse di savona emme di milano erre di roma a di ancona "
        "otto zero ci di como zero tre acca cinque zero uno effe di firenze",
        "RSSMRA80C03H501F",
    ),
    ("spelled", "P di Palermo O di Otranto L di Livorno uno due tre", "POL123"),
    ("spelled", "M di mamma", "M"),
    # "di" still a letter where no word names one: "erre di esse" is R, D, S
    ("spelled", "erre di esse", "RDS"),
    # unchanged
    ("codice_fiscale", "il codice fiscale di Mario è RSSMRA80C03H501F", "RSSMRA80C03H501F"),
]


@pytest.mark.parametrize(("type_name", "text", "expected"), ROWS)
def test_spelt_with_di(type_name: str, text: str, expected: object) -> None:
    got = extract(type_name, text, "it", AT)
    assert got is not None and got.value == expected
