"""Builders shared by the contract suite and the fault tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from runtime.orchestrator import new_session, step
from runtime.programs import ProgramRegistry
from schemas.events import BackendResultEvent, Event, StartEvent, UserInputEvent
from schemas.expressions import Template, TextPart
from schemas.program import CallBackendTask, CompiledBackend, JumpTask, Program
from schemas.session import SessionState
from schemas.turns import TurnRecord

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def new_state(seq: int = 0, *, session_id: str | None = None, tenant: str = "acme") -> SessionState:
    return SessionState(
        session_id=session_id or f"s-{uuid.uuid4().hex[:12]}",
        tenant=tenant,
        program_id="sha256:" + "ab" * 32,
        seq=seq,
        memory={"patient": {"name": "Anna"}},
        status="waiting_input",
    )


def record_of(state: SessionState, *, critical: bool = False, text: str = "ciao") -> TurnRecord:
    return TurnRecord(
        tenant=state.tenant,
        session_id=state.session_id,
        seq=state.seq,
        at=AT,
        program_id=state.program_id,
        event=UserInputEvent(at=AT, text=text),
        state_digest=state.digest(),
        critical=critical,
        state=state,
    )


class NoDdtEngine:
    """The DDT engine of a program without DDTs: never called (raises if it were)."""

    def begin(self, *args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("this test program has no DDT")

    def handle(self, *args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("this test program has no DDT")


def counter_program() -> Program:
    """A program that calls a backend, stores its ``n`` and calls it again, forever:
    every ``backend_result`` event is one turn (no DDT needed)."""
    url = Template(parts=(TextPart(text="http://127.0.0.1:9/n"),))
    return Program(
        project="counter",
        languages=("it", "en"),
        default_language="it",
        tasks=(CallBackendTask(backend="count", result={"n": "n"}), JumpTask(to=0)),
        backends={"count": CompiledBackend(url=url)},
    ).with_id()


def registry(*programs: Program) -> ProgramRegistry:
    reg = ProgramRegistry(engine_factory=lambda ddts: NoDdtEngine())  # type: ignore[arg-type,return-value]
    for p in programs:
        reg.add(p)
    return reg


def counter_session(
    turns: int,
    *,
    session_id: str | None = None,
    tenant: str = "acme",
    state_every: int = 1,
    body: Callable[[int], Any] = lambda i: {"n": i},
) -> tuple[Program, list[TurnRecord]]:
    """The turn records of a ``turns``-event session of ``counter_program`` (start + results);
    records whose seq is a multiple of ``state_every`` carry their state (0: none does);
    event ``i``'s backend answered ``body(i)``."""
    program = counter_program()
    loaded = registry(program).get(program.id)
    state = new_session(program, session_id or f"s-{uuid.uuid4().hex[:12]}", tenant=tenant)
    records: list[TurnRecord] = []
    for i in range(turns):
        at = AT + timedelta(seconds=i)
        event: Event = (
            StartEvent(at=at)
            if i == 0
            else BackendResultEvent(at=at, backend="count", ok=True, status=200, body=body(i))
        )
        state, actions = step(program, state, event, engine=loaded.engine, plugins=loaded.plugins)
        keep = state_every > 0 and state.seq % state_every == 0
        records.append(
            TurnRecord(
                tenant=tenant,
                session_id=state.session_id,
                seq=state.seq,
                at=at,
                program_id=program.id,
                event=event,
                actions=tuple(actions),
                state_digest=state.digest(),
                state=state if keep else None,
            )
        )
    return program, records
