"""GET /v1/sessions/{id}/replay and /export through a real API server (uvicorn on loopback,
embedded stores): sessions run over HTTP verify identical, export as a vCon with no
sensitive value in it, and another tenant's key sees neither."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from compiler import compile_project
from runtime.api.auth import hash_key
from runtime.api.routes import replay as replay_routes
from runtime.api.routes.replay import ReplayOut
from runtime.convtest import ConvTest, find_test_files, load_tests
from runtime.settings import Settings
from tests.runtime.api.harness import ApiServer
from tests.runtime.test_export import assert_valid_vcon

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "bank_card_block"
KEY_A = "key-replay-tenant-a-0123"
KEY_B = "key-replay-tenant-b-4567"
KEYS: dict[str, Any] = {"acme": [hash_key(KEY_A)], "globex": [hash_key(KEY_B)]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    settings = Settings(
        REDIS_URL=None,
        AMQP_URL=None,
        MONGO_URL=None,
        DDTFLOW_DATA_DIR=tmp_path_factory.mktemp("api"),
    )
    s = ApiServer(settings, keys=KEYS)
    mount(s)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def mount(server: ApiServer) -> None:
    """Include the replay router unless the app already does (runtime/api/app.py)."""
    paths = {getattr(r, "path", "") for r in server.app.routes}
    if "/v1/sessions/{session_id}/replay" not in paths:
        server.app.include_router(replay_routes.router)


def _client(server: ApiServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _run(server: ApiServer, http: httpx.Client, program: str, test: ConvTest) -> str:
    server.controls.reset(test.at, test.backends)
    body: dict[str, Any] = {"program": program, "channel": test.channel}
    if test.language:
        body["language"] = test.language
    if test.variables:
        body["variables"] = dict(test.variables)
    r = http.post("/v1/sessions", json=body)
    assert r.status_code == 201, r.text
    resp = r.json()
    for turn in test.turns:
        if turn.kind == "start":
            continue
        if turn.at is not None:
            server.controls.now = turn.at
        ev: dict[str, Any]
        if turn.kind == "user":
            ev = {"event": "user_input", "text": turn.text}
        elif turn.kind == "dtmf":
            ev = {"event": "dtmf", "dtmf": turn.dtmf}
        elif turn.kind == "noinput":
            ev = {"event": "no_input"}
        else:
            ev = {"event": "hangup"}
        r = http.post(f"/v1/sessions/{resp['session_id']}/events", json={**ev, "seq": resp["seq"]})
        assert r.status_code == 200, r.text
        resp = r.json()
    return str(resp["session_id"])


def test_replay_and_export_over_http(server: ApiServer) -> None:
    result = compile_project(PROJECT)
    assert result.program is not None
    tests = [t for f in find_test_files(PROJECT) for t in load_tests(f)]
    happy = next(t for t in tests if t.name == "card blocked (it, voice)")
    with _client(server, KEY_A) as a, _client(server, KEY_B) as b:
        r = a.post("/v1/programs", json={"program": result.program.model_dump(mode="json")})
        assert r.status_code in (200, 201), r.text
        pid = r.json()["id"]
        sid = _run(server, a, pid, happy)

        r = a.get(f"/v1/sessions/{sid}/replay")
        assert r.status_code == 200, r.text
        body = r.json()
        ReplayOut.model_validate(body)
        assert body["identical"] is True
        assert body["divergence"] is None
        assert body["program_id"] == pid
        assert body["turns"] == body["replayed"] == 7

        r = a.get(f"/v1/sessions/{sid}/export", params={"format": "vcon"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vcon+json")
        vcon = r.json()
        assert_valid_vcon(vcon)
        for secret in ("1980-03-12", "12 marzo 1980", "uno due tre quattro", "1234"):
            assert secret not in r.text
        r = a.get(f"/v1/sessions/{sid}/export", params={"format": "text"})
        assert r.status_code == 200 and "caller: ***" in r.text
        r = a.get(f"/v1/sessions/{sid}/export", params={"format": "pdf"})
        assert r.status_code == 422

        for path in ("replay", "export"):
            r = b.get(f"/v1/sessions/{sid}/{path}")
            assert r.status_code == 404, r.text  # another tenant cannot see it
            assert orjson.loads(r.content)["error"]["code"] == "session_not_found"
        r = a.get("/v1/sessions/nosuchsession/replay")
        assert r.status_code == 404


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    settings = Settings(
        REDIS_URL=None, AMQP_URL=None, MONGO_URL=None, DDTFLOW_DATA_DIR=tmp_path_factory.mktemp("o")
    )
    s = ApiServer(settings)
    mount(s)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.parametrize(
    "label", ["GET /v1/sessions/{session_id}/replay", "GET /v1/sessions/{session_id}/export"]
)
def test_openapi_contract_of_the_replay_routes(open_server: ApiServer, label: str) -> None:
    """Schemathesis over the live OpenAPI, as tests/runtime/api/test_api_schema.py does for
    the other routes: no 5xx, every response conforms to the published schema."""
    schema = schemathesis.openapi.from_url(f"{open_server.url}/openapi.json")
    results: list[Any] = list(schema.get_all_operations())
    ops = {r.ok().label: r.ok() for r in results}
    op = ops[label]

    @given(case=op.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate()

    run()


def test_the_state_diff_of_a_divergence_masks_sensitive_variables_by_path() -> None:
    """A sensitive variable in the state diff is *** whatever its value: the route used to
    look the dotted path up as one key, so a short value (not learnt as a secret: under
    three characters) came back in clear."""
    from runtime.export import Masker
    from runtime.replay import Divergence, ReplayResult, SessionLog

    result = compile_project(PROJECT)
    assert result.program is not None
    res = ReplayResult(
        log=SessionLog(tenant="acme", session_id="s", program_id=result.program.id, records=[]),
        program_id=result.program.id,
        divergence=Divergence(
            seq=3,
            event="user_input",
            kind="state",
            message="the state differs",
            state_changes=(
                ("memory.card.last4", "12", "34"),
                ("memory.customer.birth_date", "1980-03-12", None),
                ("memory.block_confirmed", True, False),
            ),
        ),
    )
    out = replay_routes._divergence(res, Masker(result.program))
    assert out is not None
    assert out["state_diff"] == [
        {"path": "memory.card.last4", "recorded": "***", "replayed": "***"},
        {"path": "memory.customer.birth_date", "recorded": "***", "replayed": None},
        {"path": "memory.block_confirmed", "recorded": True, "replayed": False},
    ]
