"""Start variables a store cannot hold are refused with 422, never a 500 or a silent null.

docs/api.md: "Every 4xx/5xx has one shape … No traceback ever reaches a response". A
voice gateway passing the caller's data as start variables once sent a value the turn's
JSON serialiser could not write (a lone surrogate, an integer past 64 bits, nesting past
its depth): the start was a 500 ``internal_error``. ``NaN`` and ``1e999`` (Python's JSON
reader takes both) were stored as ``null`` without a word. Both server paths — the lean
one and FastAPI (``DDTFLOW_FAST_TURNS=0``) — must answer 422 ``validation_error``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.api import ApiSettings
from runtime.settings import Settings
from tests.runtime.api.conftest import upload
from tests.runtime.api.harness import ApiServer, client


@pytest.fixture(scope="module", params=["fast", "fastapi"])
def http(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    programs: dict[str, dict[str, Any]],
) -> Iterator[httpx.Client]:
    tmp: Path = tmp_path_factory.mktemp("vars")
    settings = Settings(REDIS_URL=None, AMQP_URL=None, MONGO_URL=None, data_dir=tmp)
    api = ApiSettings(fast_turns=request.param == "fast")
    server = ApiServer(settings, api=api).start()
    try:
        with client(server) as h:
            upload(h, programs["bank_card_block"])
            r = h.get("/v1/programs")
            pid = r.json()["programs"][0]["id"]
            h.put("/v1/aliases/cards@live", json={"program_id": pid}).raise_for_status()
            yield h
    finally:
        server.stop()


def _start(http: httpx.Client, phone: bytes) -> httpx.Response:
    body = b'{"program": "cards@live", "channel": "voice", "variables": {"caller.phone": '
    return http.post(
        "/v1/sessions",
        content=body + phone + b"}}",
        headers={"Content-Type": "application/json"},
    )


BAD = {
    "lone surrogate": b'"\\ud800"',
    "integer past 64 bits": b"123456789012345678901234567890",
    "unsigned 64-bit integer": b"18446744073709551615",
    "nested 300 deep": b"[" * 300 + b"]" * 300,
    "NaN": b"NaN",
    "Infinity": b"1e999",
    "surrogate in a key": b'{"\\udc80": 1}',
}


@pytest.mark.parametrize("label", list(BAD))
def test_unstorable_start_variable_is_422(http: httpx.Client, label: str) -> None:
    r = _start(http, BAD[label])
    assert r.status_code == 422, (label, r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "validation_error", body
    assert "variables" in body["error"]["message"], body
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "value",
    [b'"+447700900123"', b"9223372036854775807", b"-9223372036854775808", b"1.5", b"[[[1]]]"],
)
def test_storable_start_variable_is_kept(http: httpx.Client, value: bytes) -> None:
    r = _start(http, value)
    assert r.status_code == 201, r.text
    state = http.get(f"/v1/sessions/{r.json()['session_id']}").json()["state"]
    assert httpx.Response(200, content=value).json() == state["memory"]["caller"]["phone"]
