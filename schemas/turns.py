"""Turn records: one per event applied to a session, persisted and replayed."""

from __future__ import annotations

from datetime import datetime

from schemas._base import Value
from schemas.actions import Action
from schemas.events import Event
from schemas.session import SessionState


class TurnRecord(Value):
    tenant: str = "default"
    session_id: str
    seq: int
    at: datetime
    program_id: str
    event: Event
    actions: tuple[Action, ...] = ()
    state_digest: str
    critical: bool = False
    state: SessionState | None = None  # the state after the turn (for snapshots); optional
