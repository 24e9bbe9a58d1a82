"""Structured JSON logs (structlog) with request, tenant and session ids.

Only identifiers, event types, statuses, sequence numbers and timings are logged: never an
utterance, a variable or a memory value, so the values of sensitive DDTs and variables
cannot reach a log. The request context middleware also gives every request an id
(``X-Request-ID``, taken from the caller when well-formed), counts it, and turns an
exception that escaped everything else into a 500 JSON body naming that id.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import IO

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.api.errors import internal_error
from runtime.api.metrics import HTTP_REQUESTS

__all__ = [
    "RequestContextMiddleware",
    "begin_request",
    "configure_logging",
    "end_request",
]

log = structlog.get_logger("ddtflow.api")
_RID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def configure_logging(
    level: str = "info", *, json: bool = True, stream: IO[str] | None = None
) -> None:
    """structlog → stdlib logging → stderr (or ``stream``), one JSON object per line."""
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        # plain tracebacks: the rich one prints every frame's locals (memory, utterances)
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_ddtflow", False):
            root.removeHandler(h)
    handler._ddtflow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(lvl)
    logging.getLogger("uvicorn.access").disabled = True  # our access log replaces it


def begin_request(scope: Scope) -> str:
    """A request's id (the caller's ``X-Request-ID`` when well-formed, else a new one),
    kept in the scope's state and bound to the log context."""
    rid = ""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            cand = value.decode("latin-1")
            rid = cand if _RID.match(cand) else ""
            break
    rid = rid or uuid.uuid4().hex
    scope.setdefault("state", {})["request_id"] = rid
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=rid)
    return rid


def end_request(scope: Scope, route: str, status: int, started: float) -> None:
    """The access log line and the request counter of an HTTP request."""
    HTTP_REQUESTS.labels(route, str(status)).inc()
    log.info(
        "request",
        method=scope.get("method"),
        route=route,
        status=status,
        ms=round((time.perf_counter() - started) * 1000, 2),
    )


class RequestContextMiddleware:
    """Request id, log context, access log, request metrics, last-resort 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = begin_request(scope)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.error("unhandled_exception", error_type=type(exc).__name__, exc_info=exc)
            if scope["type"] == "http" and status == 0:
                status = 500
                await internal_error(rid)(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                route = scope.get("route")
                end_request(scope, getattr(route, "path", None) or "unmatched", status, started)
            structlog.contextvars.clear_contextvars()
