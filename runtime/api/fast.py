"""The two per-turn routes, served without the framework's per-request machinery.

``POST /v1/sessions`` and ``POST /v1/sessions/{id}/events`` are what a channel sends on
every turn. Through FastAPI, its dependency solving, request and response objects and
half a dozen middleware layers cost about as much CPU as the turn itself (``bench/http.py``
prints the CPU per turn), so these two routes are answered here, by the same functions
the FastAPI routes call (identity, rate limit, ``start_session``/``send_event``, error
mapping), with byte-identical answers.

One source of truth for every error: whatever this path would not accept exactly as the
FastAPI route does (no or a too large Content-Length, another content type, a body that
does not validate, a bad Idempotency-Key, a missing or unknown key, a malformed session
id) is handed to the FastAPI application unchanged, with the body already read replayed
to it, before anything with a side effect (the rate limit, the turn) has happened. The
FastAPI routes stay: they document the API (OpenAPI) and answer what is handed over.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from runtime.api.auth import Identity, KeyRing, key_from_headers
from runtime.api.deps import IKEY_RE, SESSION_ID_RE, RateLimiter
from runtime.api.errors import (
    ApiError,
    api_error_response,
    fault_response,
    internal_error,
    is_json_media,
)
from runtime.api.logging import begin_request, end_request
from runtime.api.metrics import FAST_PATH
from runtime.api.models import EVENT_ADAPTER, EventRequest, StartRequest
from runtime.api.routes.sessions import send_event, start_session
from runtime.driver import TurnResponse
from runtime.ports import RuntimeFault
from runtime.wiring import Runtime

__all__ = ["FastTurns"]

log = structlog.get_logger("ddtflow.api")

ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]

START_ROUTE = "/v1/sessions"
EVENTS_ROUTE = "/v1/sessions/{session_id}/events"
_EVENTS_PATH = re.compile(r"^/v1/sessions/([^/]+)/events$")
_WANTED = {
    b"content-length",
    b"content-type",
    b"authorization",
    b"x-api-key",
    b"idempotency-key",
}


_SERVED = FAST_PATH.labels("served")
_HANDED_OVER = FAST_PATH.labels("handed_over")


class _Handover(Exception):
    """This request is the FastAPI route's to answer (it will name what is wrong);
    ``body``: what was read of it already."""

    def __init__(self, body: bytes | None = None) -> None:
        super().__init__()
        self.body = body


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the FastAPI app: the body already read, then the real channel."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class FastTurns:
    """Serves the per-turn routes of ``app`` (whose ``state`` holds the runtime, the key
    ring and the rate limiter once the lifespan has run)."""

    def __init__(self, state: Any, max_body_bytes: int) -> None:
        self.state = state
        self.max_body = max_body_bytes

    @staticmethod
    def route_of(path: str) -> str | None:
        if path == START_ROUTE:
            return START_ROUTE
        if _EVENTS_PATH.match(path):
            return EVENTS_ROUTE
        return None

    async def serve(
        self, route: str, scope: Scope, receive: Receive, send: Send, fallback: ASGI
    ) -> None:
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _WANTED and name not in headers:
                headers[name] = value.decode("latin-1")
        body: bytes | None = None  # not read yet
        try:
            length = int(headers[b"content-length"])
            if not 0 <= length <= self.max_body or not is_json_media(headers.get(b"content-type")):
                raise _Handover
            body = await self._read(receive, length)
            request = self._parse(route, scope, headers, body)
        except (_Handover, KeyError, ValueError) as exc:  # KeyError, ValueError: Content-Length
            if isinstance(exc, _Handover) and exc.body is not None:
                body = exc.body
            _HANDED_OVER.inc()
            await fallback(scope, receive if body is None else _replaying(body, receive), send)
            return
        _SERVED.inc()
        await self._answer(route, request, scope, receive, send)

    async def _read(self, receive: Receive, length: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                raise _Handover(b"".join(chunks))
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > length:  # more than announced: let the framework judge it
                raise _Handover(b"".join(chunks))
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _parse(
        self, route: str, scope: Scope, headers: dict[bytes, str], body: bytes
    ) -> tuple[Identity, str | None, str | None, StartRequest | EventRequest]:
        """Everything the FastAPI route's parameters check, without side effects."""
        keys: KeyRing = self.state.keys
        try:
            ident = keys.identify(
                key_from_headers(headers.get(b"authorization"), headers.get(b"x-api-key"))
            )
        except ApiError:
            raise _Handover from None
        ikey = headers.get(b"idempotency-key")
        if ikey is not None and not IKEY_RE.match(ikey):
            raise _Handover
        session_id = None
        if route == EVENTS_ROUTE:
            m = _EVENTS_PATH.match(scope["path"])
            assert m is not None
            session_id = m.group(1)
            if not SESSION_ID_RE.match(session_id):
                raise _Handover
        try:
            req: StartRequest | EventRequest = (
                StartRequest.model_validate_json(body)
                if route == START_ROUTE
                else EVENT_ADAPTER.validate_json(body)
            )
        except ValidationError:
            raise _Handover from None
        return ident, ikey, session_id, req

    async def _answer(
        self,
        route: str,
        request: tuple[Identity, str | None, str | None, StartRequest | EventRequest],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        ident, ikey, session_id, body = request
        rid = begin_request(scope)
        started = time.perf_counter()
        status = 500
        error: Response | None = None
        responding = False
        try:
            structlog.contextvars.bind_contextvars(tenant=ident.tenant)
            if session_id is not None:
                structlog.contextvars.bind_contextvars(session_id=session_id)
            limiter: RateLimiter = self.state.limiter
            await limiter.check(ident.tenant)
            rt: Runtime = self.state.runtime
            resp: TurnResponse
            if session_id is None:
                assert isinstance(body, StartRequest)
                resp, status = await start_session(rt, ident.tenant, body, ikey), 201
            else:
                assert not isinstance(body, StartRequest)
                resp, status = await send_event(rt, ident.tenant, session_id, body, ikey), 200
            payload = resp.to_bytes()
            responding = True
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-length", str(len(payload)).encode()),
                        (b"content-type", b"application/json"),
                        (b"x-request-id", rid.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
        except ApiError as exc:
            error = api_error_response(exc)
        except RuntimeFault as exc:
            error = fault_response(exc, rid)
        except Exception as exc:  # the last resort: a 500 naming the request id, logged
            log.error("unhandled_exception", error_type=type(exc).__name__, exc_info=exc)
            if not responding:  # else the answer was on its way when the client went away
                error = internal_error(rid)
        try:
            if error is not None:
                status = error.status_code
                error.headers["x-request-id"] = rid
                await error(scope, receive, send)
        finally:
            end_request(scope, route, status, started)
            structlog.contextvars.clear_contextvars()
