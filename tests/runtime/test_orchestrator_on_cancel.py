"""get_data's ``on_cancel``: the caller's cancel command ("annulla", "cancel") takes the
node's cancel route; running out of attempts still takes ``on_failure``; without
``on_cancel`` a cancel takes ``on_failure`` as before and the program's JSON has no
``on_cancel`` (the examples keep their bytes and their ids)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
import yaml

from compiler import compile_project, compile_project_dict
from runtime.coverage import FlowGraph
from runtime.graph import flow_dot, flow_mermaid
from runtime.orchestrator import new_session, run_step
from runtime.programs import LoadedProgram, ProgramRegistry
from schemas.actions import EndAction, SayAction, TransferAction
from schemas.events import NoInputEvent, StartEvent, UserInputEvent
from schemas.program import GetDataTask, Program
from schemas.session import SessionState

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "projects" / "on_cancel"
ROOT = HERE.parents[1]
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@cache
def loaded() -> LoadedProgram:
    r = compile_project(PROJECT)
    assert r.ok and r.program is not None, [d.message for d in r.diagnostics]
    return ProgramRegistry().add(r.program)


def started(lang: str) -> SessionState:
    lp = loaded()
    s = new_session(lp.program, "s", language=lang, channel="chat")
    return run_step(lp.program, s, StartEvent(at=AT), engine=lp.engine).state


@pytest.mark.parametrize(("lang", "text"), [("it", "annulla"), ("en", "cancel")])
def test_cancel_takes_on_cancel(lang: str, text: str) -> None:
    lp = loaded()
    trace: list[int] = []
    res = run_step(
        lp.program, started(lang), UserInputEvent(at=AT, text=text), engine=lp.engine, trace=trace
    )
    assert (res.state.status, res.state.reason) == ("ended", "cancelled")
    assert not any(isinstance(a, TransferAction) for a in res.actions)
    assert isinstance(res.actions[-1], EndAction)
    said = [a.text for a in res.actions if isinstance(a, SayAction)]
    assert said[-1] == {"it": "Va bene, lasciamo stare.", "en": "All right, never mind."}[lang]
    # the trace shows the get_data task followed by the cancel route's task
    sm = lp.program.source_map
    assert [sm[pc].node for pc in trace] == ["ask", "cancelled"]


def test_running_out_of_attempts_still_takes_on_failure() -> None:
    lp = loaded()
    s = started("it")
    for _ in range(10):
        if s.status != "waiting_input":
            break
        s = run_step(lp.program, s, NoInputEvent(at=AT), engine=lp.engine).state
    assert (s.status, s.reason) == ("transferred", "flow")


def test_an_answer_still_goes_on() -> None:
    lp = loaded()
    res = run_step(lp.program, started("it"), UserInputEvent(at=AT, text="12 marzo 1980"),
                   engine=lp.engine)  # fmt: skip
    assert (res.state.status, res.state.reason) == ("ended", "done")
    assert res.state.memory["birth"] == "1980-03-12"


def test_without_on_cancel_a_cancel_takes_on_failure() -> None:
    doc = {
        "name": "x",
        "languages": ["it"],
        "variables": {"birth": {"type": "date"}},
        "ddts": {"birth_date": {"type": "date"}},
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "ask", "kind": "get_data",
             "data": {"ddt": "birth_date", "into": "birth", "on_failure": "op"}},
            {"id": "bye", "kind": "end"},
            {"id": "op", "kind": "transfer", "data": {"target": "desk"}},
        ],
        "edges": [{"source": "start", "target": "ask"}, {"source": "ask", "target": "bye"}],
    }  # fmt: skip
    r = compile_project_dict(doc)
    assert r.program is not None
    assert b"on_cancel" not in r.program.canonical_bytes()
    lp = ProgramRegistry().add(r.program)
    s = new_session(lp.program, "s", language="it")
    s = run_step(lp.program, s, StartEvent(at=AT), engine=lp.engine).state
    s = run_step(lp.program, s, UserInputEvent(at=AT, text="annulla"), engine=lp.engine).state
    assert s.status == "transferred"


def test_the_task_holds_both_routes() -> None:
    p = loaded().program
    (task,) = [t for t in p.tasks if isinstance(t, GetDataTask)]
    assert task.on_cancel is not None and task.on_cancel != task.on_failure
    assert p.source_map[task.on_cancel].node == "cancelled"
    assert p.source_map[task.on_failure].node == "to_operator"
    # the JSON round trip keeps the route and the id
    again = Program.model_validate_json(p.canonical_bytes())
    assert again == p and again.id == p.id


@pytest.mark.parametrize("name", ["bank_card_block", "insurance_claim", "medical_booking"])
def test_examples_programs_hold_on_cancel_only_where_used_and_keep_their_id(name: str) -> None:
    r = compile_project(ROOT / "examples" / name)
    assert r.program is not None
    body = r.program.canonical_bytes()
    uses = any("on_cancel:" in f.read_text() for f in (ROOT / "examples" / name).glob("*.yaml"))
    assert (b"on_cancel" in body) == uses  # unset, the field is not in the program's bytes
    # the id is the hash of the same bytes a program without the field would have
    doc = json.loads(body)
    again = Program.model_validate(doc)
    assert again.id == r.program.id and again.canonical_bytes() == body


@pytest.mark.parametrize("name", ["bank_card_block", "insurance_claim", "medical_booking"])
def test_stored_golden_programs_keep_their_bytes(name: str) -> None:
    # programs compiled before on_cancel existed load and dump to the same bytes and id
    body = (HERE / "golden" / f"{name}.program.json").read_bytes()
    p = Program.model_validate_json(body)
    assert p.canonical_bytes() == Program.model_validate(json.loads(p.canonical_bytes()))\
        .canonical_bytes()  # fmt: skip
    assert p.id == json.loads(body)["id"]


def test_graph_draws_the_cancel_route() -> None:
    doc = yaml.safe_load((PROJECT / "flow.yaml").read_text())
    assert 'n_ask -.->|"cancel"| n_cancelled' in flow_mermaid(doc)
    assert 'n_ask -> n_cancelled [style=dashed, label="cancel"];' in flow_dot(doc)
    # coverage counts the project's edges; routes (on_failure, on_cancel) are not edges
    assert {e[1] for e in FlowGraph.from_document(doc).edges} == {"start->ask", "ask->bye"}
