"""Extractors: integer, number; and ``spoken_digits`` for codes spoken digit by digit.

Digits ("32", "1.250", "3,5"), numbers in words through text2num ("trentadue", "twenty
one", "a hundred and one"), digits said one by one ("tre quattro sette" → 347), signs
("meno cinque"), fractions ("due e mezzo" → 2.5, "a quarter" → 0.25). Ordinals ("il
terzo", "the 15th") are not quantities and do not match.

Separator policy (both languages): with both "." and "," the last one is the decimal
mark ("1.250,50", "1,250.50"); a single separator followed by exactly three digits is a
thousands separator ("1.250", "1,250" → 1250); otherwise it is a decimal mark ("3,5",
"3.5" → 3.5). Pure, deterministic, never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from text_to_num import alpha2digit

from ddt_engine.extract._a_text import MAX_CHARS, bounded, correction, fold, hedged, squash
from ddt_engine.extract.base import Extraction, ExtractOptions

__all__ = [
    "APPROXIMATE",
    "Num",
    "extract_integer",
    "extract_number",
    "find_numbers",
    "parse_digits",
    "spoken_digits",
    "to_digits",
]

_LANGS = ("it", "en")

# Cheap rejection: no digit and no number word stem → no number at all.
_MAYBE_NUMBER = {
    "it": re.compile(
        r"\d|[½¼¾]|\b(?:zero|un|due|tre|quatt|cinqu|sei|sett|ott|nov|dieci|undici|dodici|"
        r"tredici|quindici|sedici|diciass|dicio|dician|vent|trent|quarant|cinquant|sessant|"
        r"settant|ottant|novant|cent|mille|mila|milion|miliard|mezz|quart|dozzin)"
    ),
    "en": re.compile(
        r"\d|[½¼¾]|\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
        r"twelve|thirt|fift|sixt|sevent|eight|ninet|twent|fort|hundred|thousand|million|"
        r"billion|half|quarter|first|second|third|fifth|dozen|nought)"
    ),
}

# Fractions are rewritten to ½ ¼ ¾ BEFORE text2num, which reads "quarto" as an ordinal.
_FRACTIONS = {
    "it": [
        (re.compile(r"\b(?:e\s+)?(?:mezzo|mezza)\b"), " ½ "),
        (re.compile(r"\b(?:e\s+)?(?:un|1)\s+quarto\b"), " ¼ "),
        (re.compile(r"\b(?:e\s+)?(?:tre|3)\s+quarti\b"), " ¾ "),
    ],
    "en": [
        (re.compile(r"\b(?:and\s+)?(?:a|one)\s+half\b|\bhalf\b"), " ½ "),
        (re.compile(r"\b(?:and\s+)?(?:a|one)\s+quarter\b"), " ¼ "),
        (re.compile(r"\b(?:and\s+)?(?:three|3)\s+quarters\b"), " ¾ "),
    ],
}
# Each fraction pattern has one of these words: no hint, no rewriting to try.
_FRACTION_HINT = {"it": re.compile(r"mezz|quart"), "en": re.compile(r"half|quarter")}
_FRACTION_VALUE = {"½": Decimal("0.5"), "¼": Decimal("0.25"), "¾": Decimal("0.75")}

_ELISION = re.compile(r"(?<=[a-z])'(?=[a-z])")
_EN_A_NUMBER = re.compile(r"\ba\s+(hundred|thousand|million)\b")
_HYPHEN_WORDS = re.compile(r"(?<=[a-z])-(?=[a-z])")

_NUM_TOKEN = re.compile(
    r"(?P<num>\d+(?:[.,]\d+)*)(?P<ord>º|ª|°|st\b|nd\b|rd\b|th\b|esim[oa]\b)?"
    r"|(?P<frac>[½¼¾])"
    r"|(?P<sign>\bmeno\b|\bminus\b|\bnegative\b|(?<!\w)-|\+)"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<slash>[/:])"
)
_DECIMAL_WORDS = {"virgola", "punto", "point"}
_MULTIPLIERS = frozenset(
    "mila milione milioni miliardo miliardi thousand thousands million millions billion "
    "billions".split()
)
_MORE_OR_LESS = re.compile(r"\bpiu\s+o\s+meno\b")
_JOINERS = {"e", "and"}


@lru_cache(maxsize=8192)
def _alpha2digit(text: str, lang: str) -> str:
    try:
        return str(alpha2digit(text, lang, threshold=0))
    except Exception:  # noqa: BLE001 — a Rust panic or odd input must never escape
        return text


def to_digits(text: str, lang: str) -> str:
    """Folded ``text`` with numbers in words rewritten as digits and fractions as ½ ¼ ¾."""
    lang = lang if lang in _LANGS else "it"
    s = fold(text)
    if "'" in s:
        s = _ELISION.sub("' ", s)  # "dell'ottanta" → "dell' ottanta"
    if lang == "en":
        s = _EN_A_NUMBER.sub(r"one \1", s)
        if "-" in s:
            s = _HYPHEN_WORDS.sub(" ", s)
    if not _MAYBE_NUMBER[lang].search(s):
        return s
    if _FRACTION_HINT[lang].search(s):
        for rx, repl in _FRACTIONS[lang]:
            s = rx.sub(repl, s)
    if _has_multiplier(s) and _MULTIPLIED.search(s):  # before text2num too: it turns
        s = _MULTIPLIED.sub(_multiply, s)  # "thousand" into "1000"
    s = _alpha2digit(s[:MAX_CHARS], lang)
    if _has_multiplier(s) and _MULTIPLIED.search(s):
        s = _MULTIPLIED.sub(_multiply, s)
    return squash(s)


def _has_multiplier(s: str) -> bool:
    """Whether ``s`` has a word that _MULTIPLIED needs (a cheap test before the regex)."""
    return "mil" in s or "thousand" in s or "billion" in s


_MULTIPLIED = re.compile(
    r"(?<![\d.,])(\d{1,6}(?:[.,]\d{1,6})?)\s+"
    r"(mila|milion[ei]|miliard[oi]|thousand|millions?|billions?)\b"
)
_FACTOR = {"mila": 1000, "thousand": 1000, "milion": 10**6, "millio": 10**6}


def _multiply(m: re.Match[str]) -> str:
    """ "1 milione" → "1000000", "2,5 milioni" → "2500000" (text2num leaves digits alone)."""
    value = parse_digits(m.group(1))
    word = m.group(2)
    factor = _FACTOR.get(word, _FACTOR.get(word[:6], 10**9))
    if value is None:
        return m.group(0)
    product = value * factor
    if product == product.to_integral_value():
        return str(int(product))
    return format(product.normalize(), "f")


def parse_digits(s: str) -> Decimal | None:
    """A written number with the separator policy of this module ("1.250,5" → 1250.5)."""
    if not s or not s[0].isdigit() or len(s) > 24:  # no caller says a 25-digit quantity
        return None
    dots, commas = s.count("."), s.count(",")
    try:
        if dots and commas:
            dec = "." if s.rfind(".") > s.rfind(",") else ","
            thou = "," if dec == "." else "."
            if s.count(dec) != 1:
                return None
            head, tail = s.split(dec)
            groups = head.split(thou)
            if any(len(g) != 3 for g in groups[1:]) or not 1 <= len(groups[0]) <= 3:
                return None
            return Decimal("".join(groups) + "." + tail)
        if not dots and not commas:
            return Decimal(s)
        sep = "." if dots else ","
        parts = s.split(sep)
        if len(parts) > 2:
            if any(len(g) != 3 for g in parts[1:]) or not 1 <= len(parts[0]) <= 3:
                return None
            return Decimal("".join(parts))
        head, tail = parts
        if len(tail) == 3 and head != "0" and len(head) <= 3:
            return Decimal(head + tail)
        return Decimal(head + "." + tail)
    except (InvalidOperation, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Num:
    """A number found in an utterance: its value, raw digits and where it was."""

    value: Decimal
    raw: str
    index: int  # token index in the digit-rewritten text
    ordinal: bool = False
    spoken: bool = False  # came from words (or a fraction), not typed digits


def find_numbers(text: str, lang: str) -> list[Num]:
    """All numbers in ``text`` (words and digits), in order; signs and fractions applied."""
    lang = lang if lang in _LANGS else "it"
    raw_fold = fold(text)
    if not _MAYBE_NUMBER[lang].search(raw_fold if lang == "it" else raw_fold.replace("-", " ")):
        return []
    s = to_digits(text, lang)
    if "meno" in s:
        s = _MORE_OR_LESS.sub(" ", s)  # "più o meno trenta" is about 30, not -30
    typed = set(re.findall(r"\d+(?:[.,]\d+)*", raw_fold))
    out: list[Num] = []
    sign = 1
    pending_decimal = False
    leading_decimal = -10
    idx = 0
    for m in _NUM_TOKEN.finditer(s):
        idx += 1
        if m.group("sign") is not None:
            sign = -1 if m.group("sign") not in ("+",) else 1
            continue
        if m.group("slash") is not None:
            sign, pending_decimal = 1, False
            continue
        word = m.group("word")
        if word is not None:
            if word in _DECIMAL_WORDS and out and out[-1].index == idx - 1:
                pending_decimal = True
                continue
            if word in _DECIMAL_WORDS:
                leading_decimal = idx  # "point five", "virgola cinque"
                continue
            if word in _JOINERS:
                continue
            if word in _MULTIPLIERS:
                return []  # "mezzo milione", "half a million": a multiplier not read

            sign = 1
            pending_decimal = False
            continue
        frac = m.group("frac")
        if frac is not None:
            value = _FRACTION_VALUE[frac]
            # "un milione e mezzo" is 1,500,000, not 1,000,000.5: not merged (no match)
            big = bool(out) and abs(out[-1].value) >= 1000 and out[-1].value % 1000 == 0
            if out and out[-1].index >= idx - 2 and not out[-1].ordinal and not big:
                prev = out[-1]
                sgn = -1 if prev.value < 0 else 1
                out[-1] = Num(prev.value + sgn * value, prev.raw, idx, False, True)
            else:
                out.append(Num(sign * value, "", idx, False, True))
            sign = 1
            continue
        digits = m.group("num")
        if leading_decimal == idx - 1 and digits.isdigit():
            v = Decimal(f"0.{digits}")
            out.append(Num(sign * v, "0," + digits, idx, False, True))
            sign = 1
            continue
        if pending_decimal and out and out[-1].index == idx - 2 and digits.isdigit():
            prev = out[-1]
            if prev.raw.isdigit():
                v = Decimal(f"{prev.raw}.{digits}")
                out[-1] = Num(v if prev.value >= 0 else -v, prev.raw + "," + digits, idx)
                pending_decimal = False
                continue
        pending_decimal = False
        value_or_none = parse_digits(digits)
        if value_or_none is None:
            sign = 1
            continue
        out.append(
            Num(
                sign * value_or_none,
                digits,
                idx,
                ordinal=m.group("ord") is not None,
                spoken=digits not in typed,
            )
        )
        sign = 1
        if len(out) > 64:
            break
    return out


def _single(nums: list[Num], pairs: bool = False) -> Num | None:
    """The one quantity said; three digits or more said one by one are joined ("3 4 7" →
    347); two are none ("tre, quattro" is as often "three or four" as 34), unless the
    first is a zero ("zero sette" → 7) or ``pairs`` (digits correcting digits)."""
    cardinals = [n for n in nums if not n.ordinal]
    if len(cardinals) != len(nums) or not cardinals:
        return None
    if len(cardinals) == 1:
        return cardinals[0]
    one_by_one = all(
        n.raw.isdigit() and (len(n.raw) == 1 or n.raw.startswith("0")) and n.value >= 0
        for n in cardinals
    ) and all(b.index - a.index == 1 for a, b in zip(cardinals, cardinals[1:], strict=False))
    if one_by_one and len(cardinals) == 2 and not pairs and not cardinals[0].raw.startswith("0"):
        return None  # "tre, quattro", "three four": 34, or three or four? (ask again)
    if one_by_one:
        raw = "".join(n.raw for n in cardinals)
        return Num(Decimal(raw), raw, cardinals[-1].index, False, True)
    return None


# "un paio", "una decina", "a couple", "a few": an approximate quantity is no number
APPROXIMATE = re.compile(
    r"\b(?:un\s+paio|(?:una\s+)?(?:decina|quindicina|ventina|trentina|quarantina|cinquantina|"
    r"centinaio|migliaio|dozzina)|a\s+couple|a\s+few|several|a\s+dozen|dozens|hundreds|"
    r"thousands)\b"
)


def _corrected(text: str, lang: str) -> Num | None:
    """The quantity said after a self-correction marker ("trentadue anzi trentatré" → 33).

    Digits said one by one and corrected are a digit string: the digits said after the
    marker replace as many at its end ("uno due tre quattro no cinque" → 1235)."""
    fixed = correction(fold(text), lang if lang in _LANGS else "it")
    if fixed is None:
        return None
    head = find_numbers(fixed[0], lang)
    said = _single(head)
    if head and said is None:
        return None  # "347 123 456 7 no 8": a digit of a longer sequence, not a quantity
    got = _single(find_numbers(fixed[1], lang), pairs=said is not None and len(head) >= 2)
    if said is None or got is None or len(head) < 2 or not got.raw.isdigit():
        return got
    if len(got.raw) >= len(said.raw):
        return got
    raw = said.raw[: len(said.raw) - len(got.raw)] + got.raw
    return Num(Decimal(raw), raw, got.index, False, True)


# "a dozen", "half a dozen", "due dozzine": twelve each; Italian "una dozzina" is often
# approximate ("una dozzina di persone"), so it is uncertain there
_DOZEN = re.compile(
    r"\b(half\s+a|a|one|two|three|four|five|six|mezza|una|due|tre|quattro|cinque|sei)\s+"
    r"(dozen|dozzin[ae])\b"
)
_DOZENS = {
    **dict.fromkeys(("half a", "mezza"), Decimal("0.5")),
    **{w: Decimal(n) for n, ws in enumerate(
        (("a", "one", "una"), ("two", "due"), ("three", "tre"), ("four", "quattro"),
         ("five", "cinque"), ("six", "sei")), 1) for w in ws},
}  # fmt: skip


def _dozen(folded: str, lang: str) -> Extraction | None:
    """Dozens said as such, when they are the only quantity in the utterance."""
    m = _DOZEN.search(folded)
    if m is None or find_numbers(folded[: m.start()] + " " + folded[m.end() :], lang):
        return None
    value = int(_DOZENS[" ".join(m.group(1).split())] * 12)
    vague = m.group(2).startswith("dozzin") or hedged(folded, lang)
    return Extraction(value, "grammar", confidence=0.8 if vague else 1.0, uncertain=vague)


def _said(text: str, lang: str) -> Num | Extraction | None:
    """The quantity said in words or digits: dozens (read whole: an Extraction), none for a
    vague amount ("una decina") or a bound ("più di venti", "at least three"), else the one
    after a self-correction or the one said."""
    folded = fold(text)
    if bounded(folded, lang):
        return None
    if "dozen" in folded or "dozzin" in folded:
        return _dozen(folded, lang)
    if APPROXIMATE.search(folded):
        return None
    return _corrected(text, lang) or _single(find_numbers(text, lang))


def _grammar(
    text: str, lang: str, value: int | float, num: Num, invalid: str | None = None
) -> Extraction:
    """A quantity read by the grammar: uncertain when the caller said it is approximate
    ("circa venti", "about forty", "twenty or so")."""
    vague = hedged(fold(text), lang)
    return Extraction(
        value=value,
        layer="grammar" if num.spoken else "pattern",
        confidence=0.8 if vague else 1.0,
        uncertain=vague,
        invalid=invalid,
    )


_PLAIN_INT = re.compile(r"\s*([+-]?\d{1,18})\s*")
_PLAIN_DECIMAL = re.compile(r"\s*([+-]?)(\d{1,15}(?:[.,]\d{1,15}){1,5})\s*")


def extract_number(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    """A number (int when whole, else float): "3,5", "tre virgola cinque", "due e mezzo"."""
    m = _PLAIN_INT.fullmatch(text[:40])
    if m:
        return Extraction(value=int(m.group(1)), layer="pattern")
    m = _PLAIN_DECIMAL.fullmatch(text[:40])
    if m:
        d = parse_digits(m.group(2))
        if d is not None:
            d = -d if m.group(1) == "-" else d
            whole = d == d.to_integral_value()
            return Extraction(value=int(d) if whole else float(d), layer="pattern")
    num = _said(text, lang)
    if num is None or isinstance(num, Extraction):
        return num
    value: int | float = (
        int(num.value) if num.value == num.value.to_integral_value() else float(num.value)
    )
    return _grammar(text, lang, value, num)


def extract_integer(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    """A whole number: "32", "trentadue", "tre quattro sette" → 347; "3,5" is invalid."""
    m = _PLAIN_INT.fullmatch(text[:40])
    if m:
        return Extraction(value=int(m.group(1)), layer="pattern")
    num = _said(text, lang)
    if num is None or isinstance(num, Extraction):
        return num
    if num.value != num.value.to_integral_value():
        return _grammar(text, lang, float(num.value), num, invalid="not_integer")
    return _grammar(text, lang, int(num.value), num)


# --- digits said one by one, for phone numbers and codes --------------------------------

_SPOKEN_PRE = {
    "it": {"piu": "+", "doppio": "*2", "doppia": "*2", "triplo": "*3", "tripla": "*3"},
    "en": {
        "plus": "+",
        "double": "*2",
        "triple": "*3",
        "oh": "zero",
        "o": "zero",
        "nought": "zero",
        "naught": "zero",
    },
}
_WORD_OR_SYMBOL = re.compile(r"[^\W_]+|\+")


def spoken_digits(text: str, lang: str) -> str | None:
    """The digit string said in ``text``, keeping leading zeros; None when there is none.

    "zero tre tre" → "033"; "doppio sette" → "77"; "oh two" → "02"; "double one" → "11";
    "più trentanove tre quattro sette" → "+39347"; "347 12 34" → "3471234". Words that are
    not numbers are skipped; "+" is kept only at the start.
    """
    lang = lang if lang in _LANGS else "it"
    pre = _SPOKEN_PRE[lang]
    toks = _WORD_OR_SYMBOL.findall(fold(text))
    rewritten: list[str] = []
    repeat = 1
    for tok in toks[:200]:
        mapped = pre.get(tok, tok)
        if mapped.startswith("*"):
            repeat = int(mapped[1:])
            continue
        rewritten.extend([mapped] * repeat if mapped != "+" else [mapped])
        if mapped != "+":
            repeat = 1
    if not rewritten:
        return None
    converted = _alpha2digit(" ".join(rewritten), lang)
    out: list[str] = []
    for tok in _WORD_OR_SYMBOL.findall(converted):
        if tok == "+":
            if not out:
                out.append("+")
        elif tok.isdigit():
            out.append(tok)
        elif tok[:1].isdigit():  # "1º", "21st": keep the digits
            out.append("".join(c for c in tok if c.isdigit()))
    digits = "".join(out)
    if not digits.lstrip("+"):
        return None
    return digits
