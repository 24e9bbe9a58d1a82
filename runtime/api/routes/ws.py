"""WebSocket per session (chat channels): the same semantics as the HTTP events.

Client → server, one JSON object per message (a text or binary frame): the body of
``POST …/events`` plus an optional ``idempotency_key``. Server → client, in text frames:
``{"type": "session", …}`` once connected, ``{"type": "turn", …TurnResponse}`` per event,
``{"type": "error", "error": {code, message, details}}`` for a bad message (the socket
stays open). The socket is closed
with a code and a reason: 1000 when the session is over, 1008 for a missing/unknown key,
4404 for an unknown session, 4410 for a session erased on request (on connecting, or when
it is erased while the socket is open: the error message first, then the close), 1009 for
a message above the size limit, 1011 on an internal error.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from runtime.api.auth import KeyRing, key_from_headers
from runtime.api.config import ApiSettings
from runtime.api.errors import ApiError, fault_error
from runtime.api.metrics import ERRORS
from runtime.api.models import EVENT_ADAPTER
from runtime.api.routes.sessions import send_event
from runtime.ports import RuntimeFault
from runtime.wiring import TERMINAL, Runtime

router = APIRouter()
log = structlog.get_logger("ddtflow.api")
_SID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_IKEY = re.compile(r"^[\x21-\x7e]{1,128}$")


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> bytes:
    ERRORS.labels(code, str(status)).inc()
    body = {
        "type": "error",
        "status": status,
        "error": {"code": code, "message": message, "details": details or {}},
    }
    return orjson.dumps(body, default=str)


# an HTTP status that ends the socket, and its close code (4000-4999: the application's)
_CLOSING = {404: (4404, "unknown session"), 410: (4410, "session erased")}


async def _send(ws: WebSocket, message: bytes) -> None:
    """One JSON message, in a text frame: a browser hands a binary frame to the page as a
    Blob, which ``JSON.parse(event.data)`` cannot read."""
    await ws.send_text(message.decode())


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    if ws.application_state != WebSocketState.DISCONNECTED:
        await ws.close(code=code, reason=reason[:120])


@router.websocket("/v1/sessions/{session_id}/ws")
async def session_ws(ws: WebSocket, session_id: str) -> None:
    app = ws.app
    rt: Runtime = app.state.runtime
    keys: KeyRing = app.state.keys
    settings: ApiSettings = app.state.api_settings
    await ws.accept()
    try:
        key = key_from_headers(ws.headers.get("authorization"), ws.headers.get("x-api-key"))
        key = key or ws.query_params.get("api_key")
        try:
            ident = keys.identify(key)
        except ApiError as e:
            await _send(ws, _error(e.status, e.code, e.message))
            await _close(ws, 1008, e.message)
            return
        structlog.contextvars.bind_contextvars(tenant=ident.tenant, session_id=session_id)
        if not _SID.match(session_id):
            await _send(ws, _error(404, "session_not_found", "unknown session"))
            await _close(ws, 4404, "unknown session")
            return
        try:
            state = await rt.state(ident.tenant, session_id)
        except RuntimeFault as f:
            status, code, message, details, _ = fault_error(f)
            await _send(ws, _error(status, code, message, details))
            await _close(ws, _CLOSING.get(status, (1011, ""))[0], message)
            return
        await _send(
            ws,
            orjson.dumps(
                {
                    "type": "session",
                    "session_id": session_id,
                    "seq": state.seq,
                    "status": state.status,
                    "awaiting": state.awaiting,
                }
            ),
        )
        if state.status in TERMINAL:
            await _close(ws, 1000, f"session {state.status}")
            return
        limiter = app.state.limiter
        while True:
            incoming = await ws.receive()
            if incoming["type"] == "websocket.disconnect":
                return
            raw: bytes = incoming.get("bytes") or (incoming.get("text") or "").encode()
            if len(raw) > settings.max_body_bytes:
                await _send(ws, _error(413, "body_too_large", "message too large"))
                await _close(ws, 1009, "message too large")
                return
            reply, after = await _handle(rt, limiter, ident.tenant, session_id, raw)
            await _send(ws, reply)
            if after in TERMINAL:
                await _close(ws, 1000, f"session {after}")
                return
            if after in _CLOSING:  # the session went away under the socket (erased)
                await _close(ws, *_CLOSING[after])
                return
    except WebSocketDisconnect:
        return
    except Exception as exc:  # noqa: BLE001 - never a dropped socket without a code
        log.error("ws_unhandled_exception", error_type=type(exc).__name__, exc_info=exc)
        try:
            await _send(ws, _error(500, "internal_error", "internal error"))
            await _close(ws, 1011, "internal error")
        except Exception:  # noqa: BLE001 - the peer is gone
            return


async def _handle(
    rt: Runtime, limiter: Any, tenant: str, session_id: str, raw: bytes
) -> tuple[bytes, str | int | None]:
    """(the reply, the session's status after a turn — for an error reply, the HTTP status
    when it ends the socket (404, 410), else None)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "malformed_json", "the message is not valid JSON"), None
    if not isinstance(data, dict):
        return _error(422, "validation_error", "a message is a JSON object"), None
    ikey = data.pop("idempotency_key", None)
    if ikey is not None and (not isinstance(ikey, str) or not _IKEY.match(ikey)):
        return _error(400, "bad_idempotency_key", "1 to 128 visible ASCII characters"), None
    try:
        body = EVENT_ADAPTER.validate_python(data)
    except ValidationError as e:
        errs = [
            {"loc": [str(x) for x in er["loc"]], "type": er["type"], "msg": er["msg"]}
            for er in e.errors()[:20]
        ]
        if any(er["type"] == "string_too_long" and er["loc"][-1:] == ["text"] for er in errs):
            too_long = _error(413, "text_too_long", "the utterance is too long", {"errors": errs})
            return too_long, None
        first = errs[0]
        msg = f"{'.'.join(first['loc'])}: {first['msg']}"
        return _error(422, "validation_error", msg, {"errors": errs}), None
    try:
        await limiter.check(tenant)
        resp = await send_event(rt, tenant, session_id, body, ikey)
    except ApiError as e:
        return _error(e.status, e.code, e.message, e.details), None
    except RuntimeFault as f:
        status, code, message, details, _ = fault_error(f)
        return _error(status, code, message, details), status if status in _CLOSING else None
    return b'{"type":"turn",' + resp.to_bytes()[1:], resp.status
