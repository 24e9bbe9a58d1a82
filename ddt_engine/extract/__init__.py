"""Layered extraction: patterns → spoken-language grammars (→ NER → LLM outside the engine).

``extract(type_name, text, lang, at)`` is the single entry point: pure, deterministic
(time only from ``at``), never raises.
"""

from __future__ import annotations

from datetime import datetime

from ddt_engine.extract.base import Extraction, ExtractOptions, Extractor
from ddt_engine.extract.registry import EXTRACTORS, TYPE_NAMES

__all__ = ["EXTRACTORS", "TYPE_NAMES", "ExtractOptions", "Extraction", "Extractor", "extract"]

_NO_OPTIONS = ExtractOptions()
MAX_TEXT = 2000  # longer utterances are cut: no caller says more in one turn


def extract(
    type_name: str,
    text: str,
    lang: str,
    at: datetime,
    options: ExtractOptions | None = None,
) -> Extraction | None:
    """Extract a value of ``type_name`` from ``text``; None when nothing matches."""
    fn = EXTRACTORS.get(type_name)
    if fn is None:
        raise KeyError(f"unknown data type {type_name!r}")
    try:
        return fn(text[:MAX_TEXT], lang, at, options or _NO_OPTIONS)
    except (ValueError, ArithmeticError, KeyError, IndexError, TypeError, OverflowError):
        # An extractor bug must never take a session down: treat it as no match.
        return None
