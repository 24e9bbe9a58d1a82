"""What-if replay: recorded sessions against a changed program.

The oracle is independent of the what-if code: the same conversation tests are run again
through the real driver on the changed program, and the first turn where that run's records
differ from the recorded ones (actions, memory, status) is where the change shows. What-if
must report a change for exactly those sessions, at that turn; the unchanged program reports
every session ``same``."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from runtime.convtest import run_test
from runtime.programs import LoadedProgram
from runtime.replay import SessionLog, load_jsonl
from runtime.whatif import observable, what_if
from tests.runtime.test_replay import EXAMPLES_DIR, compiled, designer_tests, rec_root, recorded

__all__ = ["rec_root"]

PROJECT = EXAMPLES_DIR / "bank_card_block"

CHANGES = {
    "edge condition": ("flow.yaml", 'condition: "attempts < 2"', 'condition: "attempts < 1"'),
    "DDT validation": ("ddts.yaml", 'rule: "age(value) >= 14"', 'rule: "age(value) >= 50"'),
    "removed node": (
        "flow.yaml",
        "  - {id: notify, kind: send_sms, data: {to: caller.phone, prompt: sms_blocked, "
        "on_error: goodbye}}\n",
        "",
    ),
}


def changed_project(tmp: Path, what: str) -> Path:
    dst = tmp / f"changed-{what.replace(' ', '_')}"
    shutil.copytree(PROJECT, dst)
    file, old, new = CHANGES[what]
    text = (dst / file).read_text(encoding="utf-8")
    assert old in text, f"the example changed: {old!r} not in {file}"
    text = text.replace(old, new)
    if what == "removed node":
        text = text.replace(
            "  - {source: blocked, target: notify}\n  - {source: notify, target: goodbye}\n",
            "  - {source: blocked, target: goodbye}\n",
        )
    (dst / file).write_text(text, encoding="utf-8")
    return dst


def _turns(log: SessionLog) -> list[tuple[object, ...]]:
    return [
        (
            r.event.type,
            [a.model_dump(mode="json") for a in r.actions],
            observable(r.state) if r.state is not None else None,
        )
        for r in log.records
    ]


def oracle(new: LoadedProgram, tmp: Path) -> dict[str, int | None]:
    """Per session id: the first turn where the real run on ``new`` differs, or None."""
    originals = {r.sessions[0].session_id: r.sessions[0] for r in recorded(PROJECT, tmp)}
    return asyncio.run(_oracle(new, originals, tmp))


async def _oracle(
    new: LoadedProgram, originals: dict[str, SessionLog], tmp: Path
) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    tests = designer_tests(PROJECT)
    for i, t in enumerate(tests):
        log = tmp / f"oracle-{i}.jsonl"
        await run_test(new, t, log)
        again = load_jsonl(log)[0]
        old = originals[again.session_id]
        a, b = _turns(old), _turns(again)
        first = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        if first is None and len(a) != len(b):
            first = min(len(a), len(b))
        out[again.session_id] = None if first is None else first + 1
    return out


def test_an_unchanged_program_reports_every_session_same(rec_root: Path) -> None:
    lp = compiled(PROJECT)
    for name in ("bank_card_block", "insurance_claim", "medical_booking"):
        project = EXAMPLES_DIR / name
        for r in recorded(project, rec_root):
            res = what_if(compiled(project), r.sessions[0])
            assert res.verdict == "same", (name, res.as_json())
    assert lp.id


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_a_change_is_reported_for_exactly_the_sessions_it_affects(
    what: str, rec_root: Path, tmp_path: Path
) -> None:
    new = compiled(changed_project(tmp_path, what))
    assert new.id != compiled(PROJECT).id
    expected = oracle(new, rec_root)
    affected = {sid for sid, turn in expected.items() if turn is not None}
    assert affected, f"{what}: the change affects no example session (a useless test)"
    assert len(affected) < len(expected), f"{what}: the change affects every session"
    got: dict[str, int | None] = {}
    for r in recorded(PROJECT, rec_root):
        res = what_if(new, r.sessions[0])
        got[res.session_id] = None if res.verdict == "same" else res.turn
        if res.verdict != "same":
            assert res.recorded_actions is not None and res.new_actions is not None
            assert res.recorded_actions != res.new_actions or res.state_diff
    assert got == expected


def test_removed_node_diverges_at_the_turn_it_would_have_run(
    rec_root: Path, tmp_path: Path
) -> None:
    new = compiled(changed_project(tmp_path, "removed node"))
    r = next(x for x in recorded(PROJECT, rec_root) if x.name == "card blocked (it, voice)")
    res = what_if(new, r.sessions[0])
    assert res.label == "diverged at turn 6"
    assert res.event == "backend_result"
    assert [a["type"] for a in res.recorded_actions or []] == ["say", "send_sms"]
    assert [a["type"] for a in res.new_actions or []] == ["say", "say", "end"]


def test_a_new_question_the_caller_never_answered_cannot_continue(
    rec_root: Path, tmp_path: Path
) -> None:
    """The new flow asks for one more piece of data after the last answer: the recording
    has nothing to give it."""
    dst = tmp_path / "extra_question"
    shutil.copytree(PROJECT, dst)
    flow = (dst / "flow.yaml").read_text(encoding="utf-8")
    flow = flow.replace(
        "  - {source: notify, target: goodbye}\n",
        "  - {source: notify, target: ask_again}\n  - {source: ask_again, target: goodbye}\n",
    ).replace(
        "  - {id: goodbye, kind: end,",
        "  - {id: ask_again, kind: get_data, data: {ddt: confirm_block, into: block_confirmed,"
        " on_failure: to_operator}}\n  - {id: goodbye, kind: end,",
    )
    (dst / "flow.yaml").write_text(flow, encoding="utf-8")
    new = compiled(dst)
    r = next(x for x in recorded(PROJECT, rec_root) if x.name == "card blocked (it, voice)")
    res = what_if(new, r.sessions[0])
    assert res.label == "cannot continue at turn 7"
    assert res.reason == "the new program waits for the caller, who said nothing more"
