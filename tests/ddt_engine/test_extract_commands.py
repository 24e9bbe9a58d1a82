"""Global commands (repeat, help, operator, cancel) in it and en."""

from __future__ import annotations

import pytest

from ddt_engine.extract.commands import detect_command

IT = [
    ("può ripetere?", "repeat"),
    ("puo ripetere", "repeat"),
    ("come?", "repeat"),
    ("come scusi?", "repeat"),
    ("non ho capito", "repeat"),
    ("scusi, non ho sentito", "repeat"),
    ("ripeta per favore", "repeat"),
    ("cosa ha detto?", "repeat"),
    ("prego?", "repeat"),
    ("me lo può ripetere", "repeat"),
    ("aiuto", "help"),
    ("aiuto!", "help"),
    ("cosa devo dire?", "help"),
    ("mi può aiutare?", "help"),
    ("non so cosa dire", "help"),
    ("voglio parlare con un operatore", "operator"),
    ("operatore", "operator"),
    ("mi passi un operatore per favore", "operator"),
    ("vorrei una persona vera", "operator"),
    ("posso parlare con un essere umano?", "operator"),
    ("annulla", "cancel"),
    ("lascia stare", "cancel"),
    ("lasci perdere", "cancel"),
    ("basta", "cancel"),
    ("ho cambiato idea", "cancel"),
    ("no basta", "cancel"),
    ("annulla tutto", "cancel"),
    ("no", None),
    ("no grazie", None),
    ("il 3 marzo", None),
    ("3 marzo 1980", None),
    ("domani alle 5", None),
    ("come si chiama il medico", None),
    ("sì", None),
    ("", None),
    ("trentadue", None),
    # asking what the question means is asking for help
    ("in che senso?", "help"),
    ("scusi, cosa intende?", "help"),
    ("cosa vuol dire?", "help"),
    ("che cos'è?", "help"),
    ("che significa", "help"),
]

EN = [
    ("say that again", "repeat"),
    ("repeat please", "repeat"),
    ("sorry?", "repeat"),
    ("what?", "repeat"),
    ("come again?", "repeat"),
    ("I didn't catch that", "repeat"),
    ("could you repeat that", "repeat"),
    ("pardon?", "repeat"),
    ("help", "help"),
    ("help me", "help"),
    ("what can I say?", "help"),
    ("agent", "operator"),
    ("talk to a human", "operator"),
    ("operator please", "operator"),
    ("I want to speak to a real person", "operator"),
    ("representative", "operator"),
    ("cancel", "cancel"),
    ("never mind", "cancel"),
    ("forget it", "cancel"),
    ("stop", "cancel"),
    ("I changed my mind", "cancel"),
    ("quit", "cancel"),
    ("quit smoking", None),
    ("no", None),
    ("nope", None),
    ("March 3rd", None),
    ("tomorrow at 5 pm", None),
    ("yes", None),
    ("", None),
    ("what a day", None),
    ("what do you mean?", "help"),
    ("what do you mean by tax code", "help"),
    ("what does that mean", "help"),
    ("what's that?", "help"),
    ("what was that", "repeat"),
]


@pytest.mark.parametrize(("text", "expected"), IT)
def test_commands_it(text: str, expected: str | None) -> None:
    assert detect_command(text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), EN)
def test_commands_en(text: str, expected: str | None) -> None:
    assert detect_command(text, "en") == expected


def test_operator_beats_repeat() -> None:
    assert detect_command("non ho capito, mi passi un operatore", "it") == "operator"


def test_unknown_language_falls_back_to_italian() -> None:
    assert detect_command("annulla", "xx") == "cancel"
