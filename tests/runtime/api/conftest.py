"""Fixtures: the examples compiled once, and real API servers (uvicorn on loopback) over the
embedded default and over Redis + RabbitMQ + the MongoDB-wire server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from compiler import compile_project
from runtime.api import ApiSettings
from runtime.api.auth import hash_key
from runtime.convtest import ConvTest, find_test_files, load_tests
from runtime.settings import Settings
from tests.runtime.api.harness import ApiServer
from tests.runtime.api.slow_backend import SlowBackend

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "flow.yaml").exists())

KEY_A = "key-tenant-a-0123456789"
KEY_A_CHANNEL = "key-tenant-a-channel-only"
KEY_B = "key-tenant-b-9876543210"
KEYS: dict[str, Any] = {
    "acme": {"admin": [hash_key(KEY_A)], "channel": [hash_key(KEY_A_CHANNEL)]},
    "globex": [hash_key(KEY_B)],
}


def conversation_cases() -> list[tuple[str, ConvTest]]:
    cases = []
    for ex in EXAMPLES:
        for f in find_test_files(ex):
            cases.extend((ex.name, t) for t in load_tests(f))
    return cases


CASES = conversation_cases()


def case_id(case: tuple[str, ConvTest]) -> str:
    return f"{case[0]}:{case[1].file.stem}:{case[1].line}"


@pytest.fixture(scope="session")
def programs() -> dict[str, dict[str, Any]]:
    """Each example compiled, as the JSON a client uploads."""
    out = {}
    for ex in EXAMPLES:
        result = compile_project(ex)
        assert result.ok and result.program is not None, ex
        out[ex.name] = result.program.model_dump(mode="json")
    return out


def _embedded(tmp: Path) -> Settings:
    return Settings(REDIS_URL=None, AMQP_URL=None, MONGO_URL=None, data_dir=tmp)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """Open dev mode (tenant ``default``), memory store, JSONL log."""
    server = ApiServer(_embedded(tmp_path_factory.mktemp("api"))).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """Two tenants with API keys, small limits (body 64 KB), embedded stores."""
    server = ApiServer(
        _embedded(tmp_path_factory.mktemp("api")),
        keys=KEYS,
        api=ApiSettings(max_body_bytes=64 * 1024, rate_limit_per_s=0),
    ).start()
    try:
        yield server
    finally:
        server.stop()


def server_settings(redis_url: str, amqp_url: str, mongo_url: str) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        REDIS_URL=redis_url,
        AMQP_URL=amqp_url,
        MONGO_URL=mongo_url,
        queue=f"ddtflow.api.{tag}",
        mongo_db=f"api_{tag}",
        recovery_wait_s=3.0,
    )


@pytest.fixture(scope="module")
def with_servers(redis_url: str, amqp_url: str, mongo_url: str) -> Iterator[ApiServer]:
    """Redis store, RabbitMQ sink (critical turns to MongoDB), MongoDB archive."""
    server = ApiServer(server_settings(redis_url, amqp_url, mongo_url), keys=KEYS).start()
    try:
        yield server
    finally:
        server.stop()


def upload(http: httpx.Client, program: dict[str, Any]) -> str:
    r = http.post("/v1/programs", json={"program": program})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def slow_backend() -> Iterator[SlowBackend]:
    """The bank's identity service on loopback, answering after 1.5 s, counting calls."""
    b = SlowBackend(delay_s=1.5)
    try:
        yield b
    finally:
        b.close()
