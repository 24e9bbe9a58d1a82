"""An hour without am/pm ("at 3", "alle 3": 03:00, a guess) is the reading among the times
offered (``options_from``) when only one of its two readings is (the English QA pass)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ddt_engine._ddt_helpers import Talk

SLOTS = ["09:00", "10:30", "15:00"]
NOT_OFFERED = {
    "code": "not_offered",
    "rule": "value in slots",
    "prompt": {"it": "No.", "en": "No."},
}


def talk(data: dict[str, Any], memory: dict[str, Any] | None = None, lang: str = "en") -> Talk:
    t = Talk(data, memory=memory or {}, lang=lang)
    t.start()
    return t


# -- 1. an hour without am/pm and the times offered -----------------------------------


def slot_talk(confirm: str = "never", slots: list[str] | None = None, lang: str = "en") -> Talk:
    data = {"type": "time", "confirm": confirm, "options_from": "slots", "validate": [NOT_OFFERED]}
    return talk(data, {"slots": SLOTS if slots is None else slots}, lang)


@pytest.mark.parametrize(
    ("lang", "text", "value"),
    [
        ("en", "at 3", "15:00"),
        ("en", "three o'clock", "15:00"),
        ("en", "around 3", "15:00"),
        ("it", "alle 3", "15:00"),
        ("it", "alle tre", "15:00"),
        ("en", "at 9", "09:00"),  # the reading as said is offered: kept
        ("en", "half past ten", "10:30"),
        ("en", "3 pm", "15:00"),
    ],
)
def test_an_hour_without_am_pm_takes_the_reading_offered(lang: str, text: str, value: str) -> None:
    step = slot_talk(lang=lang).say(text)
    assert (step.outcome, step.value) == ("success", value)


@pytest.mark.parametrize("text", ["at 3 am", "3 in the morning", "at 03:00"])
def test_an_hour_said_as_morning_is_not_turned_round(text: str) -> None:
    t = slot_talk()
    step = t.say(text)
    assert step.outcome == "continue"
    assert t.keys() == ["d/main/invalid:not_offered/1"]


def test_both_readings_offered_or_neither_the_hour_is_as_said() -> None:
    t = slot_talk(confirm="when_uncertain", slots=["03:00", "15:00"])
    t.say("at 3")
    assert "03:00" in t.text()
    t2 = slot_talk()
    t2.say("at 4")  # 04:00 and 16:00 both not offered
    assert t2.keys() == ["d/main/invalid:not_offered/1"]


def test_the_reading_taken_is_still_read_back_when_the_ddt_confirms_guesses() -> None:
    t = slot_talk(confirm="when_uncertain")
    t.say("at 3")
    assert "15:00" in t.text()
    assert t.state is not None and t.state.state == "confirmation"
    assert t.say("yes").value == "15:00"


def test_a_correction_at_the_read_back_takes_the_reading_offered() -> None:
    t = slot_talk(confirm="always")
    t.say("at 9")
    assert "09:00" in t.text()
    t.say("no, at 3")
    assert "15:00" in t.text()
    assert t.say("yes").value == "15:00"


def test_without_options_the_hour_is_as_said() -> None:
    t = talk({"type": "time", "confirm": "never"}, {"slots": SLOTS})
    assert t.say("at 3").value == "03:00"
