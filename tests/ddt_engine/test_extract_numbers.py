"""integer and number extraction, and spoken_digits, in it and en."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract
from ddt_engine.extract.numbers import parse_digits, spoken_digits

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)
NOT_INT = "not_integer"

# expected: an int, None for no match, or the invalid reason
INTEGER_IT: list[tuple[str, object]] = [
    ("32", 32),
    ("0", 0),
    ("1.250", 1250),
    ("1.000.000", 1000000),
    ("-5", -5),
    ("trentadue", 32),
    ("ventuno", 21),
    ("ventotto", 28),
    ("quarantatré", 43),
    ("quarantatre", 43),
    ("centouno", 101),
    ("centottanta", 180),
    ("trecentoquarantadue", 342),
    ("milleduecento", 1200),
    ("duemilaventi", 2020),
    ("duemila e venti", 2020),
    ("mille novecento ottanta cinque", 1985),
    ("un milione duecentomila", 1200000),
    ("tre", 3),
    ("undici", 11),
    ("diciassette", 17),
    ("zero", 0),
    ("uno", 1),
    ("una", 1),
    ("ho trentotto anni", 38),
    ("ho 38 anni", 38),
    ("sono tre", 3),
    ("la stanza centoventitré", 123),
    ("tre quattro sette", 347),
    ("zero tre tre", 33),
    ("meno cinque", -5),
    ("circa quaranta", ("uncertain", 40)),  # an estimate: read back
    ("3,5", NOT_INT),
    ("tre virgola cinque", NOT_INT),
    ("due e mezzo", NOT_INT),
    ("un quarto", NOT_INT),
    ("mezza", NOT_INT),
    ("il terzo", None),
    ("primo", None),
    ("ventesimo", None),
    ("ho 2 figli e 3 nipoti", None),
    ("boh", None),
    ("", None),
    ("non lo so", None),
    ("1 milione", 1000000),
    ("3 mila", 3000),
    ("1/2", None),
    # self-corrections: the quantity after the last marker
    ("trentadue anzi trentatré", 33),
    ("32 no 33", 33),
    ("347 123 456 7 no 8", None),
    # digits said one by one and corrected: the digits after the marker replace the last
    ("uno due tre quattro no cinque", 1235),
    ("tre quattro sette anzi otto", 348),
    # approximate quantities are no number
    ("un paio", None),
    ("una decina", None),
    ("un centinaio di persone", None),
    # dozens: twelve each, uncertain in Italian ("una dozzina di persone" is vague)
    ("una dozzina", ("uncertain", 12)),
    ("mezza dozzina", ("uncertain", 6)),
    ("due dozzine di uova", ("uncertain", 24)),
    ("decine", None),
]

INTEGER_EN: list[tuple[str, int | str | None]] = [
    ("32", 32),
    ("1,250", 1250),
    ("1,000,000", 1000000),
    ("-7", -7),
    ("twenty one", 21),
    ("twenty-one", 21),
    ("thirty two", 32),
    ("forty-three", 43),
    ("a hundred and one", 101),
    ("one hundred and one", 101),
    ("a thousand", 1000),
    ("eleven hundred", 1100),
    ("two thousand and five", 2005),
    ("two thousand twenty five", 2025),
    ("seven", 7),
    ("zero", 0),
    ("one", 1),
    ("twelve", 12),
    ("nineteen", 19),
    ("ninety nine", 99),
    ("I am thirty eight", 38),
    ("I'm 38 years old", 38),
    ("about forty", ("uncertain", 40)),
    ("three four seven", 347),
    ("three", 3),
    ("minus five", -5),
    ("room 123", 123),
    ("one million two hundred thousand", 1200000),
    ("eighty", 80),
    ("fifteen", 15),
    ("3.5", NOT_INT),
    ("three point five", NOT_INT),
    ("one and a half", NOT_INT),
    ("a half", NOT_INT),
    ("a quarter", NOT_INT),
    ("the 15th", None),
    ("first", None),
    ("twenty first", None),
    ("2 kids and 3 dogs", None),
    ("no idea", None),
    ("", None),
    ("what", None),
    ("thirty two no thirty three", 33),
    ("32 no wait 33", 33),
    ("one two three four sorry five", 1235),
    ("one two three four I mean three five", 1235),
    ("a couple", None),
    ("a few", None),
    ("a dozen", 12),
    ("a dozen eggs please", 12),
    ("half a dozen", 6),
    ("two dozen", 24),
    ("dozens", None),
    ("a dozen and three", None),
]

NUMBER_IT: list[tuple[str, float | str | None]] = [
    ("32", 32),
    ("3,5", 3.5),
    ("3.5", 3.5),
    ("0,25", 0.25),
    ("1.250", 1250),
    ("1.250,50", 1250.5),
    ("12,75", 12.75),
    ("-2,5", -2.5),
    ("100", 100),
    ("0", 0),
    ("tre virgola cinque", 3.5),
    ("venti virgola cinquanta", 20.5),
    ("due punto cinque", 2.5),
    ("due e mezzo", 2.5),
    ("tre e mezza", 3.5),
    ("mezzo", 0.5),
    ("un quarto", 0.25),
    ("tre quarti", 0.75),
    ("sette e tre quarti", 7.75),
    ("uno e un quarto", 1.25),
    ("trentadue", 32),
    ("ventuno", 21),
    ("quarantatré", 43),
    ("centouno", 101),
    ("meno cinque", -5),
    ("meno due virgola cinque", -2.5),
    ("peso 72,5 chili", 72.5),
    ("settantadue virgola cinque", 72.5),
    ("la temperatura è 37,8", 37.8),
    ("trentasette virgola otto", 37.8),
    ("mille", 1000),
    ("duemila", 2000),
    ("zero virgola cinque", 0.5),
    ("tre quattro sette", 347),
    ("circa 40", ("uncertain", 40)),
    ("il terzo", None),
    ("primo", None),
    ("boh", None),
    ("", None),
    ("tra 2 e 3", None),
    ("non saprei", None),
]

NUMBER_EN: list[tuple[str, float | str | None]] = [
    ("32", 32),
    ("3.5", 3.5),
    ("3,5", 3.5),
    ("0.25", 0.25),
    ("1,250", 1250),
    ("1,250.50", 1250.5),
    ("12.75", 12.75),
    ("-2.5", -2.5),
    ("100", 100),
    ("0", 0),
    ("three point five", 3.5),
    ("twenty point five", 20.5),
    ("one and a half", 1.5),
    ("two and a half", 2.5),
    ("a half", 0.5),
    ("half", 0.5),
    ("a quarter", 0.25),
    ("three quarters", 0.75),
    ("seven and three quarters", 7.75),
    ("one and a quarter", 1.25),
    ("thirty two", 32),
    ("twenty one", 21),
    ("a hundred and one", 101),
    ("minus five", -5),
    ("minus two point five", -2.5),
    ("it weighs 72.5 kilos", 72.5),
    ("seventy two point five", 72.5),
    ("my temperature is 37.8", 37.8),
    ("thirty seven point eight", 37.8),
    ("a thousand", 1000),
    ("two thousand", 2000),
    ("zero point five", 0.5),
    ("three four seven", 347),
    ("about 40", ("uncertain", 40)),
    ("the third", None),
    ("first", None),
    ("dunno", None),
    ("", None),
    ("between 2 and 3", None),
    ("no idea", None),
    ("point five", 0.5),
    ("2.5 million", 2500000),
    ("3 thousand", 3000),
]


def _got(kind: str, text: str, lang: str) -> object:
    r = extract(kind, text, lang, AT)
    if r is None:
        return None
    if r.invalid:
        return r.invalid
    return ("uncertain", r.value) if r.uncertain else r.value


@pytest.mark.parametrize(("text", "expected"), INTEGER_IT)
def test_integer_it(text: str, expected: object) -> None:
    got = _got("integer", text, "it")
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("text", "expected"), INTEGER_EN)
def test_integer_en(text: str, expected: object) -> None:
    got = _got("integer", text, "en")
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("text", "expected"), NUMBER_IT)
def test_number_it(text: str, expected: object) -> None:
    assert _got("number", text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), NUMBER_EN)
def test_number_en(text: str, expected: object) -> None:
    assert _got("number", text, "en") == expected


def test_layers() -> None:
    typed = extract("integer", "32", "it", AT)
    spoken = extract("integer", "trentadue", "it", AT)
    assert typed is not None and typed.layer == "pattern"
    assert spoken is not None and spoken.layer == "grammar"


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("zero tre tre", "it", "033"),
        ("doppio sette", "it", "77"),
        ("tre doppio quattro", "it", "344"),
        ("triplo zero", "it", "000"),
        ("più trentanove", "it", "+39"),
        ("più trentanove tre quattro sette", "it", "+39347"),
        ("zero zero trentanove", "it", "0039"),
        ("zero sei dodici trentaquattro cinquantasei settantotto", "it", "0612345678"),
        ("il mio numero è tre quattro sette uno due", "it", "34712"),
        ("347 123 4567", "it", "3471234567"),
        ("+39 347-1234567", "it", "+393471234567"),
        ("oh two", "en", "02"),
        ("double one", "en", "11"),
        ("oh two oh seven", "en", "0207"),
        ("plus forty four", "en", "+44"),
        ("triple nine", "en", "999"),
        ("nought seven seven", "en", "077"),
        ("ciao", "it", None),
        ("", "en", None),
        ("più", "it", None),
    ],
)
def test_spoken_digits(text: str, lang: str, expected: str | None) -> None:
    assert spoken_digits(text, lang) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.250", "1250"),
        ("1,250", "1250"),
        ("3,5", "3.5"),
        ("3.5", "3.5"),
        ("1.250,50", "1250.50"),
        ("1,250.50", "1250.50"),
        ("0,250", "0.250"),
        ("1.2.3", None),
        ("12", "12"),
    ],
)
def test_separator_policy(raw: str, expected: str | None) -> None:
    got = parse_digits(raw)
    assert (str(got) if got is not None else None) == expected
