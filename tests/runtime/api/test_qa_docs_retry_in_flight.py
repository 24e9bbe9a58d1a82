"""A request retried with its Idempotency-Key while the first attempt is still running
does not run the turn a second time: the backend is called once.

docs/api.md: "The same request retried with the same Idempotency-Key (even concurrently)
gets the same answer, byte for byte", and the reference client sends a request that timed
out again with its key. A gateway whose request timed out while the turn waited for a slow
backend did exactly that: the retry found no stored answer yet, ran the turn again and
called the backend again — the answers matched, but a non-idempotent backend (the bank's
``block_card``) or an SMS would have run twice. Requests for one session now run one after
the other in a process, so the retry waits for the first attempt and gets its answer.

The backend is a real HTTP server on loopback that answers slowly and counts its calls;
the API server runs the real effect executor (no canned responses).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from compiler import compile_project
from runtime.effects import EffectExecutor
from runtime.settings import Settings
from tests.runtime.api.conftest import upload
from tests.runtime.api.harness import ApiServer, client, post_at_once
from tests.runtime.api.slow_backend import BANK, VERIFY_URL, SlowBackend


@pytest.fixture(scope="module")
def http(
    tmp_path_factory: pytest.TempPathFactory, slow_backend: SlowBackend
) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("slow")
    project = tmp / "bank"
    shutil.copytree(BANK, project)
    flow = project / "flow.yaml"
    assert VERIFY_URL in flow.read_text()
    flow.write_text(flow.read_text().replace(VERIFY_URL, slow_backend.url))
    result = compile_project(project)
    assert result.ok and result.program is not None
    settings = Settings(REDIS_URL=None, AMQP_URL=None, MONGO_URL=None, data_dir=tmp / "data")
    server = ApiServer(settings).start()
    executor = EffectExecutor()  # the real one: HTTP to the slow backend
    server.controls.stubs = executor  # type: ignore[assignment]
    try:
        with client(server) as h:
            pid = upload(h, result.program.model_dump(mode="json"))
            h.put("/v1/aliases/slow@live", json={"program_id": pid}).raise_for_status()
            yield h
    finally:
        server.run_in_server(executor.aclose())
        server.stop()


def _at_the_card_digits(http: httpx.Client) -> tuple[str, dict[str, Any]]:
    """A voice session that has its date of birth: the digits turn calls the backend."""
    start = http.post("/v1/sessions", json={"program": "slow@live", "channel": "voice"}).json()
    sid = start["session_id"]
    r = http.post(
        f"/v1/sessions/{sid}/events",
        json={"event": "user_input", "text": "12 marzo 1980", "seq": start["seq"]},
    )
    assert r.status_code == 200, r.text
    return sid, {"event": "user_input", "text": "1 2 3 4", "seq": r.json()["seq"]}


def test_a_retry_after_a_client_timeout_waits_for_the_first_attempt(
    http: httpx.Client, slow_backend: SlowBackend
) -> None:
    sid, body = _at_the_card_digits(http)
    before = slow_backend.calls
    path, headers = f"/v1/sessions/{sid}/events", {"Idempotency-Key": f"{sid}-digits"}
    with pytest.raises(httpx.TimeoutException):  # the backend takes 1.5 s
        http.post(path, json=body, headers=headers, timeout=0.2)
    retry = http.post(path, json=body, headers=headers)
    assert retry.status_code == 200, retry.text
    assert "Mario" in retry.text  # the backend's answer reached the caller
    again = http.post(path, json=body, headers=headers)
    assert again.content == retry.content
    assert slow_backend.calls - before == 1, "the turn ran twice: the backend was called again"


def test_concurrent_copies_of_one_request_call_the_backend_once(
    http: httpx.Client, slow_backend: SlowBackend
) -> None:
    sid, body = _at_the_card_digits(http)
    before = slow_backend.calls
    path, headers = f"/v1/sessions/{sid}/events", {"Idempotency-Key": f"{sid}-same"}
    answers = post_at_once([(http, path, body, headers)] * 3)
    assert [a.status_code for a in answers] == [200] * 3, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert slow_backend.calls - before == 1


def test_concurrent_different_requests_still_get_one_turn_and_seq_conflicts(
    http: httpx.Client, slow_backend: SlowBackend
) -> None:
    sid, body = _at_the_card_digits(http)
    before = slow_backend.calls
    path = f"/v1/sessions/{sid}/events"
    answers = post_at_once(
        [(http, path, body, {"Idempotency-Key": f"{sid}-other-{i}"}) for i in range(3)]
    )
    assert sorted(a.status_code for a in answers) == [200, 409, 409], [a.text for a in answers]
    conflicts = [a.json()["error"] for a in answers if a.status_code == 409]
    assert {c["code"] for c in conflicts} == {"seq_conflict"}
    assert slow_backend.calls - before == 1
