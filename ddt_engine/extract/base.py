"""The extraction interface: what every layer returns and the options it is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Extraction:
    """What a layer found in an utterance.

    ``value`` is normalised (dates ``YYYY-MM-DD``, times ``HH:MM``, phones E.164, codes
    uppercase without spaces, e-mail lowercase, yes/no bool, money a float in euros,
    integers int). A partial composite value is a dict of the parts given, e.g.
    ``{"month": 3, "year": 1980}``. ``invalid`` names why a recognised value is not
    acceptable (``"invalid_date"`` for "31/02/2020"): the engine plays the invalid prompt.
    ``uncertain`` marks a guess (a two-digit year, an hour without am/pm).
    """

    value: Any
    layer: str  # "pattern" | "grammar" | "choice" | "dtmf" | "ner" | "llm"
    confidence: float = 1.0
    uncertain: bool = False
    invalid: str | None = None


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """Per-DDT options: choices with synonyms per language, extra regexes, and whether a
    date said without its direction is in the past (``missing_year: past``)."""

    choices: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)
    patterns: Sequence[str] = ()
    past: bool = False


Extractor = Callable[[str, str, datetime, ExtractOptions], Extraction | None]
"""``(text, lang, at, options) -> Extraction | None``: pure, never raises, never reads a clock."""
