"""Extractors: date, day, month, year (placeholder until implemented)."""

from __future__ import annotations

from datetime import datetime

from ddt_engine.extract.base import Extraction, ExtractOptions


def extract_date(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    return None


def extract_day(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    return None


def extract_month(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    return None


def extract_year(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    return None
