"""Extractor: free text (any non-empty utterance, trimmed and capped)."""

from __future__ import annotations

import re
from datetime import datetime

from ddt_engine.extract._b_norm import never_raises
from ddt_engine.extract.base import Extraction, ExtractOptions

__all__ = ["MAX_FREE_TEXT", "extract_text"]

MAX_FREE_TEXT = 1000
"""Characters kept of a free-text answer (a note, a reason for calling)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")


@never_raises
def extract_text(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """The utterance itself: control characters dropped, whitespace collapsed, trimmed,
    at most ``MAX_FREE_TEXT`` characters; None when nothing is left."""
    cleaned = _SPACES.sub(" ", _CONTROL.sub(" ", text[: MAX_FREE_TEXT * 4])).strip()
    if not cleaned:
        return None
    return Extraction(cleaned[:MAX_FREE_TEXT].rstrip(), "pattern")
