"""get_data through the real DDT engine, on the bank_card_block example: success stores the
value at ``into``, failure and cancel take ``on_failure``, a request for an operator
transfers with the context, hangup ends, events that do not fit are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from compiler import compile_project
from runtime.orchestrator import InvalidEventError, new_session, run_step
from runtime.programs import LoadedProgram, ProgramRegistry
from schemas.actions import ListenAction, SayAction, TransferAction
from schemas.events import (
    BackendResultEvent,
    Event,
    ExtractionResultEvent,
    HangupEvent,
    NoInputEvent,
    StartEvent,
    UserInputEvent,
)
from schemas.session import SessionState

ROOT = Path(__file__).resolve().parents[2] / "examples"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@cache
def bank() -> LoadedProgram:
    r = compile_project(ROOT / "bank_card_block")
    assert r.program is not None
    return ProgramRegistry().add(r.program)


def go(state: SessionState, event: Event) -> tuple[SessionState, list[object], bool]:
    lp = bank()
    r = run_step(lp.program, state, event, engine=lp.engine, plugins=lp.plugins)
    return r.state, list(r.actions), r.critical


def started(lang: str = "it") -> SessionState:
    s = new_session(bank().program, "s", language=lang, channel="voice")
    s, actions, critical = go(s, StartEvent(at=AT, variables={"caller.phone": "+39333"}))
    assert isinstance(actions[-1], ListenAction) and not critical
    assert (s.status, s.awaiting, s.ddt is not None) == ("waiting_input", "input", True)
    return s


def test_success_stores_value_and_moves_on() -> None:
    s = started()
    s, actions, critical = go(s, UserInputEvent(at=AT, text="12 marzo 1980"))
    assert critical
    assert s.memory["customer"] == {"birth_date": "1980-03-12"}
    assert s.ddt is not None and s.ddt.ddt == "card_digits"
    says = [a.text for a in actions if isinstance(a, SayAction)]
    assert says == [
        "Perfetto, grazie.",
        "Ora mi dica le ultime quattro cifre della carta da bloccare.",
    ]


def test_escalation_is_not_critical() -> None:
    s = started()
    s2, actions, critical = go(s, NoInputEvent(at=AT))
    assert not critical and s2.status == "waiting_input" and s2.seq == s.seq + 1
    assert s2.ddt is not None and s2.ddt.state == "noInput"


def test_failure_takes_on_failure_route() -> None:
    s = started()
    for _ in range(4):
        s, actions, critical = go(s, NoInputEvent(at=AT))
    assert (s.status, critical) == ("transferred", True)
    assert actions[-1] == TransferAction(
        target="card_services",
        reason="flow",
        context={
            "caller.phone": "+39333",
            "customer.name": None,
            "card.masked": None,
            "attempts": 0,
        },
    )


def test_operator_request_transfers_to_the_flows_queue() -> None:
    s = started()
    s, _, _ = go(s, UserInputEvent(at=AT, text="12 marzo 1980"))
    s, actions, critical = go(s, UserInputEvent(at=AT, text="operatore"))
    assert (s.status, s.reason, critical) == ("transferred", "operator_requested", True)
    # ask_last4's failure route is the to_operator transfer: its prompt, queue and context
    assert actions[-2:] == [
        SayAction(
            text="La passo a un operatore del servizio carte, resti in linea.",
            ssml="<speak>La passo a un operatore del servizio carte, resti in linea.</speak>",
            prompt=actions[-2].prompt,  # type: ignore[attr-defined]
        ),
        TransferAction(
            target="card_services",
            reason="operator_requested",
            context={
                "caller.phone": "+39333",
                "customer.name": None,
                "card.masked": None,
                "attempts": 0,
            },
        ),
    ]


def test_operator_request_without_a_transfer_route(tmp_path: Path) -> None:
    # a DDT whose failure route is not a transfer hands over to the generic operator, with
    # the non-sensitive variables as context
    import shutil

    proj = tmp_path / "p"
    shutil.copytree(ROOT / "bank_card_block", proj, ignore=shutil.ignore_patterns("tests"))
    flow = (proj / "flow.yaml").read_text()
    old = "into: card.last4, on_failure: to_operator}"
    assert old in flow
    flow = flow.replace(old, "into: card.last4, on_failure: systems_down}")
    (proj / "flow.yaml").write_text(flow)
    r = compile_project(proj)
    assert r.program is not None, [d.message for d in r.diagnostics]
    lp = ProgramRegistry().add(r.program)
    s = new_session(lp.program, "s", language="it")
    s = run_step(
        lp.program, s, StartEvent(at=AT, variables={"caller.phone": "+39"}), engine=lp.engine
    ).state
    s = run_step(lp.program, s, UserInputEvent(at=AT, text="12 marzo 1980"), engine=lp.engine).state
    res = run_step(lp.program, s, UserInputEvent(at=AT, text="operatore"), engine=lp.engine)
    assert res.state.status == "transferred"
    assert res.actions[-1] == TransferAction(
        target="operator",
        reason="operator_requested",
        context={"caller.phone": "+39", "attempts": 0},
    )


def test_cancel_takes_on_failure_route() -> None:
    s = started()
    s, actions, _ = go(s, UserInputEvent(at=AT, text="annulla"))
    assert s.status == "transferred"  # on_failure of ask_birth is to_operator
    assert [a.text for a in actions if isinstance(a, SayAction)][-1] == (
        "La passo a un operatore del servizio carte, resti in linea."
    )


def test_hangup_and_misfit_events() -> None:
    s = started()
    with pytest.raises(InvalidEventError, match="backend_result while the session waits for input"):
        go(s, BackendResultEvent(at=AT, backend="verify_identity", ok=True))
    with pytest.raises(
        InvalidEventError, match="extraction_result while the session waits for input"
    ):
        go(s, ExtractionResultEvent(at=AT, layer="llm"))
    s2, actions, critical = go(s, HangupEvent(at=AT))
    assert (s2.status, s2.reason, s2.ddt, critical) == ("ended", "hangup", None, True)


def test_state_stays_small() -> None:
    s = started()
    for text in ("12 marzo 1980", "1234"):
        s, _, _ = go(s, UserInputEvent(at=AT, text=text))
    assert len(s.model_dump_json()) < 4096
