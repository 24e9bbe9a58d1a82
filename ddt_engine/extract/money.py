"""Extractor: money, as a number of euros (float, rounded to the cent).

Spoken amounts by our own grammar over text2num ("venti euro e cinquanta" → 20.5,
"cinquanta centesimi" → 0.5, "twenty euros and fifty cents" → 20.5, "dieci euro e mezzo"
→ 10.5); written ones with the separator policy of ``numbers.parse_digits`` ("€ 1.250,00",
"12,50 euro", "1,250.00 euros"), and price-parser as a fallback for glued written forms
("EUR99,90"). Other currencies ("$15", "dieci dollari") are invalid_currency: the value is
in euros only. Decimal inside; pure, never raises.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from price_parser import Price

from ddt_engine.extract._a_text import bounded, correction, fold, hedged
from ddt_engine.extract.base import Extraction, ExtractOptions
from ddt_engine.extract.numbers import parse_digits, to_digits

__all__ = ["extract_money", "parse_money"]

_CENTS_WORDS = re.compile(r"\b(?:centesim[oi]|cent|cents|eurocent|eurocents)\b")
_OTHER_CURRENCY = re.compile(
    r"[$£¥]|\b(?:dollar[oi]?|dollars?|usd|sterlin[ae]|pounds?|gbp|yen|franchi|francs?|chf|"
    r"bucks?|quid|fivers?|tenners?)\b"
)
_A_EURO = re.compile(r"\ban?\s+(?=euros?\b|cnt\b)")
_NUM = r"\d+(?:[.,]\d+)*"
_CUR = r"(?:euro|euros|eur|€)"
_FORMS = [
    # venti e cinquanta euro → 20 e 50 euro
    re.compile(rf"(?<![\d.,])(?<!\d\s)(?P<n>\d+)\s+(?:e|and)\s+(?P<c>\d{{1,2}})(?!\d)\s*{_CUR}"),
    # 20 euro e 50 [centesimi] / 20 euros and 50 cents / 20 euro ½
    re.compile(
        rf"(?<![\d.,])(?<!\d\s)(?P<n>{_NUM})\s*(?:(?:di|d'|of)\s*)?{_CUR}\s*(?:(?:e|and|con|,)\s*)?"
        rf"(?:(?P<c>\d{{1,2}})(?!\d)(?:\s*cnt)?|(?P<f>[½¼¾]))"
    ),
    re.compile(rf"(?<![\d.,])(?<!\d\s)(?P<n>{_NUM})\s*(?:(?:di|d'|of)\s*)?{_CUR}"),  # 12,50 €
    re.compile(rf"{_CUR}\s*(?P<n>{_NUM})"),  # € 1.250,00 / EUR 99,90
    re.compile(r"(?<![\d.,])(?P<c>\d{1,2})\s*cnt\b"),  # 50 centesimi / fifty cents
]
_BARE = re.compile(
    rf"\s*(?:(?:sono|costa|fanno|it's|its|about|circa)\s+)?(?P<n>{_NUM})"
    r"(?:\s*(?:e|and|,)\s*(?P<c>\d{1,2})(?!\d)|\s*(?P<f>[½¼¾]))?\s*"
)
# "tra 20 e 30 euro", "20 o 30 euro", "between 20 and 30 euros": no one amount
_ALTERNATIVES = re.compile(
    rf"\b(?:tra|fra|between|from)\s+{_NUM}\s*{_CUR}?\s+(?:e|and|to|a)\s+{_NUM}"
    rf"|(?<![\d.,]){_NUM}\s*{_CUR}?\s+(?:o|or|oppure)\s+{_NUM}"
    rf"|(?<![\d.,])\d+,\s+\d+\s*{_CUR}"  # "venti, trenta euro": a range said as a list
)
# "ho pagato 20 euro e poi 30", "20 euros plus 30": two amounts
_TWO_AMOUNTS = re.compile(
    rf"{_NUM}\s*{_CUR}?\b.*\b(?:e\s+poi|poi|piu|and\s+then|then|plus|and\s+another|e\s+altri)"
    rf"\s+{_NUM}"
)
# "half a million", "mezzo milione": a fraction of the number said (not read)
_FRACTION_OF = re.compile(r"[½¼¾]\s*\d")
_ALTERNATIVE_HINTS = ("tra ", "fra ", "between", "from", " o ", " or ", "oppure", ", ")
# "venti euro venti euro": the amount said twice (another one is no match)
_TWICE = re.compile(rf"(?<![\d.,])({_NUM})\s*{_CUR}\s+({_NUM})\s*{_CUR}(?!\s*\d)")
_FRACTION = {"½": Decimal("0.5"), "¼": Decimal("0.25"), "¾": Decimal("0.75")}
_CENT = Decimal("0.01")


def parse_money(text: str, lang: str) -> tuple[Decimal, str] | str | None:
    """(amount in euros, layer), or "invalid_currency", or None."""
    lang = lang if lang in ("it", "en") else "it"
    folded = fold(text)
    if bounded(folded, lang):
        return None  # "più di venti euro", "up to 100 euros": a bound, not the amount
    fixed = correction(folded, lang)
    if fixed is not None:  # "venti euro anzi trenta": the amount after the marker
        got = parse_money(fixed[1], lang)
        if got is not None and (not fixed[0].strip() or parse_money(fixed[0], lang)):
            return got
    if _OTHER_CURRENCY.search(folded):
        return "invalid_currency"
    typed_digits = any(c.isdigit() for c in folded)
    s = _CENTS_WORDS.sub(" cnt ", folded)
    if lang == "en":
        s = _A_EURO.sub("one ", s)
    s = to_digits(s, lang)
    layer = "pattern" if typed_digits else "grammar"
    if any(w in s for w in _ALTERNATIVE_HINTS) and _ALTERNATIVES.search(s):
        return None
    if _TWO_AMOUNTS.search(s) or _FRACTION_OF.search(s):
        return None  # "20 euro e poi 30"; "half a million euros" (it was a million)
    twice = _TWICE.search(s) if s.count("eur") + s.count("€") > 1 else None
    if twice:
        a, b = parse_digits(twice.group(1)), parse_digits(twice.group(2))
        return (a, layer) if a is not None and a == b else None
    for rx in _FORMS:
        m = rx.search(s)
        if m is None:
            continue
        return _amount(m, layer)
    m = _BARE.fullmatch(s)
    if m:
        return _amount(m, layer)
    if typed_digits and ("€" in folded or "eur" in folded):
        price = Price.fromstring(text[:200])
        if price.amount is not None and price.currency:
            return Decimal(price.amount), "pattern"
    return None


def _amount(m: re.Match[str], layer: str) -> tuple[Decimal, str] | None:
    gd = m.groupdict()
    total = Decimal(0)
    if gd.get("n") is not None:
        n = parse_digits(gd["n"])
        if n is None:
            return None
        total += n
    if gd.get("c") is not None:
        total += Decimal(int(gd["c"])) * _CENT
    if gd.get("f") is not None:
        total += _FRACTION[gd["f"]]
    return total, layer


def extract_money(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """An amount in euros: "venti euro e cinquanta" → 20.5, "€ 1.250,00" → 1250.0."""
    got = parse_money(text, lang)
    if got is None:
        return None
    if isinstance(got, str):
        return Extraction(value=None, layer="grammar", invalid=got)
    amount, layer = got
    if amount.is_nan() or amount.is_infinite() or amount > Decimal("1e15"):
        return None
    vague = hedged(fold(text), lang)  # "circa venti euro", "about 45 euros": read back
    return Extraction(
        value=float(amount.quantize(_CENT, ROUND_HALF_UP)),
        layer=layer,
        confidence=0.8 if vague else 1.0,
        uncertain=vague,
    )
