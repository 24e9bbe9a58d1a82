"""Health, readiness and metrics."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from runtime.api.errors import error_response
from runtime.api.metrics import render
from runtime.wiring import Runtime

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get(
    "/readyz",
    summary="Every configured server answers (503 listing the ones that do not)",
    responses={503: {"description": "a server is down"}},
)
async def readyz(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    checks = await rt.readiness()
    down = sorted(k for k, v in checks.items() if v != "ok")
    if down:
        return error_response(
            503,
            "not_ready",
            f"not ready: {', '.join(down)} down",
            {"checks": checks},
            {"Retry-After": "1"},
        )
    mode = "embedded" if rt.settings.embedded else "servers"
    return Response(
        orjson.dumps({"status": "ready", "mode": mode, "checks": checks}),
        media_type="application/json",
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics() -> Response:
    return render()
