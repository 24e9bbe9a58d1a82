"""A clear command phrase wins over what an extractor reads in its words.

"voglio parlare con un operatore" must transfer in a date or spelled DDT (the extractors
read "un" as the number one); a value said besides a command is still the answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddt_engine.engine import _COMMAND_KEYS, _detect_command
from ddt_engine.extract.commands import _EXACT, _PHRASES, detect_command
from tests.ddt_engine._ddt_helpers import Talk

DATE: dict[str, Any] = {"type": "date", "label": {"it": "la data", "en": "the date"}}
SPELLED: dict[str, Any] = {"type": "spelled"}

OPERATOR_IT = ["voglio parlare con un operatore", "mi passi un operatore", "un operatore"]
OPERATOR_EN = ["I want to talk to an operator", "I'd like to speak to a person", "an agent"]


@pytest.mark.parametrize("ddt", [DATE, SPELLED], ids=["date", "spelled"])
@pytest.mark.parametrize(
    ("lang", "text"),
    [("it", t) for t in OPERATOR_IT] + [("en", t) for t in OPERATOR_EN],
)
def test_operator_phrase_transfers_from_start(ddt: dict[str, Any], lang: str, text: str) -> None:
    t = Talk(ddt, lang=lang)
    t.start()
    step = t.say(text)
    assert (step.outcome, step.reason, step.critical) == ("transfer", "operator_requested", True)
    assert step.actions == () and step.state is None


@pytest.mark.parametrize("lang", ["it", "en"])
def test_operator_phrase_transfers_while_a_date_part_is_asked(lang: str) -> None:
    t = Talk(DATE, lang=lang)
    t.start()
    t.say("marzo 1980" if lang == "it" else "March 1980")
    assert t.state is not None and t.state.node == ("day",)
    step = t.say(OPERATOR_IT[0] if lang == "it" else OPERATOR_EN[0])
    assert (step.outcome, step.reason) == ("transfer", "operator_requested")


def test_repeat_phrase_with_a_number_word_repeats_en() -> None:
    t = Talk(DATE, lang="en")
    t.start()
    first = t.texts()
    step = t.say("one more time")
    assert step.reason == "repeat" and step.outcome == "continue"
    assert t.texts() == first
    assert t.state is not None and t.state.counters == {} and t.state.total == 0


def test_cancel_phrase_cancels_a_spelled_ddt() -> None:
    t = Talk(SPELLED)
    t.start()
    step = t.say("lasci perdere, ho cambiato idea")
    assert (step.outcome, step.reason) == ("cancel", "caller_cancelled")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("non ho capito, il quindici marzo", {"day": 15, "month": 3}),
        ("ho cambiato idea: il sedici marzo", {"day": 16, "month": 3}),
    ],
)
def test_a_value_besides_a_command_is_the_answer(text: str, parts: dict[str, int]) -> None:
    t = Talk(DATE)
    t.start()
    step = t.say(text)
    assert step.outcome == "continue"
    assert t.state is not None and t.state.values == parts and t.state.node == ("year",)


def test_digits_are_an_answer_even_with_a_command_word() -> None:
    t = Talk(DATE)
    t.start()
    step = t.say("non ho capito, il 15/03/1980")
    assert step.outcome in ("success", "continue")
    assert step.outcome == "success" or (t.state is not None and t.state.candidate == "1980-03-15")


def test_a_spelled_code_with_letters_is_still_the_answer() -> None:
    t = Talk({"type": "spelled", "confirm": "never"})
    t.start()
    step = t.say("A come Ancona, B come Bologna")
    assert (step.outcome, step.value) == ("success", "AB")


# -- the engine's cheap rejection before detect_command gives the same answers -----------

_VOCAB = sorted(
    {w for lang in ("it", "en") for w in _COMMAND_KEYS[lang]}
    | {"il", "15", "marzo", "un", "a", "voglio", "please", "con", "to", "sì", "perché", "è"}
    | {"Operatore", "OPERATOR", "l'operatore", "ripeti,", "help!", "don't", "didn't"}
)


@given(
    st.lists(st.sampled_from(_VOCAB), max_size=6).map(" ".join) | st.text(max_size=40),
    st.sampled_from(["it", "en", "fr"]),
)
@settings(max_examples=600, deadline=None)
def test_cheap_rejection_agrees_with_detect_command(text: str, lang: str) -> None:
    assert _detect_command(text, lang) == detect_command(text, lang)


@pytest.mark.parametrize("lang", ["it", "en"])
def test_every_command_entry_passes_the_cheap_rejection(lang: str) -> None:
    for entries in (_EXACT, _PHRASES):
        for phrases in entries[lang].values():
            for p in phrases:
                for text in (p, f"allora {p} grazie", p.upper()):
                    assert _detect_command(text, lang) == detect_command(text, lang), text
