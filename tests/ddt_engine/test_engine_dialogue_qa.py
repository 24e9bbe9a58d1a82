"""Dialogue-level QA of the default prompts: what a caller hears and reads, in Italian and
English, on voice and chat — read-backs fit for speech, prompts that do not contradict the
situation, escalation that does not repeat itself word for word."""

from __future__ import annotations

from tests.ddt_engine._ddt_helpers import Talk

# -- read-backs -----------------------------------------------------------------------------


def test_a_phone_is_read_back_in_its_national_groups() -> None:
    voice = Talk({"type": "phone"}, channel="voice")
    voice.start()
    voice.say("tre tre tre uno due tre quattro cinque sei sette")
    assert voice.text() == "Ho capito: 333 123 4567. È corretto?"
    assert voice.ssml() == (
        '<speak>Ho capito: 3 3 3, 1 2 3, 4 5 6 7. <break time="300ms"/> È corretto?</speak>'
    )
    chat = Talk({"type": "phone"}, lang="en")
    chat.start()
    chat.say("06 1234 5678")
    assert chat.text() == "I got: 06 1234 5678. Is that right?"
    assert chat.say("yes").value == "+390612345678"  # the value stays E.164
