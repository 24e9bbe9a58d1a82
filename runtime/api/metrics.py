"""Prometheus metrics of the API (the sink's publish counters, the recovery counters and
``ddtflow_sessions_erased_total{outcome}`` are registered by their own modules in the same
default registry).

With several uvicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory: the
``/metrics`` of any worker then aggregates all of them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

import runtime.erasure  # noqa: F401 - registers ddtflow_sessions_erased
import runtime.recovery  # noqa: F401 - registers ddtflow_recoveries
import runtime.sinks.amqp  # noqa: F401 - registers the publish confirm/failure counters

__all__ = [
    "ERRORS",
    "FAST_PATH",
    "HTTP_REQUESTS",
    "SESSIONS_WAITING",
    "TURNS",
    "TURN_SECONDS",
    "render",
]

TURNS = Counter(
    "ddtflow_api_turns",
    "Channel requests (start and events) by the session status they left",
    ["status"],
)
TURN_SECONDS = Histogram(
    "ddtflow_api_turn_seconds",
    "Latency of a channel request (start or event), commit included",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ERRORS = Counter("ddtflow_api_errors", "Error responses by error code", ["code", "status"])
HTTP_REQUESTS = Counter(
    "ddtflow_api_http_requests", "HTTP requests by route and status", ["route", "status"]
)
FAST_PATH = Counter(
    "ddtflow_api_fast_path_requests",
    "Per-turn requests answered on the lean path (served) or handed to FastAPI (handed_over: "
    "a request the lean path does not accept as is, e.g. one that gets a 4xx)",
    ["outcome"],
)
SESSIONS_WAITING = Gauge(
    "ddtflow_api_sessions_waiting",
    "Sessions started through this process that wait for the caller (started minus ended; "
    "sessions that expire without ending stay counted)",
    multiprocess_mode="livesum",
)


def render() -> Response:
    """The text exposition of every metric (aggregated over workers in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest(REGISTRY)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
