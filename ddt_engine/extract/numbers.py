"""Extractors: integer, number (placeholder until implemented)."""

from __future__ import annotations

from datetime import datetime

from ddt_engine.extract.base import Extraction, ExtractOptions


def extract_integer(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    return None


def extract_number(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    return None
