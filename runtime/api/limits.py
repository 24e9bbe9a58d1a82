"""Limits: request body size (checked before parsing, 413) and a per-tenant rate limit
(429 with Retry-After), shared through Redis when configured, in memory otherwise."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.api.errors import ApiError, error_response

log = logging.getLogger("ddtflow.api.limits")

__all__ = ["BodyLimitMiddleware", "BodyTooLargeError", "MemoryRateLimiter", "RedisRateLimiter"]


class BodyTooLargeError(StarletteHTTPException):
    """A body that grew past the limit while being read (an HTTPException so that FastAPI's
    body reader lets it through instead of calling it a parse error)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class BodyLimitMiddleware:
    """413 for a declared Content-Length above the limit (nothing read), and for a chunked
    body that grows past it while being read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await self._reject(scope, receive, send, 400, "bad Content-Length header")
                    return
                if length > self.max_bytes:
                    await self._reject(scope, receive, send, 413, None)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await self._reject(scope, receive, send, 413, None)

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, status: int, msg: str | None
    ) -> None:
        if status == 413:
            resp = error_response(
                413,
                "body_too_large",
                msg or f"the request body is larger than {self.max_bytes} bytes",
                {"max_bytes": self.max_bytes},
                {"Connection": "close"},
            )
        else:
            resp = error_response(status, "bad_request", msg or "bad request")
        await resp(scope, receive, send)


def _too_many(tenant: str, limit: int, retry: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"more than {limit} requests per second for tenant {tenant!r}",
        headers={"Retry-After": str(retry)},
        limit_per_s=limit,
    )


class MemoryRateLimiter:
    """A one-second fixed window per tenant, in this process."""

    def __init__(self, per_s: int) -> None:
        self.per_s = per_s
        self._windows: dict[str, tuple[int, int]] = {}

    async def check(self, tenant: str) -> None:
        if self.per_s <= 0:
            return
        now = int(time.time())
        window, count = self._windows.get(tenant, (now, 0))
        if window != now:
            window, count = now, 0
        count += 1
        self._windows[tenant] = (window, count)
        if count > self.per_s:
            raise _too_many(tenant, self.per_s, 1)


class RedisRateLimiter:
    """A one-second fixed window per tenant in Redis (INCR + EXPIRE), shared by every API
    process. If Redis does not answer, requests are let through (logged): the limit
    protects the service, it must not take it down."""

    def __init__(self, client: Any, per_s: int, prefix: str = "ddtflow:rl") -> None:
        self.client = client
        self.per_s = per_s
        self.prefix = prefix

    async def check(self, tenant: str) -> None:
        if self.per_s <= 0:
            return
        key = f"{self.prefix}:{{{tenant}}}:{int(time.time())}"
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 2)
            count, _ = await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - fail open on any client error
            log.warning("rate limit check skipped, Redis error: %s", exc)
            return
        if int(count) > self.per_s:
            raise _too_many(tenant, self.per_s, 1)
