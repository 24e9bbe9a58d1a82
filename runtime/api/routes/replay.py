"""Replay and export of a recorded session: verification result, transcript, JSON, vCon.

Tenant-scoped like every session route: the caller's tenant names the turn log read
(MongoDB, or the JSONL log when embedded). Sensitive values are masked in every answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from runtime.api.deps import Caller, RuntimeDep, check_session_id
from runtime.api.errors import ERROR_RESPONSES, ApiError
from runtime.export import Masker, export_json, export_text, export_vcon, masker_for
from runtime.ports import RuntimeFault
from runtime.programs import LoadedProgram
from runtime.replay import ReplayError, ReplayResult, group_sessions, replay_session
from runtime.wiring import Runtime

router = APIRouter(prefix="/v1/sessions", tags=["replay"], responses=ERROR_RESPONSES)


class DiffLine(BaseModel):
    path: str
    recorded: Any = None
    replayed: Any = None


class DivergenceOut(BaseModel):
    seq: int
    event: str
    kind: Literal["digest", "actions", "error", "seq"]
    message: str
    recorded_actions: list[dict[str, Any]]
    replayed_actions: list[dict[str, Any]]
    state_diff: list[DiffLine]


class ReplayOut(BaseModel):
    """The verification of a recorded session (sensitive values masked)."""

    session_id: str
    tenant: str
    program_id: str
    turns: int = Field(description="turn records in the log")
    replayed: int = Field(description="turns replayed (up to the divergence)")
    identical: bool
    divergence: DivergenceOut | None = None


_EXPORT_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a vCon (application/vcon+json), JSON, or a text transcript",
        "content": {
            "application/vcon+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}

SessionId = Annotated[str, Depends(check_session_id)]


async def _replayed(
    rt: Runtime, tenant: str, session_id: str
) -> tuple[ReplayResult, LoadedProgram]:
    records = await rt.turns(tenant, session_id)
    if not records:
        raise ApiError(404, "session_not_found", "the session has no recorded turn yet")
    try:
        (log,) = group_sessions(records)
    except ReplayError as e:
        raise ApiError(422, e.code, e.message, session_id=session_id) from None
    try:
        loaded = await rt.catalog.load(log.program_id)
    except RuntimeFault:
        raise ApiError(
            404,
            "program_not_found",
            f"the session ran program {log.program_id}, which this runtime cannot load",
            program_id=log.program_id,
        ) from None
    return replay_session(loaded, log), loaded


def _divergence(res: ReplayResult, masker: Masker) -> dict[str, Any] | None:
    d = res.divergence
    if d is None:
        return None
    before = next((t.before for t in res.turns if t.seq == d.seq), None)

    def act(a: dict[str, Any]) -> Any:
        if a.get("type") == "say" and masker.prompt_masked(a.get("prompt")):
            return masker.deep({**a, "text": "***", "ssml": None})
        if a.get("type") == "extract" and before is not None and masker.in_sensitive_ddt(before):
            return masker.deep({**a, "text": "***"})
        return masker.deep(a)

    return {
        "seq": d.seq,
        "event": d.event,
        "kind": d.kind,
        "message": masker.text(d.message),
        "recorded_actions": [act(a) for a in d.recorded_actions],
        "replayed_actions": [act(a) for a in d.replayed_actions],
        "state_diff": [
            {"path": p, "recorded": masker.at_path(p, a), "replayed": masker.at_path(p, b)}
            for p, a, b in d.state_changes
        ],
    }


@router.get(
    "/{session_id}/replay",
    response_model=ReplayOut,
    summary="Replay the session's recorded turns and verify every state digest and action",
)
async def get_replay(rt: RuntimeDep, caller: Caller, session_id: SessionId) -> Response:
    res, loaded = await _replayed(rt, caller.tenant, session_id)
    masker = masker_for(res, loaded.program)
    body = {
        "session_id": session_id,
        "tenant": caller.tenant,
        "program_id": res.program_id,
        "turns": len(res.log.records),
        "replayed": len(res.turns),
        "identical": res.ok,
        "divergence": _divergence(res, masker),
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/{session_id}/export",
    response_class=Response,
    responses=_EXPORT_CONTENT,
    summary="The session as a transcript (text), JSON or a vCon; sensitive values masked",
)
async def get_export(
    rt: RuntimeDep,
    caller: Caller,
    session_id: SessionId,
    format: Annotated[Literal["text", "json", "vcon"], Query()] = "vcon",  # noqa: A002
) -> Response:
    res, loaded = await _replayed(rt, caller.tenant, session_id)
    if format == "text":
        return Response(export_text(res, loaded.program), media_type="text/plain; charset=utf-8")
    doc = export_json(res, loaded.program) if format == "json" else export_vcon(res, loaded.program)
    media = "application/vcon+json" if format == "vcon" else "application/json"
    return Response(orjson.dumps(doc), media_type=media)
