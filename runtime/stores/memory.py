"""In-process session store: the embedded default, with the same contract as Redis."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from runtime.erasure import SessionErasedError
from runtime.ports import ConflictError, SessionNotFoundError, StoredSession
from schemas.session import SessionState


@dataclass(slots=True)
class _Entry:
    stored: StoredSession
    expires: float


class MemoryStore:
    """A dict of sessions with a TTL refreshed on every save.

    Every method runs without awaiting, so within one event loop each is atomic: the
    compare-and-set on ``seq`` needs no lock. An erased session leaves a marker (for the
    process's life): a save fails and a load raises ``SessionErasedError``.
    """

    where = "memory"

    def __init__(self, *, ttl_s: float = 3600.0) -> None:
        self.ttl_s = ttl_s
        self._data: dict[tuple[str, str], _Entry] = {}
        self._erased: dict[tuple[str, str], datetime] = {}
        self._claims: dict[tuple[str, str, int], float] = {}  # effects claims: expiry

    def _check_erased(self, tenant: str, session_id: str) -> None:
        at = self._erased.get((tenant, session_id))
        if at is not None:
            raise SessionErasedError(tenant, session_id, at)

    def _get(self, tenant: str, session_id: str) -> _Entry | None:
        key = (tenant, session_id)
        entry = self._data.get(key)
        if entry is not None and entry.expires <= time.monotonic():
            del self._data[key]
            return None
        return entry

    async def load(self, tenant: str, session_id: str) -> StoredSession | None:
        self._check_erased(tenant, session_id)
        entry = self._get(tenant, session_id)
        return entry.stored if entry is not None else None

    async def save(
        self,
        state: SessionState,
        *,
        expected_seq: int | None,
        response: bytes | None = None,
        idempotency_key: str | None = None,
        record: bytes | None = None,
    ) -> None:
        self._check_erased(state.tenant, state.session_id)
        entry = self._get(state.tenant, state.session_id)
        if entry is not None and _applied(entry.stored, state, response, idempotency_key, record):
            return  # this very save, again (see SessionStore.save)
        if expected_seq is None:
            if entry is not None:
                raise ConflictError(
                    f"session {state.session_id!r} already exists (seq {entry.stored.state.seq})",
                    current_seq=entry.stored.state.seq,
                )
        elif entry is None:
            raise SessionNotFoundError(
                f"session {state.session_id!r} of tenant {state.tenant!r} is not in the store",
                tenant=state.tenant,
                session_id=state.session_id,
            )
        elif entry.stored.state.seq != expected_seq:
            raise ConflictError(
                f"session {state.session_id!r} is at seq {entry.stored.state.seq}, "
                f"not {expected_seq}",
                current_seq=entry.stored.state.seq,
            )
        self._data[(state.tenant, state.session_id)] = _Entry(
            StoredSession(state, response, idempotency_key, record),
            time.monotonic() + self.ttl_s,
        )

    async def claim_effects(self, tenant: str, session_id: str, seq: int, ttl_s: float) -> bool:
        now = time.monotonic()
        key = (tenant, session_id, seq)
        if self._claims.get(key, 0.0) > now:
            return False
        if len(self._claims) > 10_000:  # expired claims go in bulk, now and then
            self._claims = {k: t for k, t in self._claims.items() if t > now}
        self._claims[key] = now + ttl_s
        return True

    async def mark_confirmed(self, tenant: str, session_id: str, seq: int) -> None:
        entry = self._get(tenant, session_id)
        if entry is not None and entry.stored.state.seq == seq:
            s = entry.stored
            entry.stored = StoredSession(s.state, s.last_response, s.idempotency_key, None)

    async def erase(self, tenant: str, session_id: str, erased_at: datetime) -> SessionState | None:
        """Remove the session and leave the erased marker; the state that was there."""
        entry = self._get(tenant, session_id)
        self._data.pop((tenant, session_id), None)
        self._erased.setdefault((tenant, session_id), erased_at)
        return entry.stored.state if entry is not None else None

    async def ttl_remaining(self, tenant: str, session_id: str) -> float | None:
        """Seconds before the session expires (None when absent)."""
        entry = self._get(tenant, session_id)
        return None if entry is None else entry.expires - time.monotonic()

    async def delete(self, tenant: str, session_id: str) -> None:
        self._data.pop((tenant, session_id), None)

    async def close(self) -> None:
        return None


def _applied(
    stored: StoredSession,
    state: SessionState,
    response: bytes | None,
    idempotency_key: str | None,
    record: bytes | None,
) -> bool:
    """The store holds exactly what this save writes, turn records included (the records
    are compared first: on an ordinary save they differ, and the states are not compared)."""
    return (
        record is not None
        and stored.unconfirmed == record
        and stored == StoredSession(state, response, idempotency_key, record)
    )
