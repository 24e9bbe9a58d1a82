"""Sessions: start, send an event, read the state and the turn log, erase."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field
from starlette.responses import Response

from runtime.api.deps import Caller, IdempotencyKey, RuntimeDep, check_session_id
from runtime.api.errors import ERROR_RESPONSES, ApiError
from runtime.api.metrics import SESSIONS_WAITING, TURN_SECONDS, TURNS
from runtime.api.models import (
    DtmfRequest,
    EventRequest,
    HangupRequest,
    NoInputRequest,
    SessionOut,
    StartRequest,
    TurnsOut,
)
from runtime.driver import TurnResponse
from runtime.erasure import ErasureReport
from runtime.orchestrator import InvalidEventError
from runtime.ports import ConflictError
from runtime.wiring import TERMINAL, Runtime
from schemas.events import Event, HangupEvent, NBest, NoInputEvent, UserInputEvent

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=ERROR_RESPONSES)
log = structlog.get_logger("ddtflow.api")

SessionId = Annotated[str, Depends(check_session_id)]


def _response(resp: TurnResponse, status: int = 200) -> Response:
    return Response(resp.to_bytes(), status_code=status, media_type="application/json")


class SessionQueue:
    """Requests for one session run one after the other in this process. A retry that
    arrives while its first attempt still runs (the gateway timed out waiting for a slow
    backend) then finds that attempt's stored answer instead of running the turn — and
    its backend calls, e-mails and SMS — a second time; a concurrent request with another
    key waits, then gets ``409 seq_conflict`` without calling anything. (Across
    processes the store's compare-and-set still lets only one turn commit.)"""

    def __init__(self) -> None:
        self._locks: dict[tuple[object, str, str], tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, tenant: str, session_id: str) -> AsyncIterator[None]:
        # the loop is part of the key: tests run several servers, each on its own loop
        key = (asyncio.get_running_loop(), tenant, session_id)
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]


SESSIONS = SessionQueue()


def to_event(req: EventRequest, rt: Runtime) -> Event:
    """The engine event for a channel request, stamped with the server clock."""
    at = rt.driver.clock()
    if isinstance(req, NoInputRequest):
        return NoInputEvent(at=at)
    if isinstance(req, HangupRequest):
        return HangupEvent(at=at)
    if isinstance(req, DtmfRequest):
        return UserInputEvent(at=at, text="", dtmf=req.dtmf)
    return UserInputEvent(
        at=at,
        text=req.text,
        dtmf=req.dtmf,
        confidence=req.confidence,
        nbest=tuple(NBest(text=n.text, confidence=n.confidence) for n in req.nbest),
    )


def _observe(kind: str, resp: TurnResponse | None, started: float) -> None:
    elapsed = time.perf_counter() - started
    TURN_SECONDS.observe(elapsed)
    status = resp.status if resp is not None else "error"
    TURNS.labels(status).inc()
    if resp is not None:
        structlog.contextvars.bind_contextvars(session_id=resp.session_id)
        log.info(
            "turn",
            kind=kind,
            seq=resp.seq,
            status=resp.status,
            actions=len(resp.actions),
            ms=round(elapsed * 1000, 2),
        )


def keyed_session_id(tenant: str, ikey: str) -> str:
    """The id of a session started with this Idempotency-Key and no ``session_id``: the
    same for the start's retries (which then find it and get its answer), 32 hex digits
    like a generated one."""
    return hashlib.sha256(f"start\0{tenant}\0{ikey}".encode()).hexdigest()[:32]


async def start_session(
    rt: Runtime, tenant: str, body: StartRequest, ikey: str | None
) -> TurnResponse:
    started = time.perf_counter()
    resp: TurnResponse | None = None
    session_id = body.session_id
    if session_id is None and ikey is not None:
        session_id = keyed_session_id(tenant, ikey)
    try:
        async with SESSIONS.hold(tenant, session_id) if session_id else contextlib.nullcontext():
            for attempt in range(2):
                try:
                    resp = await rt.start(
                        tenant,
                        body.program,
                        language=body.language,
                        channel=body.channel,
                        variables=body.variables,
                        session_id=session_id,
                        idempotency_key=ikey,
                    )
                    break
                except ConflictError:
                    # a concurrent retry of this start (in another process) won the
                    # create: once more, to find its stored answer (or refuse the key)
                    if ikey is None or attempt > 0:
                        raise
        assert resp is not None
        if resp.status not in TERMINAL:
            SESSIONS_WAITING.inc()
        return resp
    except InvalidEventError as e:  # bad start variables: the request is wrong, not the state
        raise ApiError(422, e.code, e.message) from None
    finally:
        _observe("start", resp, started)


async def send_event(
    rt: Runtime, tenant: str, session_id: str, body: EventRequest, ikey: str | None
) -> TurnResponse:
    started = time.perf_counter()
    resp: TurnResponse | None = None
    try:
        async with SESSIONS.hold(tenant, session_id):
            event = to_event(body, rt)  # stamped once the session is this request's
            resp = await rt.turn(tenant, session_id, event, seq=body.seq, idempotency_key=ikey)
        if resp.status in TERMINAL and resp.seq > body.seq:
            SESSIONS_WAITING.dec()
        return resp
    finally:
        _observe(body.event, resp, started)


@router.post(
    "",
    status_code=201,
    response_model=TurnResponse,
    summary="Start a session: its id, seq and the first actions",
)
async def post_session(
    body: StartRequest, rt: RuntimeDep, caller: Caller, ikey: IdempotencyKey
) -> Response:
    return _response(await start_session(rt, caller.tenant, body, ikey), 201)


@router.post(
    "/{session_id}/events",
    response_model=TurnResponse,
    summary="Send a channel event (user_input, no_input, dtmf, hangup) with the last seq",
)
async def post_event(
    body: Annotated[EventRequest, Body()],
    rt: RuntimeDep,
    caller: Caller,
    ikey: IdempotencyKey,
    session_id: SessionId,
) -> Response:
    return _response(await send_event(rt, caller.tenant, session_id, body, ikey))


@router.get("/{session_id}", response_model=SessionOut, summary="The session's state")
async def get_session(rt: RuntimeDep, caller: Caller, session_id: SessionId) -> Response:
    state = await rt.state(caller.tenant, session_id)
    body: dict[str, Any] = {"state": state.model_dump(mode="json")}
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/{session_id}/turns",
    response_model=TurnsOut,
    summary="The session's turn records (MongoDB, or the JSONL log when embedded)",
)
async def get_turns(rt: RuntimeDep, caller: Caller, session_id: SessionId) -> Response:
    records = await rt.turns(caller.tenant, session_id)
    body = {
        "session_id": session_id,
        "turns": [r.model_dump(mode="json", exclude={"state"}) for r in records],
    }
    return Response(orjson.dumps(body), media_type="application/json")


class RemovedOut(BaseModel):
    what: str = Field(description="live state, turns, snapshots or log lines")
    store: str = Field(description="redis, memory, mongodb or jsonl")
    count: int


class ErasureOut(BaseModel):
    """What an erasure removed, and where (the proof an operator keeps)."""

    session_id: str
    tenant: str
    erased: bool = True
    already_erased: bool = Field(description="the session had been erased before")
    erased_at: str = Field(description="when it was first erased (ISO 8601)")
    removed: list[RemovedOut]
    total_removed: int


def _log_erasure(report: ErasureReport, elapsed: float) -> None:
    # identifiers and counts only: never a value of the session
    log.info(
        "session_erased",
        already_erased=report.already_erased,
        erased_at=report.erased_at.isoformat(),
        removed={f"{r.store}:{r.what}": r.count for r in report.removed},
        ms=round(elapsed * 1000, 2),
    )


@router.delete(
    "/{session_id}",
    response_model=ErasureOut,
    summary="Erase the session everywhere it is held (GDPR art. 17); what was removed where",
)
async def delete_session(rt: RuntimeDep, caller: Caller, session_id: SessionId) -> Response:
    if not caller.may_erase:
        raise ApiError(403, "forbidden", "this key may drive sessions but not erase them")
    started = time.perf_counter()
    report = await rt.erase(caller.tenant, session_id)
    if report.live_status is not None and report.live_status not in TERMINAL:
        SESSIONS_WAITING.dec()
    _log_erasure(report, time.perf_counter() - started)
    return Response(orjson.dumps(report.to_json()), media_type="application/json")
