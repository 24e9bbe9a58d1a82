"""What a voice gateway is told, through the real driver on the bank example's conversation
tests: the card digits are listened for 8 s, the block question cannot be barged over, the
reference number is read whole, a read-back listens for a confirmation; on chat none of the
voice settings appear. And a say node's barge_in on both channels of a small project."""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path
from typing import Any

from compiler import compile_project, compile_project_dict
from runtime.convtest import ConvTest, TestResult, find_test_files, load_tests, run_test
from runtime.programs import LoadedProgram, ProgramRegistry
from schemas.actions import ListenAction, SayAction
from schemas.program import Program

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bank_card_block"


@cache
def _loaded() -> LoadedProgram:
    result = compile_project(EXAMPLE)
    assert result.ok and result.program is not None
    return ProgramRegistry().add(result.program)


def _test(name: str) -> ConvTest:
    tests = [t for f in find_test_files(EXAMPLE) for t in load_tests(f) if t.name == name]
    assert len(tests) == 1, name
    return tests[0]


def _run(test: ConvTest, loaded: LoadedProgram, tmp: Path) -> TestResult:
    result = asyncio.run(run_test(loaded, test, tmp / "log.jsonl"))
    assert result.failures == [], result.failures
    return result


def _listen_after(result: TestResult, prompt: str) -> ListenAction:
    """The listen of the turn whose last prompt is ``prompt`` (a DDT's question)."""
    for rec in result.records:
        says = [a for a in rec.actions if isinstance(a, SayAction)]
        if says and says[-1].prompt == prompt and isinstance(rec.actions[-1], ListenAction):
            return rec.actions[-1]
    raise AssertionError(f"no turn ends with {prompt!r}")


def _say(result: TestResult, prompt: str) -> SayAction:
    says = [a for r in result.records for a in r.actions if isinstance(a, SayAction)]
    found = [a for a in says if a.prompt == prompt]
    assert len(found) == 1, prompt
    return found[0]


def test_a_voice_caller_of_the_bank_example(tmp_path: Path) -> None:
    result = _run(_test("card blocked (it, voice)"), _loaded(), tmp_path)
    birth = _listen_after(result, "birth_date/main/start/1")
    assert (birth.timeout_ms, birth.barge_in, birth.confirming) == (5000, True, False)
    card = _listen_after(result, "card_digits/main/start/1")
    assert (card.expect, card.timeout_ms, card.barge_in) == ("spelled", 8000, True)
    block = _listen_after(result, "confirm_block/main/start/1")
    assert (block.expect, block.timeout_ms, block.barge_in) == ("yes_no", 5000, False)
    blocked = _say(result, "blocked")
    assert blocked.barge_in is False
    assert blocked.model_dump(mode="json")["barge_in"] is False
    # the other prompts follow their turn's listen: no barge_in of their own
    assert _say(result, "welcome").barge_in is None
    assert "barge_in" not in _say(result, "welcome").model_dump(mode="json")


def test_a_read_back_on_voice_listens_for_a_confirmation(tmp_path: Path) -> None:
    test = _test("a two-digit year is read back with its article and corrected (it, voice)")
    result = _run(test, _loaded(), tmp_path)
    listens = [r.actions[-1] for r in result.records if isinstance(r.actions[-1], ListenAction)]
    # asked; read back; asked again after silence; the correction read back; the digits
    assert [(a.expect, a.confirming) for a in listens] == [
        ("date", False),
        ("date", True),
        ("date", True),
        ("date", True),
        ("spelled", False),
    ]


def test_a_chat_session_of_the_bank_example_has_no_voice_settings(tmp_path: Path) -> None:
    test = _test("the SMS gateway is down, the card is blocked anyway (en)")
    result = _run(test, _loaded(), tmp_path)
    assert result.records[0].state is not None and result.records[0].state.channel == "chat"
    for rec in result.records:
        for action in rec.actions:
            data = action.model_dump(mode="json")
            if isinstance(action, ListenAction):
                assert (data["timeout_ms"], data["barge_in"], "hints" in data) == (
                    5000,
                    True,
                    False,
                )
            if isinstance(action, SayAction):
                assert "barge_in" not in data, data
    assert _say(result, "blocked").barge_in is None


def _notice_project(barge_in: bool | None) -> Program:
    text = {"it": "La chiamata è registrata.", "en": "This call is recorded."}
    say: dict[str, Any] = {"text": text}
    if barge_in is not None:
        say["barge_in"] = barge_in
    result = compile_project_dict(
        {
            "name": "notice",
            "languages": ["it", "en"],
            "variables": {"ok": {"type": "boolean"}},
            "ddts": {"agree": {"type": "yes_no", "listen": {"barge_in": False}}},
            "nodes": [
                {"id": "start", "kind": "start"},
                {"id": "notice", "kind": "say", "data": say},
                {
                    "id": "ask",
                    "kind": "get_data",
                    "data": {"ddt": "agree", "into": "ok", "on_failure": "bye"},
                },  # fmt: skip
                {"id": "bye", "kind": "end"},
            ],
            "edges": [
                {"source": "start", "target": "notice"},
                {"source": "notice", "target": "ask"},
                {"source": "ask", "target": "bye"},
            ],
        }
    )
    assert result.ok and result.program is not None, result.diagnostics
    return result.program


def _first_turn(program: Program, channel: str, tmp: Path) -> tuple[Any, ...]:
    loaded = ProgramRegistry().add(program)
    test = ConvTest(
        name=f"notice {channel}",
        file=tmp / "t.yaml",
        line=1,
        language="en",
        channel=channel,  # type: ignore[arg-type]
        at=_test("card blocked (it, voice)").at,
        variables={},
        backends={},
        turns=(),
    )
    result = _run(test, loaded, tmp)
    return tuple(a.model_dump(mode="json") for a in result.records[0].actions)


def test_a_say_node_barge_in_on_voice_and_on_chat(tmp_path: Path) -> None:
    for barge_in in (False, True, None):
        program = _notice_project(barge_in)
        notice, question, listen = _first_turn(program, "voice", tmp_path)
        assert notice["text"] == "This call is recorded."
        assert notice.get("barge_in", "unset") == ("unset" if barge_in is None else barge_in)
        assert "barge_in" not in question  # the DDT's prompts follow its listen …
        assert listen["barge_in"] is False  # … which says they cannot be interrupted
        notice, question, listen = _first_turn(program, "chat", tmp_path)
        assert "barge_in" not in notice and listen["barge_in"] is True
