"""The registry of built-in data types and their extractor functions."""

from __future__ import annotations

from ddt_engine.extract import choice, codes, dates, money, numbers, spelled, text, times, yesno
from ddt_engine.extract.base import Extractor

EXTRACTORS: dict[str, Extractor] = {
    "integer": numbers.extract_integer,
    "number": numbers.extract_number,
    "date": dates.extract_date,
    "day": dates.extract_day,
    "month": dates.extract_month,
    "year": dates.extract_year,
    "time": times.extract_time,
    "datetime": times.extract_datetime,
    "money": money.extract_money,
    "yes_no": yesno.extract_yes_no,
    "phone": codes.extract_phone,
    "email": codes.extract_email,
    "iban": codes.extract_iban,
    "codice_fiscale": codes.extract_codice_fiscale,
    "partita_iva": codes.extract_partita_iva,
    "cap": codes.extract_cap,
    "spelled": spelled.extract_spelled,
    "choice": choice.extract_choice,
    "text": text.extract_text,
}

TYPE_NAMES: tuple[str, ...] = tuple(sorted(EXTRACTORS))
