"""Two API processes behind one load balancer (the compose file runs two): a request
retried on the other process while the first attempt still waits for its backend does not
call the backend again.

Within a process, requests of one session run one after the other (``SessionQueue``); across
processes only the store's compare-and-set kept one turn — the effects of both attempts
had run (the bank's ``block_card`` would block twice, an SMS would go twice). Now the first
request to reach a turn's effects claims them in the session store (Redis ``SET NX``) and
the other waits for that turn: a retry gets its answer, another request a 409.

Real Redis, RabbitMQ and the MongoDB-wire server; two uvicorn servers with their own
runtimes; the backend is a real slow HTTP server on loopback that counts its calls.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from compiler import compile_project
from runtime.effects import EffectExecutor
from tests.runtime._mongo_helpers import drop_mongo_db
from tests.runtime.api.conftest import server_settings, upload
from tests.runtime.api.harness import ApiServer, client, post_at_once
from tests.runtime.api.slow_backend import BANK, VERIFY_URL, SlowBackend


@pytest.fixture(scope="module")
def two(
    tmp_path_factory: pytest.TempPathFactory,
    slow_backend: SlowBackend,
    redis_url: str,
    amqp_url: str,
    mongo_url: str,
) -> Iterator[tuple[httpx.Client, httpx.Client, str]]:
    project = tmp_path_factory.mktemp("claim") / "bank"
    shutil.copytree(BANK, project)
    flow = project / "flow.yaml"
    flow.write_text(flow.read_text().replace(VERIFY_URL, slow_backend.url))
    result = compile_project(project)
    assert result.ok and result.program is not None
    settings = server_settings(redis_url, amqp_url, mongo_url)  # one deployment, two processes
    servers = [ApiServer(settings).start(), ApiServer(settings).start()]
    executors = [EffectExecutor(), EffectExecutor()]  # the real ones: HTTP to the backend
    for server, executor in zip(servers, executors, strict=True):
        server.controls.stubs = executor  # type: ignore[assignment]
    try:
        with client(servers[0]) as a, client(servers[1]) as b:
            pids = {upload(h, result.program.model_dump(mode="json")) for h in (a, b)}
            (pid,) = pids
            yield a, b, pid
    finally:
        for server, executor in zip(servers, executors, strict=True):
            server.run_in_server(executor.aclose())
            server.stop()
        drop_mongo_db(mongo_url, settings.mongo_db)


def _at_the_card_digits(http: httpx.Client, pid: str) -> tuple[str, dict[str, Any]]:
    """A voice session that has its date of birth: the digits turn calls the backend."""
    start = http.post("/v1/sessions", json={"program": pid, "channel": "voice"})
    assert start.status_code == 201, start.text
    sid = start.json()["session_id"]
    r = http.post(
        f"/v1/sessions/{sid}/events",
        json={"event": "user_input", "text": "12 marzo 1980", "seq": start.json()["seq"]},
    )
    assert r.status_code == 200, r.text
    return sid, {"event": "user_input", "text": "1 2 3 4", "seq": r.json()["seq"]}


def test_a_retry_on_the_other_process_waits_for_the_first_attempt(
    two: tuple[httpx.Client, httpx.Client, str], slow_backend: SlowBackend
) -> None:
    a, b, pid = two
    sid, body = _at_the_card_digits(a, pid)
    before = slow_backend.calls
    path, headers = f"/v1/sessions/{sid}/events", {"Idempotency-Key": f"{sid}-digits"}
    with pytest.raises(httpx.TimeoutException):  # the backend takes 1.5 s
        a.post(path, json=body, headers=headers, timeout=0.3)
    retry = b.post(path, json=body, headers=headers)  # the load balancer chose the other
    assert retry.status_code == 200, retry.text
    assert "Mario" in retry.text  # the first attempt's backend answer reached the caller
    assert a.post(path, json=body, headers=headers).content == retry.content
    assert slow_backend.calls - before == 1, "the turn's backend was called by both processes"


def test_different_requests_on_two_processes_run_the_backend_once(
    two: tuple[httpx.Client, httpx.Client, str], slow_backend: SlowBackend
) -> None:
    a, b, pid = two
    sid, body = _at_the_card_digits(a, pid)
    before = slow_backend.calls
    path = f"/v1/sessions/{sid}/events"
    answers = post_at_once(
        [(h, path, body, {"Idempotency-Key": f"{sid}-other-{i}"}) for i, h in enumerate((a, b))]
    )
    assert sorted(x.status_code for x in answers) == [200, 409], [x.text for x in answers]
    (conflict,) = [x.json()["error"] for x in answers if x.status_code == 409]
    assert conflict["code"] == "seq_conflict"
    assert slow_backend.calls - before == 1
