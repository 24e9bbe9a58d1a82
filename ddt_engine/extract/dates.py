"""Extractors: date, day, month, year — a small Italian/English date grammar.

Absolute dates ("il 3 marzo 1980", "March 3rd, 1980", "3/3/80", "1980-03-03"), partial
dates as dicts of the parts said ("marzo 1980" → {"month": 3, "year": 1980}), relative
words resolved against ``at`` only ("dopodomani", "tra tre giorni", "next friday"), and
impossible dates ("31/02/2020", "45 marzo") as ``invalid="invalid_date"`` — never a wrong
date. dateparser is not used: the grammar is faster and has none of its traps.

Policies (see docs/extract-spoken.md): numeric dates are D/M/Y in Italian; in English
M/D/Y, unless the first number is over 12 (then D/M/Y), and a form where both readings are
possible is marked uncertain. A two-digit year is put in the window [at.year - 80,
at.year + 19] and marked uncertain. A bare weekday or "next <weekday>" is the coming one
(1-7 days ahead); "scorso"/"last" the previous one.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ddt_engine.extract._a_text import (
    HESITATIONS,
    ORDINALS,
    correction,
    couple_as_two,
    fold,
    hedged,
)
from ddt_engine.extract.base import Extraction, ExtractOptions
from ddt_engine.extract.numbers import APPROXIMATE, to_digits

__all__ = [
    "DateParse",
    "extract_date",
    "extract_day",
    "extract_month",
    "extract_year",
    "parse_date",
    "pivot_year",
]

INVALID = "invalid_date"

MONTHS: dict[str, dict[str, int]] = {
    "it": {
        "gennaio": 1, "gen": 1, "febbraio": 2, "feb": 2, "febb": 2, "marzo": 3, "mar": 3,
        "aprile": 4, "apr": 4, "maggio": 5, "mag": 5, "giugno": 6, "giu": 6, "luglio": 7,
        "lug": 7, "agosto": 8, "ago": 8, "settembre": 9, "set": 9, "sett": 9, "ottobre": 10,
        "ott": 10, "novembre": 11, "nov": 11, "dicembre": 12, "dic": 12,
    },
    "en": {
        "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
        "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
        "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11,
        "nov": 11, "december": 12, "dec": 12,
    },
}  # fmt: skip
# "may" and the short forms count as months only next to a number ("may 1st", "3 mar").
_WEAK_MONTHS = {"may", "mar", "gen", "feb", "apr", "mag", "giu", "lug", "ago", "set", "sett",
                "ott", "nov", "dic", "febb", "jan", "jun", "jul", "aug", "sep", "sept", "oct",
                "dec"}  # fmt: skip

WEEKDAYS: dict[str, dict[str, int]] = {
    "it": {"lunedi": 0, "martedi": 1, "mercoledi": 2, "giovedi": 3, "venerdi": 4,
           "sabato": 5, "domenica": 6},
    "en": {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
           "saturday": 5, "sunday": 6},
}  # fmt: skip

_SKIP = {
    "it": {"il", "lo", "la", "l", "i", "di", "del", "dell", "nel", "dal", "e", "data",
           "giorno", "anno", "mese", "sono", "nato", "nata", "era", "e'", *HESITATIONS},
    "en": {"the", "of", "on", "in", "and", "year", "day", "date", "born", "it", "s", "was",
           "is", "i", "m", "a", *HESITATIONS},
}  # fmt: skip
_ARTICLES = {"il", "l", "the", "lo"}
_TIME_MARKERS = {"alle", "all", "ore", "le", "verso", "at", "around", "by", "dalle", "entro"}
_TIME_AFTER = {"am", "pm", "oclock", "e", "meno", "and", "in", "del", "di", "of"}

_TOKEN = re.compile(
    r"(?P<iso>\d{4}(?P<isep>[-/.])\d{1,2}(?P=isep)\d{1,2})(?!\d)"
    r"|(?P<num3>\d{1,2})(?P<s1>[/.\-])(?P<num3b>\d{1,2})(?P=s1)(?P<num3c>\d{4}|\d{2})(?![\d:])"
    r"|(?P<clock>\d{1,2}[:.]\d{2})(?![\d./])"
    r"|(?P<num2>\d{1,2})/(?P<num2b>\d{1,2})(?![\d/])"
    r"|(?P<n>\d+)(?P<ord>º|ª|°|o\b|a\b|st\b|nd\b|rd\b|th\b|esim[oa]\b)?"
    r"|(?P<w>[a-z]+)"
    r"|(?P<apos>')"
)


@dataclass(frozen=True, slots=True)
class DateParse:
    """What the date grammar found: a full date, a partial dict, or an invalid reason."""

    value: str | int | dict[str, int] | None
    uncertain: bool = False
    invalid: str | None = None
    layer: str = "grammar"


@dataclass(slots=True)
class _Tok:
    kind: str  # "n" number, "m" month, "wd" weekday, "w" word, "t" time, "iso", "num3", "num2"
    value: Any
    raw: str = ""
    ordinal: bool = False
    article: bool = False  # a number after il/the


def pivot_year(yy: int, at: date) -> int:
    """A two-digit year in the window [at.year - 80, at.year + 19]."""
    low = at.year - 80
    year = (low // 100) * 100 + yy
    if year < low:
        year += 100
    return year


def _max_day(month: int, year: int | None) -> int:
    if year is None:
        return 29 if month == 2 else calendar.monthrange(2001, month)[1]
    return calendar.monthrange(year, month)[1]


def _tokenise(s: str, lang: str) -> list[_Tok]:
    months, weekdays, skip = MONTHS[lang], WEEKDAYS[lang], _SKIP[lang]
    toks: list[_Tok] = []
    words = list(_TOKEN.finditer(s))
    prev_word = ""
    for i, m in enumerate(words[:80]):
        # the alternative that matched, by the last group it closed (one per alternative)
        kind = m.lastgroup
        if kind == "w":
            w = m.group("w")
            if w in months:
                toks.append(_Tok("m", months[w], w))
            elif w in weekdays:
                toks.append(_Tok("wd", weekdays[w], w))
            elif lang == "it" and w in ("primo", "prima"):
                toks.append(_Tok("n", 1, "1", True, prev_word in _ARTICLES))
            elif w not in skip:
                toks.append(_Tok("w", w))
            prev_word = w
            continue
        if kind == "n" or kind == "ord":
            raw = m.group("n")
            nxt = words[i + 1].group() if i + 1 < len(words) else ""
            is_ord = kind == "ord"
            if not is_ord and (prev_word in _TIME_MARKERS or nxt in ("am", "pm", "oclock")):
                toks.append(_Tok("t", raw))
            else:
                toks.append(_Tok("n", int(raw[:9]), raw, is_ord, prev_word in _ARTICLES))
        elif kind == "iso":
            y, mo, d = (int(x) for x in re.split(r"[-/.]", m.group("iso")))
            toks.append(_Tok("iso", (y, mo, d)))
        elif kind == "num3c":
            parts = (m.group("num3"), m.group("num3b"), m.group("num3c"))
            toks.append(_Tok("num3", parts, m.group("s1")))
        elif kind == "clock":
            toks.append(_Tok("t", m.group("clock")))
        elif kind == "num2b":
            toks.append(_Tok("num2", (m.group("num2"), m.group("num2b"))))
        else:  # an apostrophe
            continue
        prev_word = ""
    # Weak month names only count next to a number.
    for i, t in enumerate(toks):
        if t.kind == "m" and t.raw in _WEAK_MONTHS:
            before = i > 0 and toks[i - 1].kind == "n"
            if not before and not (i + 1 < len(toks) and toks[i + 1].kind == "n"):
                toks[i] = _Tok("w", t.raw, t.raw)
    return toks


def _year_at(toks: list[_Tok], i: int, lang: str, at: date) -> tuple[int, int, bool] | None:
    """A year starting at ``toks[i]``: (year, tokens used, uncertain)."""
    if i >= len(toks) or toks[i].kind != "n" or toks[i].ordinal:
        return None
    t = toks[i]
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    # "nineteen eighty" → 19 80; "twenty twenty five" → 20 25
    if (
        nxt is not None
        and nxt.kind == "n"
        and not nxt.ordinal
        and 10 <= t.value <= 29
        and len(t.raw) == 2
        and len(nxt.raw) == 2
        and not (t.value <= 12 and nxt.value <= 59)  # "ten thirty" is a time, not 1030
    ):
        return t.value * 100 + nxt.value, 2, False
    if len(t.raw) == 4 or (len(t.raw) == 3 and t.value >= 100):
        return t.value, 1, False
    if len(t.raw) <= 2 and not t.article:
        return pivot_year(t.value, at), 1, True
    return None


def _numeric(parts: tuple[str, str, str], lang: str, at: date) -> DateParse:
    a, b, c = (int(p) for p in parts)
    uncertain = False
    if len(parts[2]) == 2:
        year = pivot_year(c, at)
        uncertain = True
    else:
        year = c
    if lang == "en":
        if a > 12 >= b:
            day, month = a, b
        else:
            month, day = a, b
            if a != b and a <= 12 and b <= 12:
                uncertain = True
    else:
        day, month = a, b
    return _full(day, month, year, uncertain, "pattern")


def _full(day: int, month: int, year: int, uncertain: bool, layer: str) -> DateParse:
    if not 1000 <= year <= 2999:
        return DateParse(None, invalid=INVALID, layer=layer)
    try:
        d = date(year, month, day)
    except ValueError:
        return DateParse(None, invalid=INVALID, layer=layer)
    return DateParse(d.isoformat(), uncertain, layer=layer)


def _partial(day: int | None, month: int | None, year: int | None, uncertain: bool) -> DateParse:
    if day is not None and month is not None and year is not None:
        return _full(day, month, year, uncertain, "grammar")
    if day is not None and not 1 <= day <= 31:
        return DateParse(None, invalid=INVALID)
    if month is not None and not 1 <= month <= 12:
        return DateParse(None, invalid=INVALID)
    if day is not None and month is not None and day > _max_day(month, year):
        return DateParse(None, invalid=INVALID)
    parts: dict[str, int] = {}
    if day is not None:
        parts["day"] = day
    if month is not None:
        parts["month"] = month
    if year is not None:
        parts["year"] = year
    return DateParse(parts or None, uncertain)


def _compact(toks: list[_Tok], lang: str, at: date) -> DateParse | None:
    """A date said as one string of digits, as keyed in: "12031980", "uno due zero tre uno
    nove otto zero" (DDMMYYYY; in English MMDDYYYY as a numeric date), or 6 digits
    (DDMMYY). Spoken digit by digit it is uncertain (read back). None when ``toks`` are not
    all plain numbers or are one of the numeric forms the grammar reads ("12 03 1980")."""
    if not toks or any(t.kind != "n" or t.ordinal for t in toks):
        return None
    digits = "".join(t.raw for t in toks)
    if not digits.isdigit() or len(digits) not in (6, 8):
        return None
    if len(toks) != 1 and len(toks) < 4:
        return None  # "12 03 1980", "1 2 1980": the day, month and year said apart
    got = _numeric((digits[:2], digits[2:4], digits[4:]), lang, at)
    if len(toks) > 1 and got.value is not None:
        return DateParse(got.value, True, layer=got.layer)
    return got


def _year_first(toks: list[_Tok], lang: str, at: date) -> DateParse | None:
    """A date whose year is said first: "nel 1980, il 12 marzo", "nineteen seventy five,
    June fifth". None when ``toks`` do not open with a four-digit year (or "nineteen
    seventy five") followed by a day and a month."""
    i = next((k for k, t in enumerate(toks) if t.kind != "w"), None)
    if i is None or not any(t.kind == "m" for t in toks[i:]):
        return None
    y = _year_at(toks, i, lang, at)
    if y is None or y[2] or not 1000 <= y[0] <= 2999:
        return None  # a two-digit number first is a day ("12 marzo"), not a year
    rest = _absolute(toks[i + y[1] :], lang, at)
    if rest is None or not isinstance(rest.value, dict) or "year" in rest.value:
        return None
    return _partial(rest.value.get("day"), rest.value.get("month"), y[0], rest.uncertain)


def _absolute(toks: list[_Tok], lang: str, at: date) -> DateParse | None:
    compact = _compact(toks, lang, at)
    if compact is not None:
        return compact
    first = _year_first(toks, lang, at)
    if first is not None:
        return first
    n = len(toks)
    for i, t in enumerate(toks):
        if t.kind == "iso":
            y, mo, d = t.value
            return _full(d, mo, y, False, "pattern")
        if t.kind == "num3":
            return _numeric(t.value, lang, at)
        if t.kind == "num2":
            a, b = int(t.value[0]), int(t.value[1])
            day, month = (b, a) if lang == "en" and not a > 12 >= b else (a, b)
            if lang == "en" and a != b and a <= 12 and b <= 12:
                return _partial(day, month, None, True)
            return _partial(day, month, None, False)
        if t.kind == "n" and i + 1 < n and toks[i + 1].kind == "m":
            # D MONTH [YEAR]: "3 marzo 1980", "the 1st of may", "45 marzo" (invalid)
            y = _year_at(toks, i + 2, lang, at)
            if y is None:
                return _partial(t.value, toks[i + 1].value, None, False)
            return _partial(t.value, toks[i + 1].value, y[0], y[2])
        if (
            t.kind == "n"
            and i + 2 < n
            and toks[i + 1].kind == "n"
            and toks[i + 2].kind == "n"
            and not (t.ordinal or toks[i + 1].ordinal or toks[i + 2].ordinal)
            and len(t.raw) <= 2
            and len(toks[i + 1].raw) <= 2
            and len(toks[i + 2].raw) in (2, 4)
        ):
            # "il dodici del dodici dell'ottantacinque", "03 03 1980": as a numeric date
            return _numeric((t.raw, toks[i + 1].raw, toks[i + 2].raw), lang, at)
        if t.kind == "m":
            month = t.value
            nxt = toks[i + 1] if i + 1 < n else None
            if nxt is not None and nxt.kind == "n":
                y_only = _year_at(toks, i + 1, lang, at)
                is_day = nxt.ordinal or (nxt.value <= 31 and len(nxt.raw) <= 2)
                if is_day and not (y_only is not None and y_only[1] == 2):
                    # MONTH D [YEAR]: "march 3rd 1980", "may 1st"
                    y = _year_at(toks, i + 2, lang, at)
                    if y is None:
                        return _partial(nxt.value, month, None, False)
                    return _partial(nxt.value, month, y[0], y[2])
                if y_only is not None:
                    return _partial(None, month, y_only[0], y_only[2])
            return _partial(None, month, None, False)
    return None


_QUANTITY_WORDS = frozenset(
    "anni years old euro euros eur persone people volte times minuti minutes ore hours "
    "minuto minute hour ora oretta "
    "chili kg percento percent figli children kids".split()  # not "per": "per il 20"
)


# A time of day said with the number ("half past ten", "dieci e mezza" → "10 ½", "quarter
# to eleven", "ten o'clock", "undici meno un quarto"): the number is an hour, not a day.
_TIME_SAID = re.compile(
    r"[½¼¾]|\b(?:quarter|past|clock|oclock|meno|mezza|mezzo|noon|midnight|midday|"
    r"mezzogiorno|mezzanotte)\b"
)


def _bare_number(toks: list[_Tok], at: date, s: str = "") -> DateParse | None:
    """A lone number: "il 15" / "the 15th" / "15" a day; "1980" / "ottanta" a year. A
    number said as an hour ("half past ten") is none: no article or ordinal makes it a day."""
    nums = [t for t in toks if t.kind == "n"]
    if any(t.kind == "w" and t.value in _QUANTITY_WORDS for t in toks):
        return None  # "ho 38 anni", "3 persone", "20 euro": a quantity, not a date
    if len(nums) == 1 and all(t.kind in ("n", "w", "wd") for t in toks):
        t = nums[0]
        if len(t.raw) == 4 and not t.ordinal:
            return _partial(None, None, t.value, False) if 1000 <= t.value <= 2999 else None
        if t.ordinal or t.article:
            return _partial(t.value, None, None, False)
        if t.value <= 31:
            return None if _TIME_SAID.search(s) else _partial(t.value, None, None, False)
        if len(t.raw) == 2:
            return _partial(None, None, pivot_year(t.value, at), True)
        return None
    if (
        len(nums) == 2
        and len(toks) == 2
        and (toks[0].article or toks[0].ordinal)
        and toks[0].value <= 31
        and len(toks[1].raw) == 4
        and not toks[1].ordinal
    ):  # "the 6th, 1975" (a day corrected with its year): a day and a year
        return _partial(toks[0].value, None, toks[1].value, False)
    if len(nums) == 2 and len(toks) == 2 and toks[0].article:  # "il 12 del 12"
        return _partial(toks[0].value, toks[1].value, None, False) if toks[1].value <= 12 else None
    if len(nums) == 2 and len(toks) == 2:  # "nineteen eighty"
        y = _year_at(toks, 0, "en", at)
        if y is not None and y[1] == 2:
            return _partial(None, None, y[0], False)
    return None


# --- relative expressions ----------------------------------------------------------------

_N = r"(\d+|un|una|uno|a|an|one)"
_UNIT_IT = r"(giorn[oi]|settiman[ae]|mes[ei]|ann[oi])"
_UNIT_EN = r"(days?|weeks?|fortnights?|months?|years?)"

_RELATIVE: dict[str, list[tuple[re.Pattern[str], int]]] = {
    "it": [
        (re.compile(r"\b(?:l'\s*|l\s+)?altro\s*ieri\b|\baltroieri\b|\bieri\s+l'?\s*altro\b"
                    r"|\bavant'?\s*ieri\b"), -2),
        (re.compile(r"\bdopo\s*domani\b|\bdomani\s+l'?\s*altro\b"), 2),
        (re.compile(r"\b(?:oggi|stamattina|stamani|stamane|stasera|stanotte)\b"), 0),
        (re.compile(r"\bdomani\b"), 1),
        (re.compile(r"\bieri\b"), -1),
    ],
    "en": [
        (re.compile(r"\b(?:the\s+)?day\s+before\s+yesterday\b"), -2),
        (re.compile(r"\b(?:the\s+)?day\s+after\s+tomorrow\b"), 2),
        (re.compile(r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening))\b"), 0),
        (re.compile(r"\b(?:tomorrow|tmrw|tmr|2moro|2morrow)\b"), 1),
        (re.compile(r"\byesterday\b"), -1),
    ],
}  # fmt: skip
_IN_N = {
    "it": re.compile(rf"\b(?:tra|fra|entro)\s+{_N}\s+{_UNIT_IT}\b"),
    "en": re.compile(
        rf"\b(?:in|within)\s+{_N}\s+{_UNIT_EN}\b"
        rf"|\b{_N}\s+{_UNIT_EN}\s+(?:from\s+(?:now|today)|later)\b"
    ),
}  # fmt: skip
# "two weeks from today", "a week from tomorrow", "una settimana da domani": from that day
_FROM_DAY = {
    "it": re.compile(
        rf"\b{_N}\s+{_UNIT_IT}\s+(?:da|a\s+partire\s+da)\s+(oggi|adesso|ora|domani)\b"
    ),
    "en": re.compile(rf"\b{_N}\s+{_UNIT_EN}\s+(?:from|after)\s+(today|now|tomorrow)\b"),
}
# "oggi a otto", "domani a quindici", "martedì a otto": a week / two weeks from that day
# (Italian)
_A_OTTO = re.compile(
    r"\b(oggi|domani|lunedi|martedi|mercoledi|giovedi|venerdi|sabato|domenica)\s+a\s+(8|15)\b"
    r"(?!\s*(?:[:.,]\d|or[ae]\b|minut))"
)
# "Tuesday week", "a week on Tuesday", "Friday after next" (English): a week after the
# coming one
_WEEK_LATER = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+(?:week|after\s+next)\b"
    r"|\ba\s+week\s+(?:(?:on|from|after)\s+)?(?:this\s+|next\s+)?"
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
)
# "Monday fortnight", "a fortnight on Monday" (English): two weeks after the coming one
_FORTNIGHT_LATER = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+fortnight\b"
    r"|\b(?:a|1|one)\s+fortnight\s+(?:(?:on|from|after)\s+)?(?:this\s+|next\s+)?"
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
)
_N_AGO = {
    "it": re.compile(rf"\b{_N}\s+{_UNIT_IT}\s+fa\b"),
    "en": re.compile(rf"\b{_N}\s+{_UNIT_EN}\s+ago\b"),
}
_NEXT_WEEK = {
    "it": re.compile(r"\b(?:settimana\s+prossima|prossima\s+settimana)\b"),
    "en": re.compile(r"\bnext\s+week\b"),
}
_LAST_WEEK = {
    "it": re.compile(r"\b(?:settimana\s+scorsa|scorsa\s+settimana)\b"),
    "en": re.compile(r"\blast\s+week\b"),
}
_NEXT_MONTH = {
    "it": re.compile(r"\b(?:mese\s+prossimo|prossimo\s+mese)\b"),
    "en": re.compile(r"\bnext\s+month\b"),
}
_LAST_MONTH = {
    "it": re.compile(r"\b(?:mese\s+scorso|scorso\s+mese)\b"),
    "en": re.compile(r"\blast\s+month\b"),
}
_WEEKDAY_RE = {
    "it": re.compile(
        r"\b(?:(prossimo|prossima|questo|questa|scorso|scorsa)\s+)?"
        r"(lunedi|martedi|mercoledi|giovedi|venerdi|sabato|domenica)"
        r"(?:\s+(prossimo|prossima|scorso|scorsa|che\s+viene))?\b"
    ),
    "en": re.compile(
        r"\b(?:(next|this|last|coming|on)\s+)?"
        r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    ),
}
_PAST_WORDS = {"scorso", "scorsa", "last"}
_RELATIVE_HINT = re.compile(
    r"oggi|domani|ieri|stam|stas|stanotte|giorn|settiman|mes[ei]|ann[oi]|\bfa\b|"
    r"luned|marted|mercoled|gioved|venerd|sabato|domenica|"
    r"today|tonight|tomorrow|tmrw?\b|2moro|yesterday|this|days?|weeks?|fortnight|months?|years?|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)


def _count(tok: str) -> int:
    return int(tok[:4]) if tok.isdigit() else 1


def add_months(d: date, months: int) -> date:
    """``d`` moved by whole months, the day clamped to the month's end (31 gen + 1 → 28 feb)."""
    total = d.year * 12 + (d.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise OverflowError("year out of range")
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _shift(base: date, n: int, unit: str) -> date:
    u = unit[:3]
    if u in ("gio", "day"):
        return base + timedelta(days=n)
    if u in ("set", "wee"):
        return base + timedelta(weeks=n)
    if u == "for":  # "in a fortnight"
        return base + timedelta(weeks=2 * n)
    if u in ("mes", "mon"):
        return add_months(base, n)
    return add_months(base, 12 * n)


_NEAR_DAYS = 31
"""A weekday with a day number ("sabato 14") further than this from today is uncertain."""

_Rel = tuple[DateParse, str, int]  # (result, "fixed" | "weekday" | "month", weekday)


def _relative(s: str, lang: str, base: date, past: bool = False) -> _Rel | None:
    if not _RELATIVE_HINT.search(s):
        return None
    m = _FROM_DAY[lang].search(s)
    if m:
        n = _count(m.group(1))
        start = base + timedelta(days=1 if m.group(3) in ("domani", "tomorrow") else 0)
        return DateParse(_shift(start, n, m.group(2)).isoformat()), "fixed", -1
    if lang == "it":
        m = _A_OTTO.search(s)
        if m:
            day = m.group(1)
            if day in WEEKDAYS["it"]:  # the coming one, 1-7 days ahead
                start = base + timedelta(days=(WEEKDAYS["it"][day] - base.weekday()) % 7 or 7)
            else:
                start = base + timedelta(days=1 if day == "domani" else 0)
            return (
                DateParse((start + timedelta(days=7 if m.group(2) == "8" else 14)).isoformat()),
                "fixed",
                -1,
            )
    for rx, days in _RELATIVE[lang]:
        if rx.search(s):
            return DateParse((base + timedelta(days=days)).isoformat()), "fixed", -1
    m = _IN_N[lang].search(s)
    if m:
        g = [x for x in m.groups() if x is not None]
        n = _count(g[0])
        if n > 3660:
            return None
        if lang == "it" and n in (8, 15) and g[1].startswith("giorn"):
            # "tra quindici giorni", "fra otto giorni": in two weeks, in a week, as "oggi a
            # quindici" / "oggi a otto" (many callers mean that, some the exact count): a
            # guess, read back
            days = 7 if n == 8 else 14
            return DateParse((base + timedelta(days=days)).isoformat(), uncertain=True), "fixed", -1
        return DateParse(_shift(base, n, g[1]).isoformat()), "fixed", -1
    m = _N_AGO[lang].search(s)
    if m:
        n = _count(m.group(1))
        if n > 3660:
            return None
        return DateParse(_shift(base, -n, m.group(2)).isoformat()), "fixed", -1
    m = _WEEKDAY_RE[lang].search(s)
    if m:
        before, name, after = m.group(1), m.group(2), m.group(3) if lang == "it" else None
        target = WEEKDAYS[lang][name]
        bare = before in (None, "on") and after is None
        if (before in _PAST_WORDS or after in _PAST_WORDS) or (
            past
            and bare
            and not _NEXT_WEEK[lang].search(s)
            and not _WEEK_LATER.search(s)
            and not _FORTNIGHT_LATER.search(s)
        ):
            # "sabato scorso", "last Saturday"; and with ``past`` (a DDT whose dates are in
            # the past: "it was Friday night") a weekday said alone is the last one
            delta = (base.weekday() - target) % 7 or 7
            return DateParse((base - timedelta(days=delta)).isoformat()), "weekday", target
        if _NEXT_WEEK[lang].search(s):  # "venerdì della settimana prossima": that week's
            monday = base + timedelta(days=7 - base.weekday())
            return DateParse((monday + timedelta(days=target)).isoformat()), "weekday", target
        delta = (target - base.weekday()) % 7 or 7
        if lang == "en" and _FORTNIGHT_LATER.search(s):
            delta += 14
        elif lang == "en" and _WEEK_LATER.search(s):
            delta += 7
        return DateParse((base + timedelta(days=delta)).isoformat()), "weekday", target
    if _NEXT_WEEK[lang].search(s):
        return DateParse((base + timedelta(days=7)).isoformat(), uncertain=True), "fixed", -1
    if _LAST_WEEK[lang].search(s):
        return DateParse((base - timedelta(days=7)).isoformat(), uncertain=True), "fixed", -1
    if _NEXT_MONTH[lang].search(s):
        d = add_months(base.replace(day=1), 1)
        return DateParse({"month": d.month, "year": d.year}), "month", -1
    if _LAST_MONTH[lang].search(s):
        d = add_months(base.replace(day=1), -1)
        return DateParse({"month": d.month, "year": d.year}), "month", -1
    return None


_YEAR_WORDS = {
    "it": (
        (re.compile(r"\bquest'?\s*anno\b"), 0),
        (re.compile(r"\banno\s+prossimo\b|\bprossimo\s+anno\b"), 1),
        (re.compile(r"\banno\s+scorso\b|\bscorso\s+anno\b"), -1),
    ),
    "en": (
        (re.compile(r"\bthis\s+year\b"), 0),
        (re.compile(r"\bnext\s+year\b"), 1),
        (re.compile(r"\blast\s+year\b"), -1),
    ),
}


def _year_shift(s: str, lang: str) -> int | None:
    for rx, shift in _YEAR_WORDS[lang]:
        if rx.search(s):
            return shift
    return None


_FAST_NUMERIC = re.compile(r"\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})\s*")
_FAST_ISO = re.compile(r"\s*(\d{4})([-/.])(\d{1,2})\2(\d{1,2})\s*")


def parse_date(text: str, lang: str, at: datetime, past: bool = False) -> DateParse | None:
    """The date said in ``text`` (full, partial or invalid), resolved against ``at``;
    ``past``: a weekday said alone ("venerdì", "sabato 14") is the last such day, not the
    coming one (a DDT with ``missing_year: past``)."""
    lang = lang if lang in MONTHS else "it"
    base = at.date()
    if len(text) <= 24:  # fast path for typed dates: "03/03/1980", "1980-03-03"
        m = _FAST_NUMERIC.fullmatch(text)
        if m:
            return _numeric((m.group(1), m.group(3), m.group(4)), lang, base)
        m = _FAST_ISO.fullmatch(text)
        if m:
            return _full(int(m.group(4)), int(m.group(3)), int(m.group(1)), False, "pattern")
    fixed = correction(fold(text), lang)
    if fixed is not None:
        got = _corrected(fixed[0], fixed[1], lang, base, past)
        if got is not None:
            return got
    return _parse(text, lang, base, past)


def _corrected(head: str, tail: str, lang: str, base: date, past: bool = False) -> DateParse | None:
    """The date of a self-correction ("il 15 anzi il 16", "the 3rd of march, no, the 4th"):
    the one said after the marker, completed with the month and year said before it
    ("il 3 marzo anzi il 4" → 4 March), uncertain when completed. None when the tail holds
    no date (the whole utterance is read as usual)."""
    got = _parse(tail, lang, base, past)
    if got is None or got.invalid or not isinstance(got.value, dict):
        return got if got is not None and (got.invalid or got.value is not None) else None
    parts = got.value
    if set(parts) == {"day"}:
        toks = _tokenise(to_digits(tail, lang), lang)
        said_as_day = any(t.kind == "n" and (t.article or t.ordinal) for t in toks)
        before = _parse(head, lang, base, past)
        if before is None or before.invalid or before.value is None:
            return got if said_as_day else DateParse(None)
        if _relative(to_digits(head, lang), lang, base) is not None:
            # "tra tre giorni anzi quattro" is no day of the month; "domani anzi il 15"
            # is, but of which month is not said
            return got if said_as_day else DateParse(None)
        return _complete(parts, before.value, coarser=("month", "year"))
    if set(parts) == {"month"} or set(parts) == {"day", "month"}:
        before = _parse(head, lang, base, past)
        if before is None or before.invalid or before.value is None:
            return got
        return _complete(parts, before.value, coarser=("year",))
    if set(parts) in ({"year"}, {"day", "year"}):
        # "12 marzo 1980, no, 1981", "June 5th, no, the 6th, 1975": the day and month (or
        # the month) said before, with what the correction changed
        before = _parse(head, lang, base, past)
        if before is None or before.invalid or before.value is None:
            return got
        return _complete(parts, before.value, coarser=("month", "day"))
    return got


def _complete(parts: dict[str, int], before: object, coarser: tuple[str, ...]) -> DateParse:
    """``parts`` with the ``coarser`` parts taken from an earlier value, uncertain if any."""
    if isinstance(before, str):
        y, m, d = (int(x) for x in before.split("-"))
        earlier = {"year": y, "month": m, "day": d}
    elif isinstance(before, dict):
        earlier = before
    else:
        return DateParse(parts)
    merged = dict(parts)
    for key in coarser:
        if key not in merged and key in earlier:
            merged[key] = earlier[key]
    if merged == parts:
        return DateParse(parts)
    return _partial(merged.get("day"), merged.get("month"), merged.get("year"), True)


# "il 3 o il 4 marzo", "tra il 3 e il 4", "march 3rd or 4th": two days, no one date
_ART = r"(?:(?:il|the|l'?)\s*)?"
_ORD = r"(?:st|nd|rd|th|º|°)?"
_MONTH_WORD = "(?:" + "|".join(sorted({*MONTHS["it"], *MONTHS["en"]}, key=len, reverse=True)) + ")"
_ALTERNATIVES = re.compile(
    rf"\b\d{{1,2}}{_ORD}(?:\s+[a-z]+)?\s+(?:o|or|oppure)\s+{_ART}\d{{1,2}}{_ORD}(?![\d:.])"
    rf"|\b(?:tra|fra|between)\s+{_ART}\d{{1,2}}{_ORD}\s+(?:e|and)\s+{_ART}\d{{1,2}}{_ORD}(?![\d:.])"
)
# Lists and ranges of days with a month; tried only when a hint word or sign is there.
_LISTS = re.compile(
    # "il 3, 4 marzo", "the 3rd, 4th of March": a list of days
    rf"\b\d{{1,2}}{_ORD}\s*,\s*{_ART}\d{{1,2}}{_ORD}\s+(?:(?:di|del|of)\s+)?{_MONTH_WORD}\b"
    # "dal 3 al 5 marzo", "from the 3rd to the 5th", "March 3 to 5": a range of days
    rf"|\b(?:dal|dall'?|from)\s*{_ART}\d{{1,2}}{_ORD}(?:\s+(?:(?:di|del|of)\s+)?{_MONTH_WORD})?"
    rf"\s+(?:al|all'?|a|to|till|until|through|fino\s+al)\s*{_ART}\d{{1,2}}{_ORD}(?![\d:.])"
    rf"|\b{_MONTH_WORD}\s+\d{{1,2}}{_ORD}\s*(?:-|to|till|until|through)\s*(?:the\s+)?\d{{1,2}}{_ORD}\b(?![:.])"
    rf"|\b\d{{1,2}}{_ORD}\s+(?:to|till|until|through)\s+(?:the\s+)?\d{{1,2}}{_ORD}\s+(?:of\s+)?{_MONTH_WORD}\b"
    rf"|\b(?:tra|fra|between)\s+{_ART}(?:{_MONTH_WORD}\s+)?\d{{1,2}}{_ORD}(?:\s+(?:(?:di|of)\s+)?{_MONTH_WORD})?"
    rf"\s+(?:e|and)\s+{_ART}(?:{_MONTH_WORD}\s+)?\d{{1,2}}{_ORD}\b(?![:.])"
)
_LIST_WORDS = frozenset("dal dall dall' from to till until through tra fra between".split())


_WD_NAMES = {lang: "|".join(names) for lang, names in WEEKDAYS.items()}
# "giovedì o venerdì", "Thursday or Friday": two days, no one date ("o meglio" and "or
# rather" are corrections, not alternatives: no weekday follows the "o")
_WEEKDAY_ALTERNATIVES = {
    lang: re.compile(rf"\b(?:{names})\s*,?\s+(?:o|or|oppure)\s+(?:(?:il|the|on)\s+)?(?:{names})\b")
    for lang, names in _WD_NAMES.items()
}
# "first thing Monday", "lunedì come prima cosa": when in the day, not the 1st of a month
_FIRST_THING = {
    "it": re.compile(r"\b(?:come|per)\s+(?:la\s+)?prima\s+cosa\b"),
    "en": re.compile(r"\b(?:1st|first)\s+thing\b(?:\s+in\s+the\s+morning\b)?"),
}
# "il secondo martedì del mese prossimo", "the first Monday of next month": a weekday
# counted in a month (it was the next Monday that is the 1st, or a day said as "primo")
_NTH = {
    lang: {word: n for word, n in words.items() if n <= 5}  # a month has five at the most
    | ({f"{k}{s}": k for k in range(1, 6) for s in "ºª"} if lang == "it" else {})
    for lang, words in ORDINALS.items()
}
_NTH_WEEKDAY = {
    lang: re.compile(
        rf"(?<![\w])({'|'.join(_NTH[lang])})\s+({_WD_NAMES[lang]})\s+"
        r"(?:di|del|dello|della|dell'|of|in)\s*(.*)$"
    )
    for lang in _NTH
}
_THIS_MONTH = re.compile(r"\s*(?:(?:questo|this|the)\s+)?(?:mese|month)\s*")


def _nth_weekday(s: str, lang: str, base: date) -> DateParse | None:
    """The weekday counted in a month ("the first Monday of next month"); None when ``s``
    says none; ``DateParse(None)`` (no match) when the month is not one the grammar reads
    or has no such day; the month only when its year is not said (the DDT asks the day)."""
    m = _NTH_WEEKDAY[lang].search(s)
    if m is None:
        return None
    nth, weekday, rest = _NTH[lang][m.group(1)], WEEKDAYS[lang][m.group(2)], m.group(3)
    if _THIS_MONTH.fullmatch(rest):
        year, month = base.year, base.month
    else:
        got = _parse(rest, lang, base)
        if got is None or got.invalid or not isinstance(got.value, dict):
            return DateParse(None)
        parts = got.value
        if "day" in parts or "month" not in parts:
            return DateParse(None)
        if "year" not in parts:
            return DateParse({"month": parts["month"]})
        year, month = parts["year"], parts["month"]
    last = calendar.monthrange(year, month)[1]
    if nth < 0:
        day = last - (date(year, month, last).weekday() - weekday) % 7
    else:
        day = 1 + (weekday - date(year, month, 1).weekday()) % 7 + 7 * (nth - 1)
        if day > last:
            return DateParse(None)
    return DateParse(date(year, month, day).isoformat())


def _list_hint(s: str) -> bool:
    """Whether ``s`` may hold a list or a range of days (a cheap test before ``_LISTS``)."""
    return "," in s or "-" in s or not _LIST_WORDS.isdisjoint(s.split())


# "fine mese", "a metà marzo", "all'inizio del mese prossimo", "end of the month",
# "mid-March", "fine anno": a point of a month (or the end of a year)
_MONTH_NAMES = {lang: "|".join(sorted(names, key=len, reverse=True))
                for lang, names in MONTHS.items()}  # fmt: skip
_POINT = {
    "it": re.compile(
        r"\b(fine|inizio|meta)\s+(?:del\s+|dello\s+|di\s+|dell'\s*)?"
        r"(?:(prossimo|scorso|questo)\s+)?(mese|anno|" + _MONTH_NAMES["it"] + r")\b"
        r"(?:\s+(prossimo|scorso|che\s+viene))?"
    ),
    "en": re.compile(
        r"\b(end|beginning|start|middle|mid)\s+(?:of\s+)?(?:the\s+)?"
        r"(?:(next|last|this)\s+)?(month|year|" + _MONTH_NAMES["en"] + r")\b"
        r"(?:\s+(next|last))?"
    ),
}
_POINT_WORD = {"fine": "end", "inizio": "start", "meta": "mid", "end": "end",
               "beginning": "start", "start": "start", "middle": "mid", "mid": "mid"}  # fmt: skip
_SHIFT_WORD = {"prossimo": 1, "che viene": 1, "next": 1, "scorso": -1, "last": -1}


def _point_day(point: str, year: int, month: int) -> int:
    if point == "end":
        return calendar.monthrange(year, month)[1]
    return 1 if point == "start" else 15


def _month_point(s: str, toks: list[_Tok], lang: str, base: date) -> DateParse | None:
    """The day of a month point said in ``s``, uncertain (the caller is vague); None when
    there is none. Of this month only while it is still ahead ("inizio mese" on the 11th
    is no match); of a month named without a year, a partial date; the end of February
    without a year is the month only (28 or 29 is not said)."""
    m = _POINT[lang].search(s)
    if m is None:
        return None
    point = _POINT_WORD[m.group(1)]
    what = m.group(3)
    shift_word = m.group(2) or m.group(4)
    shift = _SHIFT_WORD.get(shift_word or "", 0)
    if what in ("mese", "month"):
        first = add_months(base.replace(day=1), shift)
        day = _point_day(point, first.year, first.month)
        if shift_word is None and day < base.day:
            return DateParse(None)  # already past this month: which month is not said
        return DateParse(first.replace(day=day).isoformat(), uncertain=True)
    if what in ("anno", "year"):
        if point != "end":
            return DateParse(None)  # "inizio anno", "mid-year": too vague for a day
        return DateParse(date(base.year + shift, 12, 31).isoformat(), uncertain=True)
    found = _absolute(toks, lang, base)
    if found is None or found.invalid or not isinstance(found.value, dict):
        return found
    parts = found.value
    if "day" in parts or "month" not in parts:
        return found
    year = parts.get("year")
    if point == "end" and parts["month"] == 2 and year is None:
        return found
    day = _point_day(point, year or 2001, parts["month"])
    return _partial(day, parts["month"], year, True)


def _parse(text: str, lang: str, base: date, past: bool = False) -> DateParse | None:
    folded = fold(text)
    two = couple_as_two(folded, lang)
    if two != folded:
        # "tra un paio di giorni", "a couple of weeks ago": two, uncertain; relative only
        rel = _relative(to_digits(two, lang), lang, base, past)
        if rel is None or rel[1] != "fixed" or not isinstance(rel[0].value, str):
            return None
        return DateParse(rel[0].value, uncertain=True)
    if APPROXIMATE.search(folded):
        return None  # "tra una decina di giorni", "in a few days": no one day
    s = to_digits(text, lang)
    if _ALTERNATIVES.search(s) or (_list_hint(s) and _LISTS.search(s)):
        return None
    if _WEEKDAY_ALTERNATIVES[lang].search(s):
        return None
    if "thing" in s or "cosa" in s:
        s = _FIRST_THING[lang].sub(" ", s)
    nth = _nth_weekday(s, lang, base)
    if nth is not None:
        return nth if nth.value is not None else None
    toks = _tokenise(s, lang)
    point = _month_point(s, toks, lang, base)
    if point is not None:
        return point if point.value is not None or point.invalid else None
    found = _absolute(toks, lang, base)
    if found is not None:
        v = found.value
        if isinstance(v, dict) and "year" not in v and ("anno" in s or "year" in s):
            # "il 3 marzo dell'anno prossimo", "in March next year"
            shift = _year_shift(s, lang)
            if shift is not None:
                return _partial(v.get("day"), v.get("month"), base.year + shift, found.uncertain)
        return found
    if "anno" in s or "year" in s:
        shift = _year_shift(s, lang)
        if shift is not None:
            return DateParse({"year": base.year + shift})
    try:
        rel = _relative(s, lang, base, past)
    except (OverflowError, ValueError):  # ``at`` at the edge of the calendar
        rel = None
    if rel is None:
        return _bare_number(toks, base, s)
    found, kind, weekday = rel
    if kind == "fixed":
        return found
    bare = _bare_number(toks, base, s)
    if bare is None or not isinstance(bare.value, dict) or set(bare.value) != {"day"}:
        return found
    day = bare.value["day"]
    if kind == "month" and isinstance(found.value, dict):
        # "il 15 del mese prossimo" → that day of next month
        return _partial(day, found.value["month"], found.value["year"], False)
    if isinstance(found.value, str) and found.value < base.isoformat():
        # "sabato scorso, il 28", "last Saturday, the 28th": the last 28th before today,
        # and it must be a Saturday; when it is not, the caller has said two different
        # days and neither is picked (no match: the DDT asks again)
        d = base.replace(day=1)
        for _ in range(3):
            if day <= calendar.monthrange(d.year, d.month)[1] and d.replace(day=day) < base:
                cand = d.replace(day=day)
                if cand.weekday() != weekday:
                    return None
                return DateParse(cand.isoformat(), uncertain=(base - cand).days > _NEAR_DAYS)
            d = add_months(d, -1)
        return None
    # "sabato 14": the next Saturday that is the 14th (within about a year); months ahead
    # the caller more likely misspoke, so it is uncertain (read back)
    d = base
    for _ in range(14):
        if d.day <= day <= calendar.monthrange(d.year, d.month)[1]:
            cand = d.replace(day=day)
            if cand >= base and cand.weekday() == weekday:
                return DateParse(cand.isoformat(), uncertain=(cand - base).days > _NEAR_DAYS)
        d = add_months(d.replace(day=1), 1)
    return bare


def extract_date(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """A date "YYYY-MM-DD", a partial dict ({"month": 3, "year": 1980}) or invalid_date."""
    p = parse_date(text, lang, at, options.past)
    if p is None:
        return None
    if p.invalid:
        return Extraction(value=None, layer=p.layer, invalid=p.invalid)
    if p.value is None:
        return None
    return _extraction(p, text, lang)


def _extraction(p: DateParse, text: str, lang: str) -> Extraction:
    """``p`` as an extraction, uncertain when the caller said it is approximate or was
    unsure ("intorno al 15", "forse il 10", "around the 15th", "I think the 10th")."""
    # (a typed date is taken as typed: no words to hedge it)
    uncertain = p.uncertain or (p.layer != "pattern" and hedged(fold(text), lang))
    return Extraction(value=p.value, layer=p.layer, uncertain=uncertain,
                      confidence=0.8 if uncertain else 1.0)  # fmt: skip


def _part(text: str, lang: str, at: datetime, key: str) -> DateParse | None:
    p = parse_date(text, lang, at)
    if p is None or p.invalid:
        return p
    if isinstance(p.value, str):
        y, m, d = (int(x) for x in p.value.split("-"))
        return DateParse({"year": y, "month": m, "day": d}[key], p.uncertain, layer=p.layer)
    if isinstance(p.value, dict) and key in p.value:
        return DateParse(p.value[key], p.uncertain, layer=p.layer)
    return None


def _to_extraction(p: DateParse | None, reason: str, text: str, lang: str) -> Extraction | None:
    if p is None:
        return None
    if p.invalid:
        return Extraction(value=None, layer=p.layer, invalid=reason)
    return _extraction(p, text, lang)


_PLAIN_NUMBER = re.compile(r"\s*(?:il|l'|the|day|giorno)?\s*(\d{1,4})\s*\.?\s*")


def extract_day(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """Day of the month as an int: "il 15", "quindici", "the 15th", "il primo" → 1."""
    p = _part(text, lang, at, "day")
    if p is not None and not p.invalid and isinstance(p.value, int) and not 1 <= p.value <= 31:
        return Extraction(value=None, layer=p.layer, invalid="invalid_day")
    if p is None:
        m = _PLAIN_NUMBER.fullmatch(fold(text)[:40])
        if m and int(m.group(1)) > 31:
            return Extraction(value=None, layer="pattern", invalid="invalid_day")
    return _to_extraction(p, "invalid_day", text, lang)


def extract_month(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """Month as an int: "marzo", "March", "3" → 3; "13" is invalid_month."""
    lang = lang if lang in MONTHS else "it"
    toks = _tokenise(to_digits(text, lang), lang)
    months = [t for t in toks if t.kind == "m"]
    if len(months) == 1:
        return Extraction(value=months[0].value, layer="grammar")
    if not months:
        for t in toks:  # weak names alone ("mar", "may") are still months here
            if t.kind == "w" and t.raw in MONTHS[lang]:
                return Extraction(value=MONTHS[lang][t.raw], layer="grammar")
    nums = [t for t in toks if t.kind == "n"]
    if len(nums) == 1 and len(toks) == 1 and not nums[0].ordinal:
        v = nums[0].value
        if 1 <= v <= 12:
            return Extraction(value=v, layer="pattern" if nums[0].raw in text else "grammar")
        return Extraction(value=None, layer="pattern", invalid="invalid_month")
    p = _part(text, lang, at, "month")
    return _to_extraction(p, "invalid_month", text, lang)


def extract_year(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """Year as an int: "1980", "millenovecentottanta", "nineteen eighty"; "ottanta" → 1980?"""
    lang = lang if lang in MONTHS else "it"
    base = at.date()
    toks = _tokenise(to_digits(text, lang), lang)
    nums = [t for t in toks if t.kind == "n"]
    if nums and len(nums) <= 2 and all(t.kind in ("n", "w") for t in toks):
        i = toks.index(nums[0])
        y = _year_at(toks, i, lang, base)
        if y is not None and y[1] == len(nums):
            if not 1000 <= y[0] <= 2999:
                return Extraction(value=None, layer="grammar", invalid="invalid_year")
            return Extraction(value=y[0], layer="grammar", uncertain=y[2],
                              confidence=0.8 if y[2] else 1.0)  # fmt: skip
        if len(nums) == 1 and not nums[0].ordinal and len(nums[0].raw) <= 2 and nums[0].article:
            return None
    p = _part(text, lang, at, "year")
    return _to_extraction(p, "invalid_year", text, lang)
