"""Extractors: time ("HH:MM") and datetime ("YYYY-MM-DDTHH:MM"), Italian and English.

A token grammar that runs BEFORE text2num (which would read "un quarto" as an ordinal):
"alle cinque e mezza", "le tre e un quarto", "alle undici meno dieci", "alle 17:30",
"17 e 45", "mezzogiorno", "a quarter past five", "ten to eleven", "5 pm", "seven forty-five",
"tra mezz'ora". AM/PM policy: an hour from 1 to 12 with no period word ("di sera", "pm",
"del pomeriggio", "in the morning"...) is returned as said (05:00) and marked uncertain,
so the DDT confirms it. Time only from ``at``; pure, never raises.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ddt_engine.extract._a_text import correction, couple_as_two, fold, hedged, squash
from ddt_engine.extract.base import Extraction, ExtractOptions
from ddt_engine.extract.dates import parse_date
from ddt_engine.extract.numbers import to_digits

__all__ = ["TimeParse", "extract_datetime", "extract_time", "parse_time"]

INVALID = "invalid_time"

_EN_DIGITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_OH_DIGITS = [  # "seven oh five" → 7 05
    (re.compile(rf"\b(?:oh|o)\s+{w}\b"), f" 0{i} ") for i, w in enumerate(_EN_DIGITS, 1)
]
_HOUR_AFTER = (  # the hour said next: "half past ten", "quarter to 11" (two digits too)
    r"(?=\s+(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon|"
    r"midnight|midday)\b(?!\s+(?:hours?|minutes?|mins?|days?|weeks?|months?|years?|"
    r"percent|euros?|pounds?|dollars?)\b))"
)
_PRE: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "it": [
        (re.compile(r"\be\s+mezz[ao]\b"), " e 30 "),
        (re.compile(r"\be\s+(?:un\s+)?quarto\b"), " e 15 "),
        (re.compile(r"\be\s+tre\s+quarti\b"), " e 45 "),
        # "(manca) un quarto alle otto" is 7:45, not 8:00
        (
            re.compile(r"\b(?:mancano\s+|manca\s+)?un\s+quarto\s+all[e']\s*([a-z]+|\d{1,2})\b"),
            r" alle \1 meno 15 ",
        ),
        (re.compile(r"\bmeno\s+(?:un\s+)?quarto\b"), " meno 15 "),
        (re.compile(r"\bun\s+quarto\s+d'?\s*ora\b"), " 15 minuti "),
        (re.compile(r"\btre\s+quarti\s+d'?\s*ora\b"), " 45 minuti "),
        (re.compile(r"\bmezz'?\s*ora\b"), " 30 minuti "),
        (re.compile(r"\bun'?\s*ora\b"), " 1 ore "),
    ],
    "en": [
        (re.compile(r"\b(?:a\s+)?quarter\s+of\s+an\s+hour\b"), " 15 minutes "),
        # with the hour said: "at quarter to" alone is no time (it was 15:00)
        (re.compile(r"\bhalf\s+past\b" + _HOUR_AFTER), " 30 past "),
        (re.compile(r"\b(?:a\s+)?quarter\s+(?:past|after)\b" + _HOUR_AFTER), " 15 past "),
        (re.compile(r"\b(?:a\s+)?quarter\s+(?:to|of|before)\b" + _HOUR_AFTER), " 15 to "),
        (re.compile(r"\bhalf\s+an\s+hour\b"), " 30 minutes "),
        # "half five" (British): 5:30, as "half past five"
        (
            re.compile(
                r"\bhalf\s+(?=(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                r"twelve|1[0-2]|[1-9])\b(?!\s+(?:hours?|minutes?|mins?|days?|weeks?|months?|"
                r"years?|dozen|percent|per\s+cent|euros?|pounds?|of)\b))"
            ),
            " 30 past ",
        ),
        (re.compile(r"\ban\s+hour\b"), " 1 hours "),
        (re.compile(r"\bo'?\s*clock\b"), " oclock "),
        *_OH_DIGITS,
        (re.compile(r"\ba\.?\s?m\b\.?"), " am "),
        (re.compile(r"\bp\.?\s?m\b\.?"), " pm "),
    ],
}
_GLUED_PERIOD = re.compile(r"(\d)\s*(am|pm)\b")

_H = r"(?P<h>\d{1,2}|mezzogiorno|mezzanotte|noon|midnight|midday)"
_MARK = (
    r"(?:\b(?:alle|all'|all|le|delle|ore|verso\s+le|verso|dalle|per\s+le|at|around|about|by|for)"
    r"\s+(?:ore\s+)?)"
)

_FORMS: list[tuple[str, re.Pattern[str]]] = [
    ("colon", re.compile(r"(?<![\d/.\-])(?P<h>\d{1,2})[:.](?P<m>\d{2})(?![\d/.\-])")),
    ("comma", re.compile(
        r"\b(?:alle|le|ore|dalle|verso\s+le|at)\s+(?:ore\s+)?(?P<h>\d{1,2}),(?P<m>\d{2})(?![\d,.])"
    )),
    (
        "past",
        re.compile(
            r"\b(?P<m>\d{1,2})\s+(?:minutes?\s+)?(?P<rel>past|after|to|before|of)\s+" + _H
        ),
    ),
    ("and", re.compile(r"\b" + _H + r"\s+(?:e|and)\s+(?P<m>\d{1,2})(?:\s+minuti)?\b")),
    ("meno", re.compile(r"\b" + _H + r"\s+meno\s+(?P<m>\d{1,2})\b")),
    ("oclock", re.compile(r"\b" + _H + r"\s+(?:in\s+punto|oclock|precise)\b")),
    ("hm", re.compile(
        r"(?<!\d\s)\b" + _H + r"\s+(?P<m>\d{2}|0\d)\b(?!\s*(?:\d|/|\.\d|anni|years))"
    )),
    # "about ten minutes" is a duration, not ten o'clock
    ("mark", re.compile(_MARK + _H + r"\b(?!\s*(?:minut[oi]|minutes?|mins?|hours?|or[ae])\b)")),
    ("period", re.compile(
        r"\b" + _H + r"\s+(?=am\b|pm\b|d[ie]l?l?[a']?\s*(?:mattin|pomerig|sera|notte)"
        r"|tonight\b|this\s+(?:morning|afternoon|evening)\b|stasera\b|stamattina\b"
        r"|in\s+the\s+(?:morning|afternoon|evening)\b|at\s+night\b)"
    )),
    ("word", re.compile(r"\b(?P<h>mezzogiorno|mezzanotte|noon|midnight|midday)\b")),
]  # fmt: skip

_AM = re.compile(r"\b(?:mattina|mattino|stamattina|stamani|stamane|morning|antimeridian[ae])\b")
_PM = re.compile(r"\b(?:pomeriggio|sera|stasera|serata|afternoon|evening|tonight)\b")
_NIGHT = re.compile(r"\b(?:notte|stanotte|night)\b")
# "am"/"pm" count only right after the time ("I am free at 5" is no period word).
_AMPM_AFTER = re.compile(r"\s*(am|pm)\b")
_WHOLE_NUMBER = re.compile(r"\s*(?:(?:alle|le|ore|at|around)\s+)?(\d{1,2})\s*")
_IN_MINUTES = {
    "it": re.compile(
        r"\b(?:tra|fra)\s+(?:(?:circa|piu\s+o\s+meno|all'\s*incirca|grosso\s+modo|"
        r"nemmeno|neanche|appena|solo)\s+)?(\d{1,4})\s+(minut[oi]|ore|ora)\b"
        r"(?:\s+e\s+(?:(\d{1,2})(?:\s+minuti)?\b|([½¼¾])))?"
    ),
    "en": re.compile(
        r"\bin\s+(?:(?:about|around|roughly|approximately|maybe|like|just|only)\s+)?"
        r"(\d{1,4})\s+(minutes?|hours?)\b"
        r"(?:\s+and\s+(?:(\d{1,2})(?:\s+minutes?)?\b|([½¼¾]))|\s*([½¼¾]))?"
    ),
}
_OR_ANOTHER = re.compile(r"\s*(?:o|or|oppure)\s+\d")
_FRACTION_MINUTES = {"½": 30, "¼": 15, "¾": 45}
# "tra le 7 e le 8", "alle 7 o alle 8", "between 3 and 4", "at 3 or 4": no one time
_ALTERNATIVES = re.compile(
    r"\b(?:tra|fra|between|from|dalle|dall'|dall)\s*(?:le\s+|the\s+)?\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)?\s+"
    r"(?:e|and|to|alle|a)\s+(?:le\s+)?\d{1,2}(?!\s*(?:minut|ore|or[ae]\b|hours?))\b"
    r"|\b\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)?\s+(?:o|or|oppure)\s+(?:alle\s+|le\s+|at\s+)?\d{1,2}\b"
)
# "dopo le 17", "prima delle 9", "after 5 pm", "not before 10": a bound, not the time
_BOUND = re.compile(  # "prima" is "1ª" once text2num has read it
    r"(?:\bdopo|\bprima|\b1ª|\ba\s+partire)\s+(?:le|delle|dell'|dalle|dall'|l'|della|di|alle)\s*\d"
    r"|\b(?P<en>after|before)\s+(?:about\s+|around\s+)?\d"
)
_MINUTES_WORDS = frozenset("minute minutes min mins".split())


def _bounded(s: str) -> bool:
    """A bound in prepared ``s`` ("dopo le 17", "after 5 pm"), not "10 (minutes) after 5"."""
    for m in _BOUND.finditer(s):
        if m.group("en") is None:
            return True
        prev = s[: m.start()].split()[-1:]
        if not prev or not (prev[0].isdigit() or prev[0] in _MINUTES_WORDS):
            return True
    return False


_FAST_COLON = re.compile(r"\s*(?:(?:alle|ore|at)\s+)?(\d{1,2})[:.](\d{2})\s*", re.IGNORECASE)
_NAMED = {"mezzogiorno": 12, "noon": 12, "midday": 12, "mezzanotte": 0, "midnight": 0}


@dataclass(frozen=True, slots=True)
class TimeParse:
    """What the time grammar found, and the text with the time expression blanked out."""

    value: str | None
    uncertain: bool = False
    invalid: str | None = None
    layer: str = "grammar"
    rest: str = ""
    relative: datetime | None = None  # "tra mezz'ora": a full datetime from ``at``


def _prepare(text: str, lang: str) -> str:
    s = couple_as_two(fold(text), lang)  # "tra un paio d'ore": 2 (uncertain, see _parse)
    for rx, repl in _PRE[lang]:
        s = rx.sub(repl, s)
    s = to_digits(s, lang)
    s = _GLUED_PERIOD.sub(r"\1 \2", s)
    return squash(s)


def _period(s: str, start: int, end: int) -> str | None:
    """ "am", "pm", "night" from period words in the utterance, nearest after the hour first."""
    m = _AMPM_AFTER.match(s, end)
    if m:
        return m.group(1)
    after = s[end : end + 40]
    for rx, name in ((_AM, "am"), (_PM, "pm"), (_NIGHT, "night")):
        if rx.search(after):
            return name
    for rx, name in ((_AM, "am"), (_PM, "pm"), (_NIGHT, "night")):
        if rx.search(s):
            return name
    return None


def parse_time(text: str, lang: str, at: datetime | None = None) -> TimeParse | None:
    """The time of day said in ``text``; None when there is none."""
    lang = lang if lang in _PRE else "it"
    if len(text) <= 16:  # fast path for typed times: "17:30", "alle 9.15"
        fm = _FAST_COLON.fullmatch(text)
        if fm:
            h_raw = fm.group(1)
            return _finish(int(h_raw), int(fm.group(2)), None, h_raw[0] == "0", "pattern", "")
    fixed = correction(fold(text), lang)
    if fixed is not None:
        got = _corrected(fixed[0], fixed[1], lang, at)
        if got is not None:
            return got if got is not _NO_TIME else None
    return _parse(text, lang, at)


_NO_TIME = TimeParse(None)
_MINUTES_ONLY = re.compile(
    r"[\s,.;:!-]*(?:e|and)?\s*(\d{1,2}|[½¼¾])(?:\s+minut[oi]|\s+minutes?)?\s*"
)
_BARE_NUMBER = re.compile(r"\s*\d{1,4}(?:\s+minut[oi]|\s+minutes?|\s+or[ae]|\s+hours?)?\s*")


def _corrected(head: str, tail: str, lang: str, at: datetime | None) -> TimeParse | None:
    """The time of a self-correction ("alle 3 anzi alle 4", "3pm no wait 4pm"): the one
    said after the marker; ``_NO_TIME`` when it cannot be told ("tra 10 minuti anzi 20"),
    None when the tail has no time (the whole utterance is read as usual)."""
    got = _parse(tail, lang, at)
    before = _parse(head, lang, at)
    if before is not None and before.relative is not None and (got is None or got.relative is None):
        # "tra 10 minuti anzi 20 (minuti)": a duration corrected by a bare number
        bare = _BARE_NUMBER.fullmatch(_prepare(tail, lang)) is not None
        if bare or (got is None and any(c.isdigit() for c in _prepare(tail, lang))):
            return _NO_TIME
    minutes = _MINUTES_ONLY.fullmatch(_prepare(tail, lang)) if got is None else None
    if minutes is not None:
        # "alle tre e un quarto, no, e mezza": the minutes corrected, the hour kept
        said = minutes.group(1)
        minute = _FRACTION_MINUTES[said] if said in _FRACTION_MINUTES else int(said)
        if before is None or before.value is None or minute > 59:
            return _NO_TIME
        value = f"{before.value[:2]}:{minute:02d}"
        return TimeParse(value, before.uncertain, None, "grammar", before.rest, None)
    if got is None or (before is None and _WHOLE_NUMBER.fullmatch(_prepare(tail, lang))):
        return None  # no time after the marker, or a bare number with no time before it
    head_rest = before.rest if before is not None else _prepare(head, lang)
    return TimeParse(got.value, got.uncertain, got.invalid, got.layer,
                     head_rest + " " + got.rest, got.relative)  # fmt: skip


def _parse(text: str, lang: str, at: datetime | None) -> TimeParse | None:
    s = _prepare(text, lang)
    if at is not None:
        m = _IN_MINUTES[lang].search(s)
        if m and _OR_ANOTHER.match(s, m.end()):
            return None  # "in an hour or two", "tra un'ora o due": no one time
        if m:
            n = int(m.group(1))
            minutes = n if m.group(2).startswith("minut") else 60 * n
            if minutes >= 60 and m.group(3) is not None:  # "tra due ore e 20 (minuti)"
                minutes += int(m.group(3))
            frac = next((g for g in m.groups()[3:] if g is not None), None)
            if minutes >= 60 and frac is not None:  # "tra un'ora e mezza", "in an hour and a half"
                minutes += _FRACTION_MINUTES[frac]
            try:
                when = at + timedelta(minutes=minutes)
            except OverflowError:
                return None
            rest = s[: m.start()] + " " + s[m.end() :]
            # "in a couple of hours", "in ten minutes or so", "tra circa mezz'ora"
            folded = fold(text)
            vague = couple_as_two(folded, lang) != folded or hedged(folded, lang)
            return TimeParse(when.strftime("%H:%M"), vague, rest=rest, relative=when)
    if _ALTERNATIVES.search(s) or _bounded(s):
        return None
    for form, rx in _FORMS:
        m = rx.search(s)
        if m is None:
            continue
        if form == "past" and int(m.group("m")) % 5 and "minut" not in m.group(0):
            return None  # "9 to 10 am": nine to ten, not 9:51 (minutes are said in fives)
        return _resolve(form, m, s)
    m = _WHOLE_NUMBER.fullmatch(s)
    if m:
        h = int(m.group(1))
        if h > 24:
            return TimeParse(None, invalid=INVALID, layer="grammar")
        return _finish(h, 0, None, False, "grammar", "")
    return None


def _resolve(form: str, m: re.Match[str], s: str) -> TimeParse:
    gd: dict[str, Any] = m.groupdict()
    h_raw: str = gd["h"]
    named = h_raw in _NAMED
    h = _NAMED[h_raw] if named else int(h_raw)
    minute = int(gd["m"]) if gd.get("m") is not None else 0
    rest = s[: m.start()] + " " + s[m.end() :]
    if form in ("meno",) or gd.get("rel") in ("to", "before", "of"):
        if minute > 59:
            return TimeParse(None, invalid=INVALID, rest=rest)
        h, minute = (h - 1) % 24 if h != 0 else 23, (60 - minute) % 60
        if minute == 0:
            h = (h + 1) % 24
        elif h == 0 and not named:  # "l'una meno un quarto": 12:45 on the dial, as said
            h = 12
    layer = "pattern" if form == "colon" else "grammar"
    period = None if named else _period(s, m.start(), m.end())
    zero_padded = form == "colon" and h_raw.startswith("0")
    return _finish(h, minute, period, named or zero_padded, layer, rest)


def _finish(
    h: int, minute: int, period: str | None, certain: bool, layer: str, rest: str
) -> TimeParse:
    if h == 24 and minute == 0:
        h = 0
    if not 0 <= h <= 23 or not 0 <= minute <= 59:
        return TimeParse(None, invalid=INVALID, layer=layer, rest=rest)
    if period == "am":
        if h > 12:
            return TimeParse(None, invalid=INVALID, layer=layer, rest=rest)
        h = 0 if h == 12 else h
        certain = True
    elif period == "pm":
        h = h + 12 if h < 12 else h
        certain = True
    elif period == "night":
        if 1 <= h <= 5:
            certain = True
        elif 6 <= h <= 11:
            h += 12
            certain = True
        elif h == 12:
            h, certain = 0, True
    uncertain = not certain and 1 <= h <= 12
    return TimeParse(f"{h:02d}:{minute:02d}", uncertain, layer=layer, rest=rest)


def extract_time(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """A time "HH:MM": "alle cinque e mezza" → 05:30 (uncertain), "5 pm" → 17:00."""
    p = parse_time(text, lang, at)
    if p is None:
        return None
    if p.invalid:
        return Extraction(value=None, layer=p.layer, invalid=p.invalid)
    return Extraction(value=p.value, layer=p.layer, uncertain=p.uncertain,
                      confidence=0.8 if p.uncertain else 1.0)  # fmt: skip


def _next_occurrence(parts: dict[str, int], today: date) -> date | None:
    """Day (and month) without a year, for an appointment: the next such day from today."""
    day, month = parts.get("day"), parts.get("month")
    if day is None or "year" in parts:
        return None
    if month is None:
        for k in range(0, 3):
            total = today.year * 12 + today.month - 1 + k
            y, mo = divmod(total, 12)
            if day <= calendar.monthrange(y, mo + 1)[1]:
                d = date(y, mo + 1, day)
                if d >= today:
                    return d
        return None
    for y in (today.year, today.year + 1, today.year + 4):
        try:
            d = date(y, month, day)
        except ValueError:
            continue
        if d >= today:
            return d
    return None


def extract_datetime(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    """A datetime "YYYY-MM-DDTHH:MM": "domani alle 5", "next friday at 3 pm".

    Only a date or only a time gives a partial value {"date": …} / {"time": …}; a day
    without a year ("il 15 alle 10") is the next such day from ``at``.
    """
    lang = lang if lang in _PRE else "it"
    t = parse_time(text, lang, at)
    if t is not None and t.invalid:
        return Extraction(value=None, layer=t.layer, invalid=t.invalid)
    if t is not None and t.relative is not None:
        value = t.relative.strftime("%Y-%m-%dT%H:%M")
        conf = 0.8 if t.uncertain else 1.0
        return Extraction(value=value, layer="grammar", uncertain=t.uncertain, confidence=conf)
    date_text = t.rest if t is not None else text
    d = parse_date(date_text, lang, at)
    if d is not None and d.invalid:
        return Extraction(value=None, layer=d.layer, invalid=d.invalid)
    day: str | None = None
    uncertain = bool(t is not None and t.uncertain)
    if d is not None:
        uncertain = uncertain or d.uncertain
        if isinstance(d.value, str):
            day = d.value
        elif isinstance(d.value, dict):
            try:
                nxt = _next_occurrence(d.value, at.date())
            except (OverflowError, ValueError):
                nxt = None
            day = nxt.isoformat() if nxt is not None else None
    if day is None and t is None:
        return None
    conf = 0.8 if uncertain else 1.0
    if day is not None and t is not None and t.value is not None:
        return Extraction(value=f"{day}T{t.value}", layer="grammar", uncertain=uncertain,
                          confidence=conf)  # fmt: skip
    if day is not None:
        return Extraction(value={"date": day}, layer="grammar", uncertain=uncertain,
                          confidence=conf)  # fmt: skip
    assert t is not None
    return Extraction(value={"time": t.value}, layer=t.layer, uncertain=uncertain,
                      confidence=conf)  # fmt: skip
