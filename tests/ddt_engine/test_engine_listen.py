"""The listen action that ends each DDT turn: the DDT's voice settings (timeout, barge-in,
ASR hints in the session's language, a sub-data's own or its main data's), ``confirming``
at a read-back, and a JSON unchanged for DDTs that set nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import yaml

from schemas.actions import DtmfListen, ListenAction
from tests.ddt_engine._ddt_helpers import Talk, engine_for

CARD = {
    "type": "spelled",
    "confirm": "always",
    "dtmf": {"max_digits": 4},
    "listen": {
        "timeout_ms": 8000,
        "barge_in": False,
        "hints": {"it": ["zero", "uno"], "en": ["zero", "one"]},
    },
}


def _listen(t: Talk) -> ListenAction:
    last = t.last.actions[-1]
    assert isinstance(last, ListenAction), t.last.actions
    return last


def _heard(t: Talk) -> tuple[str, int, tuple[str, ...]]:
    listen = _listen(t)
    return listen.expect, listen.timeout_ms, listen.hints


def test_a_voice_listen_carries_the_settings_and_the_hints_of_the_language() -> None:
    for lang, hints in (("it", ("zero", "uno")), ("en", ("zero", "one"))):
        t = Talk(CARD, lang=lang, channel="voice")
        t.start()
        assert _listen(t) == ListenAction(
            expect="spelled",
            timeout_ms=8000,
            barge_in=False,
            hints=hints,
            dtmf=DtmfListen(max_digits=4),
        )


def test_a_language_without_hints_gets_none() -> None:
    t = Talk({**CARD, "listen": {"hints": {"it": ["uno"]}}}, lang="en", channel="voice")
    t.start()
    assert _listen(t).hints == ()
    assert "hints" not in _listen(t).model_dump(mode="json")


def test_a_chat_listen_keeps_its_defaults() -> None:
    t = Talk(CARD, channel="chat")
    t.start()
    assert _listen(t) == ListenAction(expect="spelled")


def test_every_waiting_state_ends_with_the_settings() -> None:
    t = Talk(CARD, channel="voice")
    t.start()
    for step in (t.say("boh"), t.silence(), t.say("ripeta"), t.say("aiuto")):
        assert step.state is not None and step.state.state != "confirmation"
        assert (_listen(t).timeout_ms, _listen(t).barge_in, _listen(t).confirming) == (
            8000,
            False,
            False,
        )


def test_the_listens_are_prebuilt_once_per_node() -> None:
    engine = engine_for(CARD)
    a, b = Talk(engine, channel="voice"), Talk(engine, channel="voice")
    a.start(), b.start()
    a.say("boh"), b.silence()
    assert _listen(a) is _listen(b)


def test_a_sub_data_listens_with_its_own_settings_or_its_main_datas() -> None:
    data = {
        "type": "date",
        "listen": {"timeout_ms": 7000, "hints": {"it": ["marzo"]}},
        "subdata": {"day": {"listen": {"timeout_ms": 12000, "hints": {"it": ["il primo"]}}}},
    }
    t = Talk(data, channel="voice")
    t.start()
    assert _heard(t) == ("date", 7000, ("marzo",))
    t.say("marzo")  # the day and the year are missing: the day is asked
    assert t.state is not None and t.state.node == ("day",)
    assert _heard(t) == ("day", 12000, ("il primo",))
    t.say("il 15")
    assert t.state is not None and t.state.node == ("year",)
    assert _heard(t) == ("year", 7000, ("marzo",))


def test_a_read_back_listens_for_a_confirmation_of_the_same_type() -> None:
    t = Talk(CARD, channel="voice")
    t.start()
    t.say("1 2 3 4")
    assert t.state is not None and t.state.state == "confirmation"
    want = ListenAction(
        expect="spelled",  # a correction "no, 1 2 3 5" is still read
        timeout_ms=8000,
        barge_in=False,
        hints=("zero", "uno"),
        dtmf=DtmfListen(max_digits=4),
        confirming=True,
    )
    assert _listen(t) == want
    # asked again in every way it can be: unclear, silence, help, repeat, a correction
    for step in (t.say("boh"), t.silence(), t.say("aiuto"), t.say("ripeta"), t.say("no, 1 2 3 5")):
        assert step.state is not None and step.state.state == "confirmation"
        assert _listen(t) == want, step.actions
    t.say("no")  # denied: asked again from the start, not a confirmation
    assert t.state is not None and t.state.state == "notConfirmed"
    assert _listen(t).confirming is False
    t.say("4 3 2 1")
    assert _listen(t).confirming is True
    assert t.say("sì").outcome == "success" and t.last.value == "4321"


def test_a_read_back_says_so_on_chat_too() -> None:
    t = Talk({"type": "phone"}, channel="chat")
    t.start()
    t.say("333 123 4567")
    assert t.state is not None and t.state.state == "confirmation"
    assert _listen(t) == ListenAction(expect="phone", confirming=True)


def test_the_json_of_a_ddt_without_settings_is_unchanged() -> None:
    t = Talk({"type": "phone"}, channel="voice")
    t.start()
    asked: dict[str, Any] = _listen(t).model_dump(mode="json")
    assert orjson.dumps(asked) == (
        b'{"type":"listen","expect":"phone","timeout_ms":5000,'
        b'"dtmf":{"max_digits":20,"finish_key":"#"},"barge_in":true}'
    )
    t.say("333 123 4567")
    assert orjson.dumps(_listen(t).model_dump(mode="json")) == (
        b'{"type":"listen","expect":"phone","timeout_ms":5000,'
        b'"dtmf":{"max_digits":20,"finish_key":"#"},"barge_in":true,"confirming":true}'
    )


def test_the_example_of_the_docs_gives_the_listen_shown() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ddt.md").read_text(encoding="utf-8")
    found = re.search(
        r"\*\*Listen settings \(voice\)\.\*\*.*?```yaml\n(.*?)```.*?```json\n(.*?)```", doc, re.S
    )
    assert found is not None
    t = Talk(yaml.safe_load(found.group(1))["ddts"]["card_digits"], channel="voice")
    t.start()
    assert _listen(t).model_dump(mode="json") == orjson.loads(found.group(2))
