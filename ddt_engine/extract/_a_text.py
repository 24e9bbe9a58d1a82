"""Shared text normalisation for EXTRACT-A's spoken-language grammars (private).

Everything here is pure: no locale, no clock. ``fold`` lowercases, folds accents
("sì" → "si", "quarantatré" → "quarantatre") and unifies apostrophes; ``tokens``
returns the folded word tokens of an utterance with their spans in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_CHARS = 2000
"""Longer utterances are cut: no caller says more in one turn (keeps worst cases bounded)."""

MAX_TOKENS = 64

_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=4096)
def _fold_cached(text: str) -> str:
    lowered = text.translate(_APOS).lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lowercase, fold accents and apostrophes; length is capped at ``MAX_CHARS``."""
    text = text[:MAX_CHARS]
    if len(text) > 200:
        return _fold_cached.__wrapped__(text)
    return _fold_cached(text)


def squash(text: str) -> str:
    """Collapse runs of whitespace and strip the ends."""
    return " ".join(text.split())  # str.split's whitespace is re's \s: the same text


def tokens(text: str, limit: int = MAX_TOKENS) -> list[tuple[str, int, int]]:
    """Folded word tokens with their (start, end) spans in ``text`` (at most ``limit``)."""
    out: list[tuple[str, int, int]] = []
    for m in _TOKEN_RE.finditer(text[:MAX_CHARS]):
        word = m.group()
        folded = word.lower() if word.isascii() else fold(word)
        # NFKD may split a token (e.g. "ﬁ" ligature): keep only word characters
        out.append((folded, m.start(), m.end()))
        if len(out) >= limit:
            break
    return out


def words(text: str, limit: int = MAX_TOKENS) -> tuple[str, ...]:
    """Just the folded word tokens of ``text``."""
    return tuple(t for t, _, _ in tokens(text, limit))


# Hesitations, in either language: skipped between the parts of a date or a code's digits.
HESITATIONS = frozenset("ehm ehmm uhm eh uh um umm er erm mmm hmm".split())


# A caller correcting themself: "il 15 anzi il 16", "alle 3 no scusi alle 4", "the 15th no
# wait the 16th", "twenty, sorry, thirty euros". The value is what follows the last marker.
# Ordinal words (folded), "last" as -1: options picked by rank ("la seconda"), a weekday
# counted in a month ("il secondo martedì")
ORDINALS: dict[str, dict[str, int]] = {
    "it": {
        "primo": 1, "prima": 1, "secondo": 2, "seconda": 2, "terzo": 3, "terza": 3,
        "quarto": 4, "quarta": 4, "quinto": 5, "quinta": 5, "sesto": 6, "sesta": 6,
        "settimo": 7, "settima": 7, "ottavo": 8, "ottava": 8, "nono": 9, "nona": 9,
        "decimo": 10, "decima": 10, "ultimo": -1, "ultima": -1,
    },
    "en": {
        "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
        "4th": 4, "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7,
        "eighth": 8, "8th": 8, "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1,
    },
}  # fmt: skip

_CORRECTION = {
    "it": re.compile(
        r"\b(?:anzi|no\s+scus[ia]|scus[ia]|scusate|cioe|volevo\s+dire|o\s+meglio|"
        r"mi\s+correggo|no\s+aspett[ia]|aspett[ia]|no)\b"
    ),
    "en": re.compile(
        r"\b(?:no\s+wait|wait|sorry|actually|i\s+mean|i\s+meant|or\s+rather|rather|"
        r"make\s+(?:it|that)|correction|no)\b"
    ),
}


def correction(text: str, lang: str) -> tuple[str, str] | None:
    """``(head, tail)`` of a self-correction in folded ``text``: what was said before the
    last correction marker and what follows it; None when there is no marker or nothing
    follows it ("il 15 marzo, no?" is a question, not a correction).

    "il 15 anzi il 16" → ("il 15 ", " il 16"); "no wait the 16th" → ("", " the 16th").
    """
    rx = _CORRECTION.get(lang)
    markers = list(rx.finditer(text)) if rx is not None else []
    if not markers:
        return None
    last = markers[-1]  # the last marker is the one that counts
    tail = text[last.end() :]
    if not any(c.isalnum() for c in tail):
        return None
    return text[: last.start()], tail


def correction_spans(text: str, lang: str) -> list[tuple[int, int]]:
    """The (start, end) of every correction marker in folded ``text``, in order."""
    rx = _CORRECTION.get(lang)
    return [m.span() for m in rx.finditer(text)] if rx is not None else []


def correction_parts(text: str, lang: str) -> list[str]:
    """Folded ``text`` cut at every correction marker: what was said before the first one,
    then after each ("347 123 456 7 no 8" → ["347 123 456 7 ", " 8"]); one part when there
    is no marker."""
    rx = _CORRECTION.get(lang)
    return rx.split(text) if rx is not None else [text]


# "circa venti", "about a dozen", "in ten minutes or so", "forse il 10", "maybe the 10th":
# the caller gives an estimate or is unsure. The value said is kept and marked uncertain
# (a `when_uncertain` DDT reads it back).
_HEDGE = {
    "it": re.compile(
        r"\b(?:circa|all'\s*incirca|piu\s+o\s+meno|grosso\s+modo|pressappoco|pressapoco|"
        r"approssimativamente|sui|sulle|sugli|(?:intorno|attorno)\s+a(?:l|i|gli|lla|lle|llo)?|tipo|quasi|forse|"
        r"credo|penso|mi\s+pare|mi\s+sembra|probabilmente)\b"
    ),
    "en": re.compile(
        r"\b(?:about|around|roughly|approximately|approx|or\s+so|give\s+or\s+take|"
        r"more\s+or\s+less|something\s+like|nearly|almost|ish|maybe|perhaps|probably|"
        r"i\s+think|i\s+guess|i\s+believe)\b"
    ),
}
# "più di venti", "at least three", "up to 100 euros": a bound, not the value (no match).
_BOUND = {
    "it": re.compile(
        r"\b(?:piu\s+di|meno\s+di|oltre|almeno|al\s+massimo|al\s+minimo|"
        r"massimo|minimo|fino\s+a|non\s+piu\s+di|sotto\s+i|sopra\s+i|superiore\s+a|"
        r"inferiore\s+a)\b"
    ),
    "en": re.compile(
        r"\b(?:more\s+than|less\s+than|fewer\s+than|over|under|at\s+least|at\s+most|"
        r"up\s+to|no\s+more\s+than|above|below|upwards\s+of|maximum|minimum|max)\b"
    ),
}


# The first word of every hedge above: most utterances have none, and a set lookup is far
# cheaper than the regex.
_HEDGE_FIRST = {
    "it": frozenset(
        "circa all'incirca all' piu grosso pressappoco pressapoco approssimativamente sui sulle "
        "sugli intorno attorno tipo quasi forse credo penso mi probabilmente".split()
    ),
    "en": frozenset(
        "about around roughly approximately approx or give more something nearly almost ish "
        "maybe perhaps probably i".split()
    ),
}
_PUNCTUATION = re.compile(r"[,.;:!?()\"\-]")


def hedged(text: str, lang: str) -> bool:
    """Whether folded ``text`` says its value is approximate ("circa", "about", "or so")."""
    rx = _HEDGE.get(lang)
    if rx is None:
        return False
    first = _HEDGE_FIRST[lang]
    if first.isdisjoint(text.split()) and (
        _PUNCTUATION.search(text) is None  # "circa, venti", "twenty-ish": look again
        or first.isdisjoint(_PUNCTUATION.sub(" ", text).split())
    ):
        return False
    return rx.search(text) is not None


def bounded(text: str, lang: str) -> bool:
    """Whether folded ``text`` gives a bound rather than a value ("più di", "at least")."""
    rx = _BOUND.get(lang)
    return rx is not None and rx.search(text) is not None


# "un paio di giorni", "tra un paio d'ore", "in a couple of hours": a couple of a unit of
# time is read as two of it (the caller is vague: the readers mark the value uncertain).
_COUPLE = {
    "it": re.compile(
        r"\bun\s+paio\s+(?:di\s+|d'\s*)"
        r"(?=(?:giorn[oi]|settiman[ae]|mes[ei]|ann[oi]|or[ae]|minut[oi])\b)"
    ),
    "en": re.compile(
        r"\b(?:a\s+)?couple\s+(?:of\s+)?(?=(?:days?|weeks?|months?|years?|hours?|minutes?)\b)"
    ),
}


def couple_as_two(text: str, lang: str) -> str:
    """Folded ``text`` with "un paio di <unit>" / "a couple of <unit>" as "2 <unit>"."""
    rx = _COUPLE.get(lang)
    return rx.sub("2 ", text) if rx is not None and "p" in text else text
