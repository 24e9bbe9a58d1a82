"""Ports: the interfaces every session store and turn sink implements.

One contract test suite runs against every implementation (memory, Redis; JSONL,
RabbitMQ + MongoDB). Selecting one is configuration, never a code change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import orjson
from pydantic import ValidationError

from schemas.session import SessionState
from schemas.turns import TurnRecord


class RuntimeFault(Exception):
    """Root of every runtime error. ``code`` is stable and becomes the API error code."""

    code: ClassVar[str] = "runtime_fault"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class SessionNotFoundError(RuntimeFault):
    code = "session_not_found"


class ConflictError(RuntimeFault):
    """Another turn for this session won the compare-and-set; carries the current ``seq``."""

    code = "seq_conflict"

    def __init__(self, message: str, *, current_seq: int) -> None:
        super().__init__(message, current_seq=current_seq)
        self.current_seq = current_seq


class IdempotencyKeyReusedError(RuntimeFault):
    """The ``Idempotency-Key`` of the session's last request came again with another
    request (another event, ``seq``, program or variables): nothing was run."""

    code = "idempotency_key_reused"


class StoreUnavailableError(RuntimeFault):
    """A server (Redis, RabbitMQ, MongoDB) is unreachable: retry later; nothing was acknowledged."""

    code = "unavailable"
    retryable = True


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A session as a store holds it: its state and the response of its last turn."""

    state: SessionState
    last_response: bytes | None = None
    idempotency_key: str | None = None
    unconfirmed: bytes | None = None  # last request's turn records (JSON array) until confirmed


class SessionStore(Protocol):
    """Where live session state lives (memory, Redis)."""

    async def load(self, tenant: str, session_id: str) -> StoredSession | None:
        """The stored session, or None when the store has none."""
        ...

    async def save(
        self,
        state: SessionState,
        *,
        expected_seq: int | None,
        response: bytes | None = None,
        idempotency_key: str | None = None,
        record: bytes | None = None,
    ) -> None:
        """Store ``state`` if the stored ``seq`` equals ``expected_seq`` (None: must not exist).

        ``record`` (the JSON array of this request's turn records) is kept as
        ``unconfirmed`` in the same atomic write, until ``mark_confirmed``.
        Raises ConflictError (with the current seq) on a lost race, and
        StoreUnavailableError when the server cannot be reached. Never a silent fallback.
        A save found already applied (the store holds exactly what it writes: the state,
        response, idempotency key and turn records, still unconfirmed) succeeds: a client
        library that sent it twice (redis-py's cluster client across a topology change)
        must not turn a committed turn into a conflict. Requests with different keys or
        records never match.
        """
        ...

    async def claim_effects(self, tenant: str, session_id: str, seq: int, ttl_s: float) -> bool:
        """Claim the right to run the external effects (backend calls, e-mails, SMS) of the
        request that builds on turn ``seq``: True for the first claim, False while another
        one (another API process) holds it. A claim is never released: it expires after
        ``ttl_s``, and the next request builds on another ``seq``. Whatever wins the
        compare-and-set of ``save``, effects that cannot be undone run once."""
        ...

    async def mark_confirmed(self, tenant: str, session_id: str, seq: int) -> None:
        """The sink confirmed the record of turn ``seq``: drop it from ``unconfirmed``.

        A no-op if the session has moved on. If this write is lost, the driver re-publishes
        the record on the next turn (sinks are idempotent on ``(tenant, session_id, seq)``).
        """
        ...

    async def delete(self, tenant: str, session_id: str) -> None: ...

    async def close(self) -> None: ...


def encode_records(records: Sequence[TurnRecord]) -> bytes:
    """The wire form of one request's turn records: a compact JSON array. Encoded once by
    the driver, kept in the store as ``unconfirmed`` and published as is."""
    return orjson.dumps([r.model_dump(mode="json") for r in records])


def decode_records(body: bytes) -> list[TurnRecord]:
    """Turn records from the wire: a JSON array of records, or one record (an object, as
    published before batching). ValueError with a one-line reason when it is neither."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ValueError("an empty list of turn records")
    out = []
    for n, item in enumerate(items):
        try:
            out.append(TurnRecord.model_validate(item))
        except ValidationError as exc:
            at = f"record {n}: " if isinstance(data, list) else ""
            raise ValueError(f"not a turn record: {at}{first_error(exc)}") from exc
    return out


def first_error(exc: ValidationError) -> str:
    """``where: what`` of the first thing wrong with a turn record that does not validate."""
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "(record)"
    return f"{where}: {first['msg']}"


class TurnSink(Protocol):
    """Where turn records go (a JSONL log, RabbitMQ → MongoDB).

    Publishing the same ``(tenant, session_id, seq)`` twice must store one record.
    """

    async def publish(self, *records: TurnRecord, payload: bytes | None = None) -> None:
        """Make one request's records durable together; return only once they are
        (fsync'd / confirmed by the broker; a ``critical`` record also written to MongoDB).

        ``payload``, when given, is ``encode_records(records)``: the JSON array the driver
        already built for the store, so a sink that ships bytes need not encode again.
        Raises StoreUnavailableError."""
        ...

    async def close(self) -> None: ...
