"""Builders shared by the contract suite and the fault tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from schemas.events import UserInputEvent
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
