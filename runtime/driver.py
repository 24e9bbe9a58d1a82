"""The session driver: start and turn, with effects and the commit protocol of a turn.

A turn (one channel request): load the stored session (re-publishing an unconfirmed
record first) → answer a retried request from its idempotency key → check ``seq`` →
``step`` → execute effects, feeding their results back as events, ``step`` again … until
the session waits → ``store.save`` (compare-and-set on ``seq``, the request's records kept
as ``unconfirmed``) → ``sink.publish`` them (one durable unit) → answer, while
``store.mark_confirmed`` drops the store's copy in the background (a copy left behind is
only published again by the next load, and every sink stores a record once).
One TurnRecord per event (the channel's and each internal one), each with its own ``seq``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from pydantic import BaseModel

from runtime.effects import Clock, Effects
from runtime.orchestrator import new_session, run_step
from runtime.ports import (
    ConflictError,
    IdempotencyKeyReusedError,
    RuntimeFault,
    SessionNotFoundError,
    SessionStore,
    StoredSession,
    StoreUnavailableError,
    TurnSink,
    decode_records,
    encode_records,
)
from runtime.programs import LoadedProgram
from schemas._base import Value, canonical_json
from schemas.actions import (
    Action,
    CallBackendAction,
    ExtractAction,
    SendEmailAction,
    SendSmsAction,
)
from schemas.events import Event, HangupEvent, StartEvent
from schemas.session import Awaiting, Channel, SessionState, Status
from schemas.turns import TurnRecord

__all__ = [
    "ConflictError",
    "ProgramLookup",
    "SessionDriver",
    "StepObserver",
    "TurnResponse",
    "utc_now",
]

log = logging.getLogger("ddtflow.driver")

EFFECT_ACTIONS = (CallBackendAction, SendEmailAction, SendSmsAction, ExtractAction)
MAX_INTERNAL_EVENTS = 50
EFFECTS_CLAIM_S = 60.0
"""How long a request's claim on its turn's effects holds (``SessionStore.claim_effects``):
longer than any chain of backend calls; a process that dies holding it blocks the
session's backend calls for at most this long."""
EFFECTS_WAIT_S = 10.0
"""How long a request whose turn's effects another process runs waits for that turn."""


class ProgramLookup(Protocol):
    """Where the driver finds a session's program by id (a ProgramRegistry)."""

    def get(self, name_or_id: str) -> LoadedProgram: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class TurnResponse(Value):
    """What the channel gets back: the actions to carry out and the session's new ``seq``."""

    session_id: str
    tenant: str
    program_id: str
    seq: int
    status: Status
    awaiting: Awaiting | None = None
    reason: str | None = None
    actions: tuple[Action, ...] = ()

    def to_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))


StepObserver = Callable[[TurnRecord, list[int]], None]
"""Called after each event with its record and the task indexes it executed (coverage)."""


# The store keeps a request's Idempotency-Key with a fingerprint of the request:
# "v1:<16 hex>:<key>". The same key with another request is refused instead of answered
# with the first request's response (draft-ietf-httpapi-idempotency-key-header: 422).
_IKEY_FORM = "v1:"


def _plain(o: Any) -> Any:
    if isinstance(o, BaseModel):
        return o.__dict__
    raise TypeError(type(o).__name__)


def request_fingerprint(kind: str, fields: Mapping[str, Any]) -> str:
    """16 hex digits of sha256 over what the channel sent (not the server's clock)."""
    raw = orjson.dumps([kind, fields], default=_plain, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()[:16]


def _event_fingerprint(event: Event, expected_seq: int | None) -> str:
    fields = {k: v for k, v in event.__dict__.items() if k != "at"}
    fields["seq"] = expected_seq
    return request_fingerprint("event", fields)


def _stored_key(key: str | None, fingerprint: str) -> str | None:
    return None if key is None else f"{_IKEY_FORM}{fingerprint}:{key}"


def _is_retry(stored: str | None, key: str | None, fingerprint: str, session_id: str) -> bool:
    """Whether the request is a retry of the stored one (answer the stored response).
    The same key with another request raises ``IdempotencyKeyReusedError``."""
    if key is None or stored is None:
        return False
    if stored == key:  # kept by a release without fingerprints
        return True
    if not stored.startswith(_IKEY_FORM):
        return False
    fp, _, stored_key = stored[len(_IKEY_FORM) :].partition(":")
    if stored_key != key:
        return False
    if fp != fingerprint:
        raise IdempotencyKeyReusedError(
            f"session {session_id!r}: this Idempotency-Key came with another request "
            "(another event, seq or start); send each request with its own key",
            session_id=session_id,
        )
    return True


class SessionDriver:
    """Runs sessions over a SessionStore and a TurnSink (the embedded default: MemoryStore +
    JsonlSink). ``clock`` stamps start and internal events; never read inside ``step``."""

    def __init__(
        self,
        store: SessionStore,
        sink: TurnSink,
        programs: ProgramLookup,
        effects: Effects,
        clock: Clock = utc_now,
        *,
        observer: StepObserver | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        keep_state_in_records: bool = True,
    ) -> None:
        self.store = store
        self.sink = sink
        self.programs = programs
        self.effects = effects
        self.clock = clock
        self.observer = observer
        self.new_id = new_id
        self.keep_state_in_records = keep_state_in_records
        self._confirming: set[asyncio.Task[None]] = set()

    # -- public API -----------------------------------------------------------------

    async def start(
        self,
        tenant: str,
        program: str | LoadedProgram,
        *,
        language: str | None = None,
        channel: Channel = "chat",
        variables: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
        program_ref: str | None = None,
    ) -> TurnResponse:
        """Start a session on ``program`` (an id, an alias, or a loaded program).
        ``program_ref`` is how the channel named it (an alias may move between a request
        and its retry): the Idempotency-Key's fingerprint uses it."""
        loaded = program if isinstance(program, LoadedProgram) else self.programs.get(program)
        sid = session_id or self.new_id()
        ref = program_ref or (program if isinstance(program, str) else loaded.program.id)
        fingerprint = request_fingerprint(
            "start",
            {"program": ref, "language": language, "channel": channel, "variables": variables},
        )
        if session_id is not None:
            stored = await self.store.load(tenant, sid)
            if stored is not None:
                await self._confirm_pending(tenant, sid, stored.state.seq, stored.unconfirmed)
                if _is_retry(stored.idempotency_key, idempotency_key, fingerprint, sid):
                    return self._cached(stored.last_response, stored.state)
                raise ConflictError(f"session {sid!r} already exists", current_seq=stored.state.seq)
        state = new_session(loaded.program, sid, tenant=tenant, language=language, channel=channel)
        event = StartEvent(at=self.clock(), variables=dict(variables or {}))
        key = _stored_key(idempotency_key, fingerprint)
        return await self._advance(loaded, state, event, None, key)

    async def turn(
        self,
        tenant: str,
        session_id: str,
        event: Event,
        *,
        expected_seq: int | None,
        idempotency_key: str | None = None,
    ) -> TurnResponse:
        """Apply a channel event. ``expected_seq`` is the ``seq`` of the last response the
        channel saw (None skips the check: single-writer clients such as ``ddtflow chat``)."""
        stored = await self._load(tenant, session_id)
        await self._confirm_pending(tenant, session_id, stored.state.seq, stored.unconfirmed)
        fingerprint = "" if idempotency_key is None else _event_fingerprint(event, expected_seq)
        if _is_retry(stored.idempotency_key, idempotency_key, fingerprint, session_id):
            return self._cached(stored.last_response, stored.state)
        state = stored.state
        if expected_seq is not None and expected_seq != state.seq:
            raise ConflictError(
                f"session {session_id!r} is at seq {state.seq}, the request expected "
                f"{expected_seq}",
                current_seq=state.seq,
            )
        loaded = self.programs.get(state.program_id)  # pinned to its program
        key = _stored_key(idempotency_key, fingerprint)
        return await self._advance(loaded, state, event, state.seq, key)

    async def end(
        self,
        tenant: str,
        session_id: str,
        *,
        expected_seq: int | None = None,
        idempotency_key: str | None = None,
    ) -> TurnResponse:
        """End a session (the caller hung up, the channel closed). A session that is already
        over answers its current state: ending twice is harmless."""
        stored = await self.store.load(tenant, session_id)
        if stored is not None and stored.state.status in ("ended", "transferred", "failed"):
            await self._confirm_pending(tenant, session_id, stored.state.seq, stored.unconfirmed)
            return self._response(stored.state, [])
        return await self.turn(
            tenant,
            session_id,
            HangupEvent(at=self.clock()),
            expected_seq=expected_seq,
            idempotency_key=idempotency_key,
        )

    async def state(self, tenant: str, session_id: str) -> SessionState:
        return (await self._load(tenant, session_id)).state

    async def _load(self, tenant: str, session_id: str) -> StoredSession:
        stored = await self.store.load(tenant, session_id)
        if stored is None:
            raise SessionNotFoundError(
                f"no session {session_id!r} for tenant {tenant!r}",
                tenant=tenant,
                session_id=session_id,
            )
        return stored

    async def settle(self) -> None:
        """Wait until the store has dropped the copies of every published turn."""
        while self._confirming:
            await asyncio.gather(*self._confirming)

    async def aclose(self) -> None:
        """Close the store, the sink and the effect executor (after ``settle``)."""
        await self.settle()
        await self.effects.aclose()
        await self.sink.close()
        await self.store.close()

    # -- internals ------------------------------------------------------------------

    def _cached(self, raw: bytes | None, state: SessionState) -> TurnResponse:
        if raw is None:
            return self._response(state, [])
        return TurnResponse.model_validate_json(raw)

    async def _confirm_pending(
        self, tenant: str, session_id: str, seq: int, unconfirmed: bytes | None
    ) -> None:
        if not unconfirmed:
            return
        try:
            records = decode_records(unconfirmed)
        except ValueError as exc:  # the store holds what the driver wrote: a corrupt store
            raise StoreUnavailableError(
                f"session {session_id!r}: the unconfirmed turn records in the store do not "
                f"decode ({exc}); nothing was re-published",
                session_id=session_id,
                seq=seq,
            ) from exc
        await self._publish(records, unconfirmed)
        self._drop_in_background(tenant, session_id, seq)

    async def _publish(self, records: list[TurnRecord], payload: bytes) -> None:
        try:
            await self.sink.publish(*records, payload=payload)
        except RuntimeFault:
            raise
        except Exception as e:  # a sink that failed in its own way: retryable, not lost
            last = records[-1]
            raise StoreUnavailableError(
                f"the turn log did not confirm turn {last.seq}: {type(e).__name__}: {e}",
                session_id=last.session_id,
                seq=last.seq,
            ) from e

    def _response(self, state: SessionState, actions: list[Action]) -> TurnResponse:
        return TurnResponse(
            session_id=state.session_id,
            tenant=state.tenant,
            program_id=state.program_id,
            seq=state.seq,
            status=state.status,
            awaiting=state.awaiting,
            reason=state.reason,
            actions=tuple(a for a in actions if not isinstance(a, EFFECT_ACTIONS)),
        )

    def _record(
        self, state: SessionState, event: Event, actions: list[Action], crit: bool
    ) -> TurnRecord:
        return TurnRecord.model_construct(
            tenant=state.tenant,
            session_id=state.session_id,
            seq=state.seq,
            at=event.at,
            program_id=state.program_id,
            event=event,
            actions=tuple(actions),
            state_digest=state.digest(),
            critical=crit,
            state=state if self.keep_state_in_records else None,
        )

    async def _advance(
        self,
        loaded: LoadedProgram,
        state: SessionState,
        event: Event,
        expected_seq: int | None,
        idempotency_key: str | None,
    ) -> TurnResponse:
        records: list[TurnRecord] = []
        all_actions: list[Action] = []
        ev: Event | None = event
        internal = 0
        base_seq = state.seq  # the turn this request builds on
        while ev is not None:
            trace: list[int] = []
            r = run_step(
                loaded.program,
                state,
                ev,
                engine=loaded.engine,
                plugins=loaded.plugins,
                trace=trace,
            )
            state = r.state
            rec = self._record(state, ev, r.actions, r.critical)
            records.append(rec)
            all_actions.extend(r.actions)
            if self.observer is not None:
                self.observer(rec, trace)
            ev = None
            if state.status == "running" and state.awaiting in ("backend", "extraction"):
                effect = next(
                    (a for a in reversed(r.actions) if isinstance(a, EFFECT_ACTIONS)), None
                )
                if effect is not None and internal < MAX_INTERNAL_EVENTS:
                    if internal == 0 and not await self.store.claim_effects(
                        state.tenant, state.session_id, base_seq, EFFECTS_CLAIM_S
                    ):
                        # another API process runs this turn (a retry that reached another
                        # process while the first attempt waits for its backend): never
                        # call the backend a second time
                        return await self._wait_for_other(
                            state.tenant, state.session_id, base_seq, idempotency_key
                        )
                    internal += 1
                    ev = await self.effects.execute(effect, clock=self.clock)
        response = self._response(state, all_actions)
        payload = encode_records(records)  # encoded once: the store's copy and the message
        await self.store.save(
            state,
            expected_seq=expected_seq,
            response=response.to_bytes(),
            idempotency_key=idempotency_key,
            record=payload,
        )
        await self._publish(records, payload)
        self._drop_in_background(state.tenant, state.session_id, state.seq)
        return response

    async def _wait_for_other(
        self, tenant: str, session_id: str, seq: int, idempotency_key: str | None
    ) -> TurnResponse:
        """The turn after ``seq`` runs its effects in another process: wait until it is
        saved, then answer a retry of that very request with its response; anything else
        gets a conflict (nothing was run here)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EFFECTS_WAIT_S
        while True:
            stored = await self.store.load(tenant, session_id)
            if stored is not None and stored.state.seq > seq:
                if idempotency_key is not None and stored.idempotency_key == idempotency_key:
                    return self._cached(stored.last_response, stored.state)
                raise ConflictError(
                    f"session {session_id!r} moved on to seq {stored.state.seq} with another "
                    "request while this one waited for it",
                    current_seq=stored.state.seq,
                )
            if loop.time() >= deadline:
                raise ConflictError(
                    f"session {session_id!r}: another request of this session is still running "
                    f"its backend calls (turn {seq + 1}); send this one again with the same "
                    "Idempotency-Key",
                    current_seq=seq,
                )
            await asyncio.sleep(0.05)

    def _drop_in_background(self, tenant: str, session_id: str, seq: int) -> None:
        """The answer need not wait for the store to drop its copy: see the module's
        docstring. A save that comes first replaces the copy, and the drop (which names its
        ``seq``) then does nothing."""
        task = asyncio.ensure_future(self._drop_copy(tenant, session_id, seq))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)

    async def _drop_copy(self, tenant: str, session_id: str, seq: int) -> None:
        try:
            await self.store.mark_confirmed(tenant, session_id, seq)
        except Exception as exc:  # the copy stays: the next load publishes it again
            log.warning(
                "session %r: dropping the confirmed copy of turn %d failed: %s: %s",
                session_id,
                seq,
                type(exc).__name__,
                exc,
            )
