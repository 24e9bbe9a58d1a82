"""One JSON error shape for every 4xx/5xx: ``{"error": {"code", "message", "details"}}``.

Runtime faults map to a status by class; FastAPI's validation errors, unknown routes and
methods use the same body; anything unexpected is a 500 naming the request id (the
traceback goes to the log, never to the client).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from runtime.api.metrics import ERRORS
from runtime.erasure import SessionErasedError
from runtime.orchestrator import (
    InvalidEventError,
    SessionClosedError,
    UnsupportedLanguageError,
)
from runtime.ports import (
    ConflictError,
    IdempotencyKeyReusedError,
    RuntimeFault,
    SessionNotFoundError,
    StoreUnavailableError,
)
from runtime.programs import CompileFailedError, ProgramNotFoundError

log = structlog.get_logger("ddtflow.api")

__all__ = [
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "api_error_response",
    "error_response",
    "fault_response",
    "fault_status",
    "internal_error",
    "install_error_handlers",
    "is_json_media",
]


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. seq_conflict")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API."""

    error: ErrorDetail


class ApiError(Exception):
    """An error raised by the API layer itself (auth, limits, bad headers…)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details


# (class, status); the first match wins, so subclasses come first.
_FAULTS: tuple[tuple[type[RuntimeFault], int], ...] = (
    (SessionErasedError, 410),
    (SessionNotFoundError, 404),
    (ProgramNotFoundError, 404),
    (ConflictError, 409),
    (SessionClosedError, 409),
    (InvalidEventError, 409),
    (UnsupportedLanguageError, 422),
    (IdempotencyKeyReusedError, 422),
    (CompileFailedError, 422),
    (StoreUnavailableError, 503),
)

# details a client may see (never variables or utterances)
_SAFE_DETAILS = {
    "current_seq",
    "seq",
    "session_id",
    "program_id",
    "server",
    "language",
    "retry_after_s",
    "mongo_seq",
    "channel_seq",
    "pc",
    "erased_at",
}


def fault_status(fault: RuntimeFault) -> int:
    for cls, status in _FAULTS:
        if isinstance(fault, cls):
            return status
    return 500


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    ERRORS.labels(code, str(status)).inc()
    try:
        content = orjson.dumps(body, default=str)
    except TypeError:  # a message echoing a lone surrogate: escape it, never fail the error
        content = json.dumps(body, default=str, ensure_ascii=True).encode()
    return Response(
        content,
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def fault_error(fault: RuntimeFault) -> tuple[int, str, str, dict[str, Any], dict[str, str]]:
    """(status, code, message, details, headers) of a runtime fault."""
    status = fault_status(fault)
    details = {k: v for k, v in fault.details.items() if k in _SAFE_DETAILS}
    headers: dict[str, str] = {}
    message = fault.message
    if isinstance(fault, CompileFailedError):
        details["diagnostics"] = [d.model_dump(mode="json") for d in fault.diagnostics]
    if status == 503:
        retry = fault.details.get("retry_after_s", 1)
        headers["Retry-After"] = str(max(1, int(retry if isinstance(retry, int | float) else 1)))
    if status == 500:
        message = f"internal error ({fault.code})"
    return status, fault.code, message, details, headers


def api_error_response(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def fault_response(fault: RuntimeFault, request_id: str) -> Response:
    """The answer to a runtime fault; a 5xx is logged with its traceback and names the
    request id."""
    status, code, message, details, headers = fault_error(fault)
    if status >= 500:
        details["request_id"] = request_id
        log.error("runtime_fault", code=fault.code, error=fault.message, exc_info=fault)
    return error_response(status, code, message, details, headers)


def internal_error(request_id: str) -> Response:
    """The 500 answer naming the request id (the traceback goes to the log only)."""
    return error_response(
        500,
        "internal_error",
        f"internal error; request id {request_id}",
        {"request_id": request_id},
    )


def _request_id(request: Request) -> str:
    rid = request.scope.get("state", {}).get("request_id")
    return str(rid) if rid else "-"


def is_json_media(content_type: str | None) -> bool:
    """Whether a request body of this Content-Type is read as JSON: ``application/json``,
    ``application/*+json``, or no Content-Type at all (the app is built with
    ``strict_content_type=False``, and the lean path reads such bodies the same way)."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _validation(
    exc: RequestValidationError, max_text: int, content_type: str | None
) -> tuple[int, str, str, dict[str, Any]]:
    if isinstance(exc.body, bytes) and not is_json_media(content_type):
        # FastAPI left a body of another media type unparsed; its "valid dictionary"
        # complaint would not tell the client what is wrong
        return (
            415,
            "unsupported_media_type",
            f"the body must be JSON (Content-Type: application/json), not {content_type}",
            {},
        )
    errors = []
    status, code = 422, "validation_error"
    for e in exc.errors():
        loc = [str(x) for x in e.get("loc", ())]
        etype = str(e.get("type", ""))
        if etype == "json_invalid":
            return 400, "malformed_json", "the request body is not valid JSON", {}
        if loc[:2] == ["header", "Idempotency-Key"]:
            return (
                400,
                "bad_idempotency_key",
                "Idempotency-Key: 1 to 128 visible ASCII characters",
                {},
            )
        if etype == "string_too_long" and loc[-1:] == ["text"]:
            status, code = 413, "text_too_long"
        errors.append({"loc": loc, "type": etype, "msg": str(e.get("msg", ""))})
    if code == "text_too_long":
        msg = f"the utterance is longer than {max_text} characters"
    else:
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        msg = f"{'.'.join(first['loc']) or 'request'}: {first['msg']}"
    return status, code, msg, {"errors": errors[:20]}


_UNPARSABLE = "There was an error parsing the body"  # FastAPI's 400 when json.loads raised


def install_error_handlers(app: FastAPI, *, max_text_chars: int) -> None:
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return api_error_response(exc)

    async def on_fault(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RuntimeFault)
        return fault_response(exc, _request_id(request))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        ctype = request.headers.get("content-type")
        status, code, message, details = _validation(exc, max_text_chars, ctype)
        return error_response(status, code, message, details)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            400: "bad_request",
            413: "body_too_large",
        }
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 400 and message == _UNPARSABLE:
            # the body did not decode (invalid UTF-8, a number of more than 4300 digits,
            # nesting deeper than the parser goes): not JSON, as far as the client is told
            code, message = "malformed_json", "the request body is not valid JSON"
        details: dict[str, Any] = {}
        max_bytes = getattr(exc, "max_bytes", None)
        if max_bytes is not None:
            details["max_bytes"] = max_bytes
        if exc.status_code == 404:
            message = f"no route {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, code, message, details, dict(exc.headers or {}))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled_exception", error_type=type(exc).__name__, exc_info=exc)
        return internal_error(_request_id(request))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RuntimeFault, on_fault)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody, "description": d}
    for s, d in {
        400: "malformed JSON or a bad header",
        401: "missing or unknown API key",
        403: "the key may not do this",
        404: "unknown (or another tenant's) session or program",
        409: "stale seq, concurrent turn, or the session has ended",
        410: "the session was erased on request",
        413: "request body or utterance too large",
        415: "the body is not JSON (Content-Type)",
        422: "the body does not validate",
        429: "rate limit exceeded (see Retry-After)",
        503: "a server is unavailable or recovery is behind (see Retry-After)",
    }.items()
}
