"""Choice among a DDT's options: synonyms per language, ordinals, ambiguity, it and en.

Row: (utterance, expected value, or None for no match).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import ExtractOptions, extract

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

# Declared order: carta, carta_di_credito, contanti, bonifico.
PAYMENT = ExtractOptions(
    choices={
        "carta": {"it": ["bancomat", "pos", "carta di debito"], "en": ["card", "debit card"]},
        "carta_di_credito": {
            "it": ["carta di credito", "visa", "mastercard"],
            "en": ["credit card", "visa", "mastercard"],
        },
        "contanti": {"it": ["in contanti", "cash", "soldi"], "en": ["cash", "money"]},
        "bonifico": {
            "it": ["bonifico bancario", "trasferimento"],
            "en": ["bank transfer", "wire transfer", "transfer"],
        },
    }
)
# Declared order: amministrazione, assistenza, vendite.
OFFICE = ExtractOptions(
    choices={
        "amministrazione": {"it": ["fatture", "pagamenti"], "en": ["billing", "invoices"]},
        "assistenza": {
            "it": ["assistenza tecnica", "guasto", "non funziona"],
            "en": ["technical support", "support", "broken", "not working"],
        },
        "vendite": {"it": ["commerciale", "acquistare", "preventivo"], "en": ["sales", "buy"]},
    }
)

Row = tuple[str, ExtractOptions, str | None]

CHOICE_IT: list[Row] = [
    ("carta", PAYMENT, "carta"),
    ("Carta", PAYMENT, "carta"),
    ("con la carta", PAYMENT, "carta"),
    ("pago col bancomat", PAYMENT, "carta"),
    ("POS", PAYMENT, "carta"),
    ("con la carta di credito", PAYMENT, "carta_di_credito"),
    ("carta di credito, grazie", PAYMENT, "carta_di_credito"),
    ("ho una Visa", PAYMENT, "carta_di_credito"),
    ("mastercard", PAYMENT, "carta_di_credito"),
    ("in contanti", PAYMENT, "contanti"),
    ("contanti", PAYMENT, "contanti"),
    ("pago cash", PAYMENT, "contanti"),
    ("bonifico", PAYMENT, "bonifico"),
    ("faccio un bonifico bancario", PAYMENT, "bonifico"),
    ("preferisco il BONIFICO", PAYMENT, "bonifico"),
    ("il primo", PAYMENT, "carta"),
    ("la prima", PAYMENT, "carta"),
    ("la seconda", PAYMENT, "carta_di_credito"),
    ("il secondo", PAYMENT, "carta_di_credito"),
    ("la terza opzione", PAYMENT, "contanti"),
    ("il quarto", PAYMENT, "bonifico"),
    ("l'ultima", PAYMENT, "bonifico"),
    ("l'ultimo", PAYMENT, "bonifico"),
    ("numero due", PAYMENT, "carta_di_credito"),
    ("opzione 3", PAYMENT, "contanti"),
    ("2", PAYMENT, "carta_di_credito"),
    ("uno", PAYMENT, "carta"),
    ("amministrazione", OFFICE, "amministrazione"),
    ("è per delle fatture", OFFICE, "amministrazione"),
    ("ho un guasto", OFFICE, "assistenza"),
    ("la stampante non funziona", OFFICE, "assistenza"),
    ("assistenza tecnica per favore", OFFICE, "assistenza"),
    ("vorrei un preventivo", OFFICE, "vendite"),
    ("l'ufficio commerciale", OFFICE, "vendite"),
    ("vendite", OFFICE, "vendite"),
    ("il terzo", OFFICE, "vendite"),
    ("secondo me la carta", PAYMENT, "carta"),  # "secondo me" is not "the second"
    # Ambiguous (two options named): no match, the engine asks again.
    ("contanti o bonifico", PAYMENT, None),
    ("carta oppure contanti", PAYMENT, None),
    ("il primo o il secondo", PAYMENT, None),
    ("fatture e preventivo", OFFICE, None),
    # Nothing of the options.
    ("boh", PAYMENT, None),
    ("non lo so", PAYMENT, None),
    ("", PAYMENT, None),
    ("il quinto", PAYMENT, None),  # only four options
    ("aspetti un secondo", PAYMENT, None),
    ("cartaceo", PAYMENT, None),  # whole words only
]

CHOICE_EN: list[Row] = [
    ("card", PAYMENT, "carta"),
    ("by card", PAYMENT, "carta"),
    ("Debit card please", PAYMENT, "carta"),
    ("credit card", PAYMENT, "carta_di_credito"),
    ("I'll pay by credit card", PAYMENT, "carta_di_credito"),
    ("visa", PAYMENT, "carta_di_credito"),
    ("with my Mastercard", PAYMENT, "carta_di_credito"),
    ("cash", PAYMENT, "contanti"),
    ("in cash", PAYMENT, "contanti"),
    ("CASH!", PAYMENT, "contanti"),
    ("bank transfer", PAYMENT, "bonifico"),
    ("a wire transfer", PAYMENT, "bonifico"),
    ("transfer", PAYMENT, "bonifico"),
    ("bonifico", PAYMENT, "bonifico"),  # the value itself is a synonym in every language
    ("contanti", PAYMENT, "contanti"),
    ("the first one", PAYMENT, "carta"),
    ("first", PAYMENT, "carta"),
    ("the second", PAYMENT, "carta_di_credito"),
    ("the second option", PAYMENT, "carta_di_credito"),
    ("third", PAYMENT, "contanti"),
    ("the fourth one", PAYMENT, "bonifico"),
    ("the last one", PAYMENT, "bonifico"),
    ("number two", PAYMENT, "carta_di_credito"),
    ("option 3", PAYMENT, "contanti"),
    ("1", PAYMENT, "carta"),
    ("two", PAYMENT, "carta_di_credito"),
    ("the 2nd", PAYMENT, "carta_di_credito"),
    ("billing", OFFICE, "amministrazione"),
    ("it's about my invoices", OFFICE, "amministrazione"),
    ("technical support", OFFICE, "assistenza"),
    ("my printer is broken", OFFICE, "assistenza"),
    ("it's not working", OFFICE, "assistenza"),
    ("sales please", OFFICE, "vendite"),
    ("I want to buy something", OFFICE, "vendite"),
    ("the third", OFFICE, "vendite"),
    ("Amministrazione", OFFICE, "amministrazione"),
    ("cash or card", PAYMENT, None),
    ("credit card or bank transfer", PAYMENT, None),
    ("the first or the second", PAYMENT, None),
    ("billing and sales", OFFICE, None),
    ("I don't know", PAYMENT, None),
    ("hmm", PAYMENT, None),
    ("", PAYMENT, None),
    ("the fifth", PAYMENT, None),
    ("wait a second", PAYMENT, None),
    ("cardboard", PAYMENT, None),
    ("first of all, I have a question", PAYMENT, None),
]


@pytest.mark.parametrize(("text", "options", "expected"), CHOICE_IT)
def test_choice_it(text: str, options: ExtractOptions, expected: str | None) -> None:
    got = extract("choice", text, "it", AT, options)
    assert (got.value if got else None) == expected, got


@pytest.mark.parametrize(("text", "options", "expected"), CHOICE_EN)
def test_choice_en(text: str, options: ExtractOptions, expected: str | None) -> None:
    got = extract("choice", text, "en", AT, options)
    assert (got.value if got else None) == expected, got


def test_longer_phrase_wins_over_the_phrase_it_contains() -> None:
    got = extract("choice", "carta di credito", "it", AT, PAYMENT)
    assert got is not None and got.value == "carta_di_credito" and got.confidence == 1.0


def test_ordinal_pick_is_by_declared_order_and_less_confident() -> None:
    reordered = ExtractOptions(choices=dict(reversed(list(PAYMENT.choices.items()))))
    first = extract("choice", "il primo", "it", AT, reordered)
    assert first is not None and first.value == "bonifico" and first.confidence == 0.9


def test_no_choices_no_match() -> None:
    assert extract("choice", "carta", "it", AT) is None


def test_a_language_without_synonyms_uses_all_languages() -> None:
    opts = ExtractOptions(choices={"si": {"it": ["certo"]}, "no": {"en": ["nope"]}})
    got = extract("choice", "nope", "it", AT, opts)
    assert got is not None and got.value == "no"


def test_tables_have_at_least_40_rows_each() -> None:
    assert len(CHOICE_IT) >= 40 and len(CHOICE_EN) >= 40
