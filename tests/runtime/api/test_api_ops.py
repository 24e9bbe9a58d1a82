"""Operations: /healthz, /readyz (503 naming what is down), /metrics, JSON logs without
sensitive values, and a server that cannot be reached answering 503 with Retry-After."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from runtime.api.logging import configure_logging
from runtime.convtest import load_tests
from runtime.settings import Settings
from tests.runtime.api.conftest import ROOT, upload
from tests.runtime.api.conv import run_conversation
from tests.runtime.api.harness import ApiServer, client
from tests.runtime.api.test_api_errors import assert_error
from tests.servers import free_port


def test_healthz_and_readyz_embedded(embedded: ApiServer) -> None:
    with client(embedded) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        r = http.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ready", "mode": "embedded", "checks": {}}


def test_metrics(embedded: ApiServer, programs: dict[str, dict[str, Any]]) -> None:
    with client(embedded) as http:
        pid = upload(http, programs["bank_card_block"])
        s = http.post("/v1/sessions", json={"program": pid}).json()
        http.post(f"/v1/sessions/{s['session_id']}/events", json={"event": "no_input", "seq": 0})
        text = http.get("/metrics").text
    for name in (
        "ddtflow_api_turns_total{",
        "ddtflow_api_turn_seconds_bucket{",
        'ddtflow_api_errors_total{code="seq_conflict",status="409"}',
        "ddtflow_api_sessions_waiting",
        "ddtflow_recoveries_total",
        "ddtflow_turns_published_total",
        "ddtflow_turn_publish_failures_total",
        "ddtflow_api_http_requests_total{",
    ):
        assert name in text, name


def test_logs_are_json_with_ids_and_no_sensitive_values(
    embedded: ApiServer, programs: dict[str, dict[str, Any]]
) -> None:
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)
    try:
        test = load_tests(ROOT / "examples/bank_card_block/tests/happy_path.yaml")[0]
        with client(embedded) as http:
            pid = upload(http, programs["bank_card_block"])
            assert run_conversation(embedded, http, pid, test) == []
    finally:
        root = logging.getLogger()
        for h in list(root.handlers):
            if getattr(h, "_ddtflow", False):
                root.removeHandler(h)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    turns = [x for x in lines if x.get("event") == "turn"]
    assert turns and all({"request_id", "tenant", "session_id", "seq"} <= set(x) for x in turns)
    text = stream.getvalue()
    for secret in ("1980-03-12", "12 marzo 1980", "uno due tre quattro", "393331234567"):
        assert secret not in text


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory: pytest.TempPathFactory) -> Any:
    port = free_port()  # nothing listens there
    settings = Settings(
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        AMQP_URL=None,
        MONGO_URL=None,
        data_dir=tmp_path_factory.mktemp("down"),
    )
    server = ApiServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def test_readyz_names_what_is_down(unreachable: ApiServer) -> None:
    with client(unreachable) as http:
        assert http.get("/healthz").status_code == 200
        r = http.get("/readyz")
        err = assert_error(r, 503, "not_ready")
        assert err["details"]["checks"]["redis"].startswith("down")
        assert r.headers["retry-after"] == "1"


def test_store_down_is_503_with_retry_after(
    unreachable: ApiServer, programs: dict[str, dict[str, Any]]
) -> None:
    with client(unreachable) as http:
        pid = upload(http, programs["bank_card_block"])
        r = http.post("/v1/sessions", json={"program": pid})
        err = assert_error(r, 503, "unavailable")
        assert r.headers["retry-after"] == "1"
        assert err["details"]["server"] == "redis"
        r = http.post("/v1/sessions/abc/events", json={"event": "no_input", "seq": 1})
        assert_error(r, 503, "unavailable")


def test_openapi_is_published(embedded: ApiServer) -> None:
    with client(embedded) as http:
        spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    for p in (
        "/v1/programs",
        "/v1/sessions",
        "/v1/sessions/{session_id}/events",
        "/v1/aliases/{name}",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert p in paths, p
    assert "409" in paths["/v1/sessions/{session_id}/events"]["post"]["responses"]
