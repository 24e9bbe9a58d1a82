"""money extraction (a float in euros) in it and en."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)
OTHER = ("invalid", "invalid_currency")

MONEY_IT: list[tuple[str, object]] = [
    ("venti euro e cinquanta", 20.5),
    ("venti euro e cinquanta centesimi", 20.5),
    ("venti euro cinquanta", 20.5),
    ("tre euro e venti", 3.2),
    ("venti e cinquanta euro", 20.5),
    ("un euro", 1.0),
    ("un euro e dieci", 1.1),
    ("dieci euro", 10.0),
    ("dieci euro e mezzo", 10.5),
    ("cinquanta centesimi", 0.5),
    ("novantanove centesimi", 0.99),
    ("un centesimo", 0.01),
    ("mille euro", 1000.0),
    ("milleduecentocinquanta euro", 1250.0),
    ("duemila euro", 2000.0),
    ("centoventi euro", 120.0),
    ("trentacinque euro e novanta", 35.9),
    ("diciannove e novantanove", 19.99),
    ("dodici e cinquanta", 12.5),
    ("zero virgola novantanove euro", 0.99),
    ("venti virgola cinquanta euro", 20.5),
    ("12,50 euro", 12.5),
    ("12,50 €", 12.5),
    ("12,50€", 12.5),
    ("€ 1.250,00", 1250.0),
    ("€1.250", 1250.0),
    ("1.250 euro", 1250.0),
    ("EUR 99,90", 99.9),
    ("EUR99,90", 99.9),
    ("0,99 €", 0.99),
    ("costa 12 euro", 12.0),
    ("sono 45 euro", 45.0),
    ("fanno 7,30 euro", 7.3),
    ("12,50", 12.5),
    ("15", 15.0),
    ("20 euro e 50", 20.5),
    ("20 euro e 50 centesimi", 20.5),
    ("50 centesimi", 0.5),
    ("1.000.000 di euro", 1000000.0),
    ("un milione di euro", 1000000.0),
    ("1 milione di euro", 1000000.0),
    ("2,5 milioni di euro", 2500000.0),
    ("dieci dollari", OTHER),
    ("$ 15", OTHER),
    ("venti sterline", OTHER),
    ("boh", None),
    ("non lo so", None),
    ("ho 38 anni", None),
    ("", None),
    # self-corrections: the amount after the last marker
    ("venti euro anzi trenta", 30.0),
    ("venti euro no scusi trenta euro", 30.0),
    # an amount said twice is that amount; two amounts are no match
    ("venti euro venti euro", 20.0),
    ("venti euro trenta euro", None),
    ("tra 20 e 30 euro", None),
    ("20 o 30 euro", None),
    ("tipo venti, trenta euro", None),
    ("venti euro, trenta centesimi", 20.3),
]

MONEY_EN: list[tuple[str, object]] = [
    ("twenty euros and fifty cents", 20.5),
    ("twenty euros and fifty", 20.5),
    ("twenty euros fifty", 20.5),
    ("three euros twenty", 3.2),
    ("one euro", 1.0),
    ("a euro and ten cents", 1.1),
    ("ten euros", 10.0),
    ("ten euros and a half", 10.5),
    ("fifty cents", 0.5),
    ("ninety nine cents", 0.99),
    ("one cent", 0.01),
    ("a thousand euros", 1000.0),
    ("one thousand two hundred fifty euros", 1250.0),
    ("two thousand euros", 2000.0),
    ("a hundred euros", 100.0),
    ("a hundred and twenty euros", 120.0),
    ("thirty five euros ninety", 35.9),
    ("nineteen ninety nine euros", None),
    ("zero point nine nine euros", 0.99),
    ("twenty point five euros", 20.5),
    ("1,250.00 euros", 1250.0),
    ("€1,250", 1250.0),
    ("€ 1,250.00", 1250.0),
    ("€15.99", 15.99),
    ("15.99 euros", 15.99),
    ("15.99€", 15.99),
    ("EUR 99.90", 99.9),
    ("EUR99.90", 99.9),
    ("0.99 €", 0.99),
    ("it's 12 euros", 12.0),
    ("about 45 euros", 45.0),
    ("12.50", 12.5),
    ("15", 15.0),
    ("20 euros and 50 cents", 20.5),
    ("50 cents", 0.5),
    ("a million euros", 1000000.0),
    ("1.5 million euros", 1500000.0),
    ("1,000,000 euros", 1000000.0),
    ("seven euros thirty", 7.3),
    ("$15.99", OTHER),
    ("ten dollars", OTHER),
    ("twenty pounds", OTHER),
    ("£20", OTHER),
    ("no idea", None),
    ("I'm 38 years old", None),
    ("", None),
    ("twenty euros sorry thirty", 30.0),
    ("between 20 and 30 euros", None),
    ("twenty or thirty euros", None),
    # slang for other currencies: never read as euros
    ("twenty bucks", OTHER),
    ("fifty quid", OTHER),
    ("a tenner", OTHER),
]


def _got(text: str, lang: str) -> object:
    r = extract("money", text, lang, AT)
    if r is None:
        return None
    return ("invalid", r.invalid) if r.invalid else r.value


@pytest.mark.parametrize(("text", "expected"), MONEY_IT)
def test_money_it(text: str, expected: object) -> None:
    assert _got(text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), MONEY_EN)
def test_money_en(text: str, expected: object) -> None:
    assert _got(text, "en") == expected


def test_layers_and_type() -> None:
    typed = extract("money", "12,50 euro", "it", AT)
    spoken = extract("money", "dodici euro e cinquanta", "it", AT)
    assert typed is not None and typed.layer == "pattern" and type(typed.value) is float
    assert spoken is not None and spoken.layer == "grammar" and spoken.value == 12.5
