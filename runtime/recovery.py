"""Recovery: rebuild a session missing from Redis out of MongoDB (snapshot + later turns).

Each later turn's event is re-run through ``step`` with the session's program and the
resulting state's digest must equal the one recorded: a replay verifies itself. When the
channel has seen a ``seq`` MongoDB does not have yet (turns still in the queue), recovery
polls for a bounded time, then fails with a retryable ``StoreUnavailableError`` — it never
continues from a stale state. The caller writes the recovered state back to the store
(``recover_into_store`` does both).
"""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import Counter

from runtime.mongo import MongoArchive
from runtime.orchestrator import new_session, step
from runtime.ports import (
    ConflictError,
    RuntimeFault,
    SessionStore,
    StoredSession,
    StoreUnavailableError,
)
from runtime.programs import LoadedProgram, ProgramNotFoundError, ProgramRegistry
from schemas.session import SessionState
from schemas.turns import TurnRecord

log = logging.getLogger("ddtflow.recovery")

RECOVERIES = Counter(
    "ddtflow_recoveries", "Sessions rebuilt from MongoDB after a store miss", ["outcome"]
)


class RecoveryDivergedError(RuntimeFault):
    """Replaying the stored turns did not reproduce the recorded state digest."""

    code = "recovery_diverged"


async def _program(
    program_id: str, programs: ProgramRegistry, mongo: MongoArchive
) -> LoadedProgram:
    try:
        return programs.get(program_id)
    except ProgramNotFoundError:
        program = await mongo.get_program(program_id)
        if program is None:
            raise
        return programs.add(program)


def _replay(state: SessionState, turns: list[TurnRecord], loaded: LoadedProgram) -> SessionState:
    """Apply the contiguous turns after ``state``; stops at a gap (the rest is not there yet)."""
    for record in turns:
        if record.seq <= state.seq:
            continue
        if record.seq != state.seq + 1:
            break  # a hole: a later turn was written (critical) before an earlier one
        new, _actions = step(
            loaded.program, state, record.event, engine=loaded.engine, plugins=loaded.plugins
        )
        if new.seq != record.seq or new.digest() != record.state_digest:
            RECOVERIES.labels("diverged").inc()
            raise RecoveryDivergedError(
                f"recovery of session {state.session_id!r}: replaying turn {record.seq} "
                f"({record.event.type}) gives a state that differs from the recorded one "
                f"(digest {new.digest()[:12]} ≠ {record.state_digest[:12]})",
                tenant=state.tenant,
                session_id=state.session_id,
                seq=record.seq,
            )
        state = new
    return state


async def _rebuild(
    tenant: str, session_id: str, mongo: MongoArchive, programs: ProgramRegistry
) -> SessionState | None:
    snapshot = await mongo.snapshot(tenant, session_id)
    after = snapshot.seq if snapshot is not None else 0
    turns = await mongo.turns_after(tenant, session_id, after)
    if snapshot is None:
        if not turns:
            return None
        loaded = await _program(turns[0].program_id, programs, mongo)
        first = turns[0].state
        # No snapshot: start from the session's initial state, as the driver does.
        base = new_session(
            loaded.program,
            session_id,
            tenant=tenant,
            language=first.language if first is not None else None,
            channel=first.channel if first is not None else "chat",
        )
        return _replay(base, turns, loaded)
    if not turns:
        return snapshot
    loaded = await _program(snapshot.program_id, programs, mongo)
    return _replay(snapshot, turns, loaded)


async def recover(
    tenant: str,
    session_id: str,
    *,
    min_seq: int | None,
    mongo: MongoArchive,
    programs: ProgramRegistry,
    wait_s: float = 2.0,
    poll_s: float = 0.02,
) -> SessionState | None:
    """The session rebuilt from MongoDB at ``seq >= min_seq``; None when MongoDB has never
    heard of it. Raises StoreUnavailableError (retryable) if MongoDB stays behind ``min_seq``
    for ``wait_s``, RecoveryDivergedError if a replayed turn does not match its digest."""
    started = time.monotonic()
    deadline = started + wait_s
    while True:
        state = await _rebuild(tenant, session_id, mongo, programs)
        if state is None and min_seq is None:
            RECOVERIES.labels("unknown").inc()
            return None
        have = state.seq if state is not None else -1
        if min_seq is None or have >= min_seq:
            assert state is not None
            RECOVERIES.labels("ok").inc()
            log.info(
                "recovered session %s/%s at seq %d from MongoDB in %.1f ms",
                tenant,
                session_id,
                state.seq,
                (time.monotonic() - started) * 1000,
            )
            return state
        if time.monotonic() >= deadline:
            RECOVERIES.labels("behind").inc()
            has = "nothing" if state is None else f"seq {have}"
            raise StoreUnavailableError(
                f"recovery: MongoDB has {has} of session {session_id!r}, the channel saw seq "
                f"{min_seq}; its turns are still on their way — retry shortly",
                tenant=tenant,
                session_id=session_id,
                mongo_seq=have,
                channel_seq=min_seq,
                retry_after_s=1,
            )
        await asyncio.sleep(poll_s)


async def recover_into_store(
    store: SessionStore,
    tenant: str,
    session_id: str,
    *,
    min_seq: int | None,
    mongo: MongoArchive,
    programs: ProgramRegistry,
    wait_s: float = 2.0,
    stale_seq: int | None = None,
) -> StoredSession | None:
    """``recover`` and write the state back to the store (another instance may have done it
    first: then its copy is returned). ``stale_seq``: the store holds an older copy at that
    seq (it lost its last writes), which the recovered state replaces."""
    state = await recover(
        tenant, session_id, min_seq=min_seq, mongo=mongo, programs=programs, wait_s=wait_s
    )
    if state is None:
        return None
    try:
        await store.save(state, expected_seq=stale_seq)
    except ConflictError:
        pass
    return await store.load(tenant, session_id)
