"""Request dependencies: the runtime, the caller's identity (tenant) and its rate limit."""

from __future__ import annotations

import re
from typing import Annotated, Any, Protocol

import structlog
from fastapi import Depends, Header, Request

from runtime.api.auth import Identity, KeyRing, key_from_headers
from runtime.api.config import ApiSettings
from runtime.api.errors import ApiError
from runtime.wiring import Runtime

__all__ = [
    "IKEY_RE",
    "SESSION_ID_RE",
    "Admin",
    "Caller",
    "IdempotencyKey",
    "RateLimiter",
    "RuntimeDep",
    "Settings",
    "check_session_id",
]

IKEY_PATTERN = r"^[\x21-\x7e]{1,128}$"
IKEY_RE = re.compile(IKEY_PATTERN)
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RateLimiter(Protocol):
    async def check(self, tenant: str) -> None: ...


def _state(request: Request, name: str) -> Any:
    return getattr(request.app.state, name)


async def get_runtime(request: Request) -> Runtime:
    rt: Runtime = _state(request, "runtime")
    return rt


async def get_settings(request: Request) -> ApiSettings:
    s: ApiSettings = _state(request, "api_settings")
    return s


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Settings = Annotated[ApiSettings, Depends(get_settings)]


async def identify(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Identity:
    keys: KeyRing = _state(request, "keys")
    ident = keys.identify(key_from_headers(authorization, x_api_key))
    structlog.contextvars.bind_contextvars(tenant=ident.tenant)
    limiter: RateLimiter = _state(request, "limiter")
    await limiter.check(ident.tenant)
    return ident


Caller = Annotated[Identity, Depends(identify)]


async def require_admin(ident: Caller) -> Identity:
    if ident.role != "admin":
        raise ApiError(403, "forbidden", "this key may drive sessions but not manage programs")
    return ident


Admin = Annotated[Identity, Depends(require_admin)]


async def idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="a retry with the same key gets the same answer",
            pattern=IKEY_PATTERN,
        ),
    ] = None,
) -> str | None:
    if idempotency_key is None:
        return None
    if not IKEY_RE.match(idempotency_key):
        raise ApiError(
            400, "bad_idempotency_key", "Idempotency-Key: 1 to 128 visible ASCII characters"
        )
    return idempotency_key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


async def check_session_id(session_id: str) -> str:
    """Ids we never issued cannot exist: 404 (as for an unknown one), and bind it to logs."""
    if not SESSION_ID_RE.match(session_id):
        raise ApiError(404, "session_not_found", "unknown session")
    structlog.contextvars.bind_contextvars(session_id=session_id)
    return session_id
