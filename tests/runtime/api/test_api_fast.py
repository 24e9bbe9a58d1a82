"""The lean per-turn path (runtime/api/fast.py) answers exactly as the FastAPI routes do.

Two real servers with the same keys, clock and programs, one with the lean path and one
without, get the same script of requests — good turns, retries, and every kind of bad
input — and must give byte-identical answers (status, the headers a client reads, body).
The lean server's counters show which requests it served itself and which it handed to
FastAPI, so the comparison cannot pass by the lean path never being taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from runtime.api import ApiSettings
from runtime.settings import Settings
from tests.runtime.api.conftest import KEY_A, KEY_B, KEYS, upload
from tests.runtime.api.harness import ApiServer

# (what the lean path does with it, method, path, body or raw bytes, headers)
Step = tuple[str, str, str, Any, dict[str, str]]
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"X-API-Key": KEY_B}
EV = "/v1/sessions/s1/events"


def script(program: str) -> list[Step]:
    def say(text: str, seq: int) -> dict[str, Any]:
        return {"event": "user_input", "text": text, "seq": seq}

    start = {"program": program, "language": "en", "session_id": "s1"}
    return [
        ("served", "POST", "/v1/sessions", start, A),
        ("served", "POST", "/v1/sessions", start, A),  # exists: 409
        ("served", "POST", EV, say("I lost my card", 1), A),
        ("served", "POST", EV, say("I lost my card", 1), A),  # stale seq: 409
        ("served", "POST", EV, {"event": "no_input", "seq": 2}, {**A, "Idempotency-Key": "k-1"}),
        ("served", "POST", EV, {"event": "no_input", "seq": 2}, {**A, "Idempotency-Key": "k-1"}),
        ("served", "POST", "/v1/sessions/nobody/events", say("hi", 1), A),  # 404
        ("served", "POST", EV, say("hi", 3), B),  # another tenant's session: 404
        ("served", "POST", "/v1/sessions", {"program": "booking@nowhere"}, A),  # 404
        ("handed_over", "POST", EV, b'{"event": "user_input", "te', A),  # malformed: 400
        ("handed_over", "POST", EV, {"event": "user_input", "seq": "x"}, A),  # 422
        ("handed_over", "POST", EV, {"event": "shout", "seq": 3}, A),  # 422
        ("handed_over", "POST", EV, say("hi", 3), {}),  # no key: 401
        ("handed_over", "POST", EV, say("hi", 3), {"X-API-Key": "wrong"}),  # 401
        ("handed_over", "POST", EV, say("hi", 3), {**A, "Idempotency-Key": "a b"}),  # 400
        ("handed_over", "POST", EV, say("parola " * 700, 3), A),  # text_too_long: 413
        ("handed_over", "POST", EV, say("x" * 70_000, 3), A),  # body_too_large: 413
        ("handed_over", "POST", "/v1/sessions/bad$id/events", say("hi", 3), A),  # 404
        ("handed_over", "POST", EV, b"seq=3", {**A, "Content-Type": "text/plain"}),  # 415
        ("handed_over", "POST", "/v1/sessions", {"program": program, "language": "e"}, A),
        ("served", "POST", EV, {"event": "dtmf", "dtmf": "1", "seq": 3}, A),
        ("served", "POST", EV, {"event": "hangup", "seq": 4}, A),
        ("served", "POST", EV, say("hello?", 5), A),  # the session is over: 409
        ("not_lean", "POST", EV + "/", say("hi", 5), A),  # another route
        ("not_lean", "GET", "/v1/sessions/s1", None, A),
        # no Content-Type: read as JSON on both paths (the session is over: 409)
        ("served", "POST", EV, b'{"event": "no_input", "seq": 5}', {**A, "Content-Type": ""}),
        # a JSON integer, not what lax parsing would turn into one: 422
        ("handed_over", "POST", EV, {"event": "no_input", "seq": True}, A),
        ("handed_over", "POST", EV, {"event": "no_input", "seq": "5"}, A),
        ("served", "POST", EV, {"event": "no_input", "seq": 5.0}, A),  # an integer: 409
        ("handed_over", "POST", EV, {**say("hi", 5), "confidence": "0.5"}, A),
        # not JSON after all: invalid UTF-8, a 5000-digit number, nesting past any limit: 400
        ("handed_over", "POST", EV, b'{"event": "user_input", "text": "\xe9", "seq": 5}', A),
        ("handed_over", "POST", EV, b'{"event": "no_input", "seq": 1' + b"0" * 5000 + b"}", A),
        ("handed_over", "POST", EV, b'{"nbest": ' + b"[" * 5000 + b"]" * 5000 + b"}", A),
        # a body of another media type: 415
        (
            "handed_over",
            "POST",
            EV,
            b"seq=5",
            {**A, "Content-Type": "application/x-www-form-urlencoded"},
        ),
        ("handed_over", "POST", "/v1/sessions", b"program=x", {**A, "Content-Type": "text/plain"}),
    ]


def _server(tmp: Path, fast: bool) -> ApiServer:
    settings = Settings(REDIS_URL=None, AMQP_URL=None, MONGO_URL=None, data_dir=tmp)
    api = ApiSettings(max_body_bytes=64 * 1024, rate_limit_per_s=0, fast_turns=fast)
    return ApiServer(settings, keys=KEYS, api=api).start()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, ApiServer]]:
    lean = _server(tmp_path_factory.mktemp("lean"), True)
    framework = _server(tmp_path_factory.mktemp("framework"), False)
    try:
        yield lean, framework
    finally:
        lean.stop()
        framework.stop()


def _run(server: ApiServer, steps: list[Step]) -> list[tuple[int, dict[str, str], bytes]]:
    out = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for n, (_, method, path, body, headers) in enumerate(steps):
            h = {"X-Request-ID": f"step-{n}", **headers}
            if isinstance(body, bytes):
                h.setdefault("Content-Type", "application/json")
                h = {k: v for k, v in h.items() if v}  # "": no such header
                r = http.request(method, path, content=body, headers=h)
            else:
                r = http.request(method, path, json=body, headers=h)
            seen = {
                k: r.headers[k]
                for k in ("content-type", "x-request-id", "retry-after", "www-authenticate")
                if k in r.headers
            }
            out.append((r.status_code, seen, r.content))
    return out


def _count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("ddtflow_api_fast_path_requests_total", {"outcome": outcome})
    return value or 0.0


def test_lean_and_framework_paths_answer_byte_for_byte_alike(
    pair: tuple[ApiServer, ApiServer], programs: dict[str, dict[str, Any]]
) -> None:
    lean, framework = pair
    ids = set()
    for server in pair:
        with httpx.Client(base_url=server.url, headers=A, timeout=30) as http:
            ids.add(upload(http, programs["bank_card_block"]))
    assert len(ids) == 1
    steps = script(ids.pop())

    served, handed = _count("served"), _count("handed_over")
    got = _run(lean, steps)
    assert _count("served") - served == sum(s[0] == "served" for s in steps)
    assert _count("handed_over") - handed == sum(s[0] == "handed_over" for s in steps)
    want = _run(framework, steps)

    for n, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a == b, (n, steps[n][:3], a, b)
    statuses = [status for status, _, _ in got]
    assert statuses[:9] == [201, 409, 200, 409, 200, 200, 404, 404, 404]
    assert statuses[9:20] == [400, 422, 422, 401, 401, 400, 413, 413, 404, 415, 422]
    assert statuses[20:23] == [200, 200, 409]
    assert statuses[25:] == [409, 422, 422, 409, 422, 400, 400, 400, 415, 415]
    codes = [orjson.loads(body)["error"]["code"] for _, _, body in got[25:]]
    assert codes[0] == codes[3] == "session_closed"
    assert codes[1] == codes[2] == codes[4] == "validation_error"
    assert codes[5:] == ["malformed_json"] * 3 + ["unsupported_media_type"] * 2
    assert got[4][2] == got[5][2]  # the retry with the same key: the same answer
    assert all(h["x-request-id"] == f"step-{n}" for n, (_, h, _) in enumerate(got))
