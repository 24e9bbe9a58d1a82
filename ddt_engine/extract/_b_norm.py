"""Shared helpers for the code, spelled, choice and text extractors: caps, folding, safety."""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime

from ddt_engine.extract.base import Extraction, ExtractOptions, Extractor

MAX_CODE_TEXT = 600
"""Characters of an utterance the code/spelled extractors look at: nobody dictates a code
in a longer turn, and it bounds the work on hostile input (windows, regexes, text2num)."""

_COMBINING = re.compile(r"[\u0300-\u036f]")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lowercase and strip accents ("Perché È" -> "perche e")."""
    low = text.lower()
    if low.isascii():
        return low
    return _COMBINING.sub("", unicodedata.normalize("NFKD", low))


def fold_words(text: str) -> str:
    """Folded text with every non-alphanumeric run turned into one space, space padded.

    ``" la seconda opzione "``: whole-word matching becomes ``" word " in padded``.
    """
    return " " + _NON_WORD.sub(" ", fold(text)).strip() + " "


def never_raises(fn: Extractor) -> Extractor:
    """Wrap an extractor so that an unexpected bug is a no-match, never a traceback.

    The extractors are written not to raise; this is the last line of defence required
    by the engine's contract (a session must never fail because of caller text).
    """

    @functools.wraps(fn)
    def wrapper(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
        try:
            if not isinstance(text, str):
                return None
            return fn(text, lang, at, options)
        except Exception:  # noqa: BLE001 - the contract is "never raises"
            return None

    return wrapper
