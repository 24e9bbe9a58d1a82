"""The FastAPI application: routers, error handlers, middleware, and a lifespan that opens
the runtime's clients (store, sink, MongoDB) and closes them on shutdown."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from runtime.api.auth import KeyRing
from runtime.api.config import ApiSettings
from runtime.api.errors import install_error_handlers
from runtime.api.fast import FastTurns
from runtime.api.limits import BodyLimitMiddleware, MemoryRateLimiter, RedisRateLimiter
from runtime.api.logging import RequestContextMiddleware
from runtime.api.routes import health, programs, replay, sessions, ws
from runtime.settings import Settings, get_settings
from runtime.wiring import Runtime, build_runtime
from schemas.program import Program

__all__ = ["create_app", "read_programs"]

log = structlog.get_logger("ddtflow.api")

RuntimeFactory = Callable[[Settings], Runtime]
CompileDict = Callable[[Mapping[str, Any]], Any]


class _PathLimit:
    """The body limit, larger for program uploads."""

    def __init__(self, app: Any, small: int, large: int) -> None:
        self.small = BodyLimitMiddleware(app, small)
        self.large = BodyLimitMiddleware(app, large)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").rstrip("/") == "/v1/programs":
            await self.large(scope, receive, send)
        else:
            await self.small(scope, receive, send)


class DdtflowApi(FastAPI):
    """FastAPI, with the per-turn routes answered by ``FastTurns`` (see runtime/api/fast.py)."""

    fast: FastTurns | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast is not None and scope["type"] == "http" and scope["method"] == "POST":
            route = self.fast.route_of(scope["path"])
            if route is not None:
                await self.fast.serve(route, scope, receive, send, super().__call__)
                return
        await super().__call__(scope, receive, send)


def read_programs(where: Path) -> list[tuple[Path, Program]]:
    """The compiled programs of ``DDTFLOW_PROGRAMS_DIR`` (a directory of ``*.json``, or one
    file); ValueError naming the first file that is not one, in one line."""
    files = sorted(where.glob("*.json")) if where.is_dir() else [where]
    out = []
    for f in files:
        try:
            out.append((f, Program.model_validate_json(f.read_bytes())))
        except OSError as exc:
            raise ValueError(f"{f}: cannot read: {exc.strerror}") from None
        except ValueError as exc:
            first = str(exc).splitlines()[0]
            raise ValueError(f"{f}: not a compiled program ({first})") from None
    return out


async def _preload(rt: Runtime, where: Path, tenant: str) -> None:
    for f, program in read_programs(where):
        loaded, _ = await rt.catalog.add(tenant, program)
        log.info("program_preloaded", program_id=loaded.id, tenant=tenant, file=f.name)


def create_app(
    settings: Settings | None = None,
    api_settings: ApiSettings | None = None,
    *,
    runtime_factory: RuntimeFactory = build_runtime,
    compile_project: CompileDict | None = None,
    keys: KeyRing | None = None,
) -> FastAPI:
    """The API over the runtime ``runtime_factory(settings)`` builds in the lifespan.

    ``compile_project`` compiles a project document on upload (``ddtflow serve`` passes
    the compiler's; without it project uploads get 422 ``compile_disabled``).
    """
    api = api_settings or ApiSettings()
    keyring = keys if keys is not None else KeyRing.load(api.api_keys_file, api.api_keys)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = settings or get_settings()
        rt = runtime_factory(s)
        app.state.runtime = rt
        client = rt.redis_client
        app.state.limiter = (
            RedisRateLimiter(client, api.rate_limit_per_s)
            if client is not None
            else MemoryRateLimiter(api.rate_limit_per_s)
        )
        await rt.warm_up()
        if api.programs_dir is not None:
            await _preload(rt, api.programs_dir, api.programs_tenant)
        # what startup built (modules, programs, engines, clients) lives as long as the
        # process: out of the collector's sight, a full collection scans only what turns
        # allocate since, instead of pausing every request for the whole heap
        gc.collect()
        gc.freeze()
        if keyring.open_mode:
            log.warning(
                "open_dev_mode",
                message="no API keys configured (DDTFLOW_API_KEYS_FILE / DDTFLOW_API_KEYS): "
                "every request is tenant 'default' without authentication",
            )
        log.info(
            "api_started",
            mode="embedded" if s.embedded else "servers",
            redis=bool(s.redis_url),
            amqp=bool(s.amqp_url),
            mongo=bool(s.mongo_url),
            tenants=len(keyring.tenants),
        )
        try:
            yield
        finally:
            await rt.aclose()
            log.info("api_stopped")
        app.state.stopped = True  # a clean shutdown: ``ddtflow serve`` exits 0

    app = DdtflowApi(
        title="ddtflow runtime API",
        version="1",
        summary="Start dialogue sessions, send channel events, receive actions.",
        lifespan=lifespan,
        # a body without a Content-Type is read as JSON, as the lean path does (FastAPI's
        # default would leave it unparsed and answer 422 "Input should be a valid
        # dictionary"); a body of another media type is 415 (errors.py)
        strict_content_type=False,
    )
    app.state.api_settings = api
    app.state.keys = keyring
    app.state.compile_project = compile_project
    install_error_handlers(app, max_text_chars=4096)
    app.include_router(health.router)
    app.include_router(programs.router)
    app.include_router(sessions.router)
    # the replay routes as plain routes (not a lazily included router) so that the path
    # shows in app.routes — tests/runtime/test_replay_api.py mounts them unless it is there
    app.router.routes.extend(replay.router.routes)
    app.include_router(ws.router)
    app.add_middleware(_PathLimit, small=api.max_body_bytes, large=api.max_program_bytes)
    app.add_middleware(RequestContextMiddleware)
    if api.fast_turns:
        app.fast = FastTurns(app.state, api.max_body_bytes)
    return app
