"""Extractors: phone, email, iban, codice_fiscale, partita_iva, cap."""

from __future__ import annotations

from datetime import datetime

from ddt_engine.extract.base import Extraction, ExtractOptions


def extract_phone(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    return None


def extract_email(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    return None


def extract_iban(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    return None


def extract_codice_fiscale(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    return None


def extract_partita_iva(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    return None


def extract_cap(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    return None
