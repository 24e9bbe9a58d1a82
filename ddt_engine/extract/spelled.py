"""Extractor: spelled alphanumeric codes ("A come Ancona", "alpha bravo", "AB123CD").

Letters come from Italian letter names (erre, esse, i lunga, doppia vu …), English letter
names (bee, double u …), the Italian city alphabet and NATO ("R come Roma", "B as in
bravo", or the bare alphabet word), digits from written digits or number words ("zero
tre", "ottanta", "doppio sette"). The value is the code, uppercase, without spaces.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

from ddt_engine.extract._b_norm import MAX_CODE_TEXT, never_raises
from ddt_engine.extract._b_spell import code_runs, decode, leading_run, parts_as_said
from ddt_engine.extract.base import Extraction, ExtractOptions

__all__ = ["extract_spelled", "spelled_code"]

_SINGLE_TOKEN = re.compile(r"\s*([0-9A-Za-z]{1,64})\s*[.!]?\s*")
_HAS_DIGIT = re.compile(r"[0-9]")
_SPOKEN_CONFIDENCE = 0.8


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return None  # a bad designer regex is a compile-time diagnostic, not a crash here


def spelled_code(text: str, lang: str) -> list[tuple[str, bool]]:
    """Candidate codes in ``text``, longest first: (code, spoken) pairs."""
    text = text[:MAX_CODE_TEXT]
    runs = code_runs(decode(text, lang))
    single = _SINGLE_TOKEN.fullmatch(text)
    if single is not None and (_HAS_DIGIT.search(single.group(1)) or single.group(1).isupper()):
        runs.append((single.group(1).upper(), False))  # a typed code ("x7k2p", "ABCDEF")
    return sorted(dict.fromkeys(runs), key=lambda r: -len(r[0]))


_NOT_CORRECTED = ("", False)


def corrected_code(text: str, lang: str) -> tuple[str, bool] | None:
    """The code of a self-correction ("tre tre otto nove, no scusi, tre tre nove sette",
    "1 2 3 4 anzi 5"): a code said right after a marker at least as long as the one said
    before replaces it, a shorter one replaces as many characters at its end. ``("",
    False)`` when nothing was corrected; None when a correction was said that cannot be
    read ("1234, no aspetti, non ce l'ho") — never the code as said before it."""
    lang = lang if lang in ("it", "en") else "it"
    parts = parts_as_said(text, lang)
    if len(parts) < 2:
        return _NOT_CORRECTED
    current: str | None = None
    spoken = fixed = False
    for part in parts:
        pieces = decode(part, lang)
        runs = code_runs(pieces)
        if not runs:
            continue  # nothing code-like: not a correction ("no, grazie", "no scusi, …")
        if current is None:
            current, spoken = max(runs, key=lambda r: len(r[0]))
            continue
        head = leading_run(part, lang)
        if head is None:
            return None
        keep = len(current) - len(head)
        current = head if keep <= 0 else current[:keep] + head
        spoken = spoken or any(r[1] for r in runs)
        fixed = True
    if not fixed or current is None:
        return _NOT_CORRECTED
    return current, spoken


@never_raises
def extract_spelled(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    """The spelled code in ``text``; with ``options.patterns`` the code must match one.

    Without patterns the longest run of code pieces wins. With patterns, the first run
    (longest first) that a pattern matches in full wins, else the first match found inside
    a run ("il codice è AB123CD grazie"); a code that matches none is
    ``invalid="invalid_code"``.
    """
    fixed = corrected_code(text[:MAX_CODE_TEXT], lang)
    if fixed is None:
        return None
    runs = [fixed] if fixed[0] else spelled_code(text, lang)
    if not runs:
        return None
    patterns = [p for p in (_compile(s) for s in options.patterns) if p is not None]
    if not patterns:
        code, spoken = runs[0]
        return _found(code, spoken)
    for code, spoken in runs:
        if any(p.fullmatch(code) for p in patterns):
            return _found(code, spoken)
    for code, spoken in runs:
        for p in patterns:
            m = p.search(code)
            if m is not None and m.group(0):
                return _found(m.group(0), spoken)
    return Extraction(None, "pattern", invalid="invalid_code")


def _found(code: str, spoken: bool) -> Extraction:
    if spoken:
        # A letter heard by ASR can be wrong and no checksum protects it: ask to confirm.
        return Extraction(code, "grammar", confidence=_SPOKEN_CONFIDENCE, uncertain=True)
    return Extraction(code, "pattern")
