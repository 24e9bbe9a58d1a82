"""Extractors: yes_no (placeholder until implemented)."""

from __future__ import annotations

from datetime import datetime

from ddt_engine.extract.base import Extraction, ExtractOptions


def extract_yes_no(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    return None
