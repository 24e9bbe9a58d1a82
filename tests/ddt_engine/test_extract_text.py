"""Free text: any non-empty utterance, trimmed, whitespace collapsed, capped; it and en."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract
from ddt_engine.extract.text import MAX_FREE_TEXT

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

Row = tuple[str, str | None]

TEXT_IT: list[Row] = [
    ("vorrei prenotare una visita", "vorrei prenotare una visita"),
    ("  vorrei prenotare una visita  ", "vorrei prenotare una visita"),
    ("Ho un forte mal di testa da tre giorni.", "Ho un forte mal di testa da tre giorni."),
    ("la caldaia perde acqua", "la caldaia perde acqua"),
    ("sì", "sì"),
    ("no", "no"),
    ("boh", "boh"),
    ("ok", "ok"),
    ("Mario Rossi", "Mario Rossi"),
    ("via Garibaldi 12, Roma", "via Garibaldi 12, Roma"),
    ("il 3 marzo alle 10", "il 3 marzo alle 10"),
    ("347 123 4567", "347 123 4567"),
    ("perché è così?", "perché è così?"),
    ("L'appuntamento è saltato", "L'appuntamento è saltato"),
    ("vorrei\tparlare\tcon qualcuno", "vorrei parlare con qualcuno"),
    ("prima riga\nseconda riga", "prima riga seconda riga"),
    ("troppi     spazi   qui", "troppi spazi qui"),
    ("\n\n ciao \n", "ciao"),
    ("ciao\u200b!", "ciao !"),
    ("emoji 😀 ok", "emoji 😀 ok"),
    ("€ 12,50", "€ 12,50"),
    ("«citazione»", "«citazione»"),
    ("a", "a"),
    ("1", "1"),
    ("?", "?"),
    ("...", "..."),
    ("non funziona niente, aiutatemi", "non funziona niente, aiutatemi"),
    ("ÈÀÙ maiuscole", "ÈÀÙ maiuscole"),
    ("ciao\x00mondo", "ciao mondo"),
    ("x" * 1500, "x" * MAX_FREE_TEXT),
    ("parola " * 300, ("parola " * 300)[:MAX_FREE_TEXT].rstrip()),
    (
        "la mia segnalazione riguarda la bolletta di marzo",
        "la mia segnalazione riguarda la bolletta di marzo",
    ),
    ("ho perso la tessera sanitaria", "ho perso la tessera sanitaria"),
    ("chiamo per conto di mia madre", "chiamo per conto di mia madre"),
    ("", None),
    (" ", None),
    ("   \t  ", None),
    ("\n", None),
    ("\u200b", None),
    ("\x00\x01", None),
    ("\r\n\r\n", None),
]

TEXT_EN: list[Row] = [
    ("I'd like to book an appointment", "I'd like to book an appointment"),
    ("  I'd like to book an appointment  ", "I'd like to book an appointment"),
    ("My boiler is leaking.", "My boiler is leaking."),
    ("yes", "yes"),
    ("no", "no"),
    ("hmm", "hmm"),
    ("John Smith", "John Smith"),
    ("221B Baker Street, London", "221B Baker Street, London"),
    ("on March 3rd at 10", "on March 3rd at 10"),
    ("it's about my bill", "it's about my bill"),
    ("why?", "why?"),
    ("tabs\tand\tspaces", "tabs and spaces"),
    ("line one\nline two", "line one line two"),
    ("too     many   spaces", "too many spaces"),
    ("\n\n hello \n", "hello"),
    ("emoji 🎉 here", "emoji 🎉 here"),
    ("$15.99", "$15.99"),
    ("a", "a"),
    ("7", "7"),
    ("!", "!"),
    ("OK THANKS", "OK THANKS"),
    ("café au lait", "café au lait"),
    ("I lost my health card", "I lost my health card"),
    ("I'm calling on behalf of my mother", "I'm calling on behalf of my mother"),
    ("nothing works, help me", "nothing works, help me"),
    ("hello\x07world", "hello world"),
    ("y" * 5000, "y" * MAX_FREE_TEXT),
    ("word " * 400, ("word " * 400)[:MAX_FREE_TEXT].rstrip()),
    ("the printer on the second floor is jammed", "the printer on the second floor is jammed"),
    ("please call me back tomorrow", "please call me back tomorrow"),
    ("can I change my address?", "can I change my address?"),
    ("I want to cancel my order", "I want to cancel my order"),
    ("", None),
    (" ", None),
    ("\t", None),
    ("\n\n", None),
    ("\ufeff", None),
    ("\u2028", None),
    ("\x1f", None),
    ("  \u200b  ", None),
    ("\r", None),
]


@pytest.mark.parametrize(("text", "expected"), TEXT_IT)
def test_text_it(text: str, expected: str | None) -> None:
    got = extract("text", text, "it", AT)
    assert (got.value if got else None) == expected
    assert got is None or (got.confidence == 1.0 and got.invalid is None)


@pytest.mark.parametrize(("text", "expected"), TEXT_EN)
def test_text_en(text: str, expected: str | None) -> None:
    got = extract("text", text, "en", AT)
    assert (got.value if got else None) == expected


def test_tables_have_at_least_40_rows_each() -> None:
    assert len(TEXT_IT) >= 40 and len(TEXT_EN) >= 40
