"""Extractor: choice among the DDT's options (synonyms per language, ordinals).

``options.choices`` maps each value to its synonyms per language; the mapping's order is
the declared order (what "il primo" / "the second one" pick). Matching is on whole words
and phrases, case- and accent-insensitive; the value itself is a synonym too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from ddt_engine.extract._a_text import ORDINALS
from ddt_engine.extract._b_norm import fold_words, never_raises
from ddt_engine.extract.base import Extraction, ExtractOptions

__all__ = ["extract_choice", "pick_position"]

_MAX_CHOICE_TEXT = 500
_ORDINAL_CONFIDENCE = 0.9

_CARDINALS: dict[str, dict[str, int]] = {
    "it": {
        "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6,
        "sette": 7, "otto": 8, "nove": 9, "dieci": 10,
    },
    "en": {
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10,
    },
}  # fmt: skip
# words before an option's number in a pick from a list ("numero 2", "option two"); no
# articles, so "alle 3" or "la 2" stay a time, never "the third item"
_PICK_LEAD = {
    "it": ("numero", "opzione", "scelta", "n"),
    "en": ("number", "option", "choice", "no"),
}
# among a choice's own options an article leads a number too: "numero due", "la 2"
_NUMBER_LEAD = {"it": (*_PICK_LEAD["it"], "il", "la", "l"), "en": _PICK_LEAD["en"]}
# "secondo me" (in my opinion), "un secondo" (one moment), "wait a second": not ordinals.
_NOT_ORDINAL = re.compile(
    r" secondo (?:me|te|lui|lei|noi|voi|loro|il|la|lo|i|gli|le|quanto) | (?:un|attimo) second[oa] "
    r"| a second | at first | first of all | last time | at last "
)


def _phrases(value: str, synonyms: Mapping[str, Sequence[str]], lang: str) -> list[str]:
    own = synonyms.get(lang)
    if own is None:  # no synonyms in this language: use every language's
        own = [s for seq in synonyms.values() for s in seq]
    out = [fold_words(value.replace("_", " "))]
    out.extend(fold_words(s) for s in own if isinstance(s, str))
    return [p for p in out if p.strip()]


def _synonym_hits(
    padded: str, choices: Mapping[str, Mapping[str, Sequence[str]]], lang: str
) -> dict[str, tuple[int, int]]:
    """Per value, the longest matched phrase as (start, end) in ``padded``."""
    hits: dict[str, tuple[int, int]] = {}
    for value, synonyms in choices.items():
        best: tuple[int, int] | None = None
        for phrase in _phrases(value, synonyms, lang):
            pos = padded.find(phrase)
            if pos >= 0 and (best is None or len(phrase) > best[1] - best[0]):
                best = (pos, pos + len(phrase))
        if best is not None:
            hits[value] = best
    return hits


def _positions(
    words: list[str], lang: str, leads: Sequence[str], bare: bool
) -> tuple[set[int], set[int]]:
    """The positions said (1-based, -1 for "last") and the indexes of the words that said
    them: ordinal words, a number after a lead word, or (``bare``) a lone number."""
    ordinals = ORDINALS.get(lang, ORDINALS["it"])
    cardinals = _CARDINALS.get(lang, _CARDINALS["it"])
    picks: set[int] = set()
    used: set[int] = set()
    for k, w in enumerate(words):
        n: int | None = ordinals.get(w)
        led = k > 0 and words[k - 1] in leads
        if n is None and (led or (bare and len(words) == 1)):
            n = cardinals.get(w) or (int(w) if w.isdigit() and len(w) <= 2 else None)
            if n is not None and led:
                used.add(k - 1)
        if n is not None:
            picks.add(n)
            used.add(k)
    return picks, used


def _index(picks: set[int], count: int) -> int | None:
    """The 0-based index of the one position said, None if none, several or out of range."""
    if len(picks) != 1:
        return None
    n = next(iter(picks))
    index = count - 1 if n == -1 else n - 1
    return index if 0 <= index < count else None


def _ordinal_pick(padded: str, lang: str, count: int) -> int | None:
    """0-based index picked by an ordinal or an option number, None if none or several."""
    words = _NOT_ORDINAL.sub(" ", padded).split()
    picks, _ = _positions(words, lang, _NUMBER_LEAD.get(lang, _NUMBER_LEAD["it"]), bare=True)
    return _index(picks, count)


def pick_position(text: str, lang: str, count: int) -> tuple[int, str] | None:
    """The position of an item picked from a list of ``count`` read to the caller: "la
    seconda", "l'ultima", "the first one", "numero 2", "option three".

    Returns (0-based index, the rest of the utterance without the words that said the
    position), or None: no position, two different ones, or one beyond the list. Bare
    numbers are not positions ("alle 3" is a time): only ordinal words, or a number after
    "numero"/"opzione"/"number"/"option". ``rest`` lets the caller check whether the
    utterance also says a value of its own ("il primo marzo": rest "il marzo" is a date).
    """
    if count < 1:
        return None
    words = _NOT_ORDINAL.sub(" ", fold_words(text[:_MAX_CHOICE_TEXT])).split()
    picks, used = _positions(words, lang, _PICK_LEAD.get(lang, _PICK_LEAD["it"]), bare=False)
    index = _index(picks, count)
    if index is None:
        return None
    return index, " ".join(w for k, w in enumerate(words) if k not in used)


@never_raises
def extract_choice(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    """The chosen value. Policies:

    * a synonym (or the value) wins over an ordinal;
    * when several values match, a match inside a longer match of another value is
      dropped ("carta" inside "carta di credito"); if several values still match, the
      answer is ambiguous and gives no match, so the engine asks again;
    * ordinals and option numbers ("il secondo", "the first one", "numero 2", "last")
      pick by declared order with confidence 0.9; two different ordinals give no match.
    """
    choices = options.choices
    if not choices:
        return None
    padded = fold_words(text[:_MAX_CHOICE_TEXT])
    if not padded.strip():
        return None
    hits = _synonym_hits(padded, choices, lang)
    if len(hits) > 1:
        spans = list(hits.items())
        hits = {
            v: (s, e)
            for v, (s, e) in spans
            if not any(
                v2 != v and s2 <= s and e <= e2 and (e2 - s2) > (e - s) for v2, (s2, e2) in spans
            )
        }
    if len(hits) == 1:
        return Extraction(next(iter(hits)), "choice")
    if len(hits) > 1:
        return None
    values = list(choices)
    index = _ordinal_pick(padded, lang, len(values))
    if index is None:
        return None
    return Extraction(values[index], "choice", confidence=_ORDINAL_CONFIDENCE)
