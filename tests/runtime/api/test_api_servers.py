"""With Redis + RabbitMQ + the MongoDB-wire server: readiness, races decided by Redis'
compare-and-set, tenants on Redis keys, turns read back from MongoDB, recovery of a session
Redis lost or holds at an older seq (and a 503 when MongoDB is behind the channel), the
shared rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtime.api import ApiSettings
from runtime.worker import Worker
from tests.runtime.api.conftest import KEY_A, KEY_B, KEYS, server_settings, upload
from tests.runtime.api.harness import ApiServer, client
from tests.runtime.api.test_api_errors import _concurrent, assert_error, say

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def worker(with_servers: ApiServer) -> Iterator[Worker]:
    """The turn worker (RabbitMQ → MongoDB) on the API server's event loop."""
    rt = with_servers.runtime
    assert rt is not None and rt.mongo is not None
    w = Worker(rt.settings.amqp_url or "", rt.mongo, queue=rt.settings.queue)
    loop = with_servers.loop
    assert loop is not None
    done = asyncio.run_coroutine_threadsafe(w.run(), loop)
    deadline = time.monotonic() + 20
    while not w.ready.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert w.ready.is_set(), "the worker did not start"
    try:
        yield w
    finally:
        loop.call_soon_threadsafe(w.stop)
        done.result(timeout=20)


@pytest.fixture(scope="module")
def a(with_servers: ApiServer) -> Iterator[httpx.Client]:
    with client(with_servers, KEY_A) as http:
        yield http


@pytest.fixture(scope="module")
def program(a: httpx.Client, programs: dict[str, dict[str, Any]]) -> str:
    return upload(a, programs["bank_card_block"])


def start(a: httpx.Client, program: str) -> dict[str, Any]:
    r = a.post("/v1/sessions", json={"program": program, "language": "it"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_readyz_checks_every_server(a: httpx.Client) -> None:
    r = a.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"redis": "ok", "rabbitmq": "ok", "mongodb": "ok"}


def test_concurrent_turns_on_redis(with_servers: ApiServer, a: httpx.Client, program: str) -> None:
    for _ in range(5):
        sid = start(a, program)["session_id"]
        codes = sorted(r.status_code for r in _concurrent(with_servers, sid, ["k1", "k2", "k3"]))
        assert codes == [200, 409, 409]
        sid = start(a, program)["session_id"]
        same = _concurrent(with_servers, sid, ["same", "same"], same_body=True)
        assert [r.status_code for r in same] == [200, 200]
        assert same[0].content == same[1].content
        # one key, two different events at once: one runs, the other is refused
        sid = start(a, program)["session_id"]
        reused = _concurrent(with_servers, sid, ["same", "same"])
        assert sorted(r.status_code for r in reused) == [200, 422], [r.text for r in reused]
        loser = next(r for r in reused if r.status_code == 422)
        assert_error(loser, 422, "idempotency_key_reused")


def test_tenants_on_redis(with_servers: ApiServer, a: httpx.Client, program: str) -> None:
    sid = start(a, program)["session_id"]
    with client(with_servers, KEY_B) as b:
        assert_error(b.get(f"/v1/sessions/{sid}"), 404, "session_not_found")
        assert_error(
            b.post(f"/v1/sessions/{sid}/events", json=say("x", 1)), 404, "session_not_found"
        )
        assert_error(b.get(f"/v1/programs/{program}"), 404, "program_not_found")


def _mongo_turns(server: ApiServer, tenant: str, sid: str) -> int:
    rt = server.runtime
    assert rt is not None and rt.mongo is not None
    result: int = server.run_in_server(rt.mongo.count_turns(tenant, sid))
    return result


def _wait_mongo(server: ApiServer, tenant: str, sid: str, seq: int) -> None:
    """Until MongoDB holds turns 1..seq (critical ones come directly, the rest via the
    worker)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _mongo_turns(server, tenant, sid) >= seq:
            return
        time.sleep(0.05)
    raise AssertionError(f"MongoDB never reached seq {seq} of {sid}")


def test_turns_from_mongodb_and_recovery_after_redis_lost_the_session(
    with_servers: ApiServer, worker: Worker, a: httpx.Client, program: str
) -> None:
    s = start(a, program)
    sid = s["session_id"]
    r = a.post(f"/v1/sessions/{sid}/events", json=say("sono nato il 12 marzo 1980", s["seq"]))
    assert r.status_code == 200, r.text
    seq = r.json()["seq"]
    _wait_mongo(with_servers, "acme", sid, seq)
    turns = a.get(f"/v1/sessions/{sid}/turns").json()["turns"]
    assert [t["seq"] for t in turns] == list(range(1, seq + 1))
    assert turns[0]["event"]["type"] == "start"

    rt = with_servers.runtime
    assert rt is not None
    with_servers.run_in_server(rt.base_store.delete("acme", sid))
    r = a.post(f"/v1/sessions/{sid}/events", json=say("uno due tre quattro", seq))
    assert r.status_code == 200, r.text
    state = a.get(f"/v1/sessions/{sid}").json()["state"]
    assert state["memory"]["customer"]["birth_date"] == "1980-03-12"
    assert state["memory"]["card"]["last4"] == "1234"


def test_recovery_behind_the_channel_is_503(
    with_servers: ApiServer, worker: Worker, a: httpx.Client, program: str
) -> None:
    s = start(a, program)
    sid = s["session_id"]
    _wait_mongo(with_servers, "acme", sid, s["seq"])
    rt = with_servers.runtime
    assert rt is not None
    with_servers.run_in_server(rt.base_store.delete("acme", sid))
    # the channel claims a seq MongoDB does not have (its turns "still in the queue")
    r = a.post(f"/v1/sessions/{sid}/events", json=say("ciao", s["seq"] + 3))
    err = assert_error(r, 503, "unavailable")
    assert r.headers["retry-after"] == "1"
    assert err["details"]["channel_seq"] == s["seq"] + 3


def test_a_channel_ahead_of_the_store_is_never_answered_from_the_older_state(
    with_servers: ApiServer, worker: Worker, a: httpx.Client, program: str
) -> None:
    """Redis holds the session at an older seq than the channel saw (a failover lost its
    last writes). Nothing newer in MongoDB: 503 (retry), not a turn on the older state.
    (Recovery from MongoDB when it has the newer turns: tests/runtime/test_faults_driver.)"""
    s = start(a, program)
    sid = s["session_id"]
    _wait_mongo(with_servers, "acme", sid, s["seq"])
    r = a.post(f"/v1/sessions/{sid}/events", json=say("ciao", s["seq"] + 2))
    err = assert_error(r, 503, "unavailable")
    assert err["details"]["channel_seq"] == s["seq"] + 2
    assert err["details"]["mongo_seq"] == s["seq"]
    assert a.get(f"/v1/sessions/{sid}").json()["state"]["seq"] == s["seq"]  # untouched
    r = a.post(f"/v1/sessions/{sid}/events", json=say("ciao", s["seq"] - 1))
    assert_error(r, 409, "seq_conflict")  # a channel behind the store: a conflict, as ever


def test_unknown_session_with_mongodb(a: httpx.Client) -> None:
    assert_error(a.get("/v1/sessions/never-seen"), 404, "session_not_found")
    assert_error(a.get("/v1/sessions/never-seen/turns"), 404, "session_not_found")


def test_rate_limit_shared_through_redis(redis_url: str, amqp_url: str, mongo_url: str) -> None:
    settings = server_settings(redis_url, amqp_url, mongo_url)
    api = ApiSettings(rate_limit_per_s=3)
    one = ApiServer(settings, keys=KEYS, api=api).start()
    two = ApiServer(settings, keys=KEYS, api=api).start()
    try:
        with client(one, KEY_A) as h1, client(two, KEY_A) as h2, client(one, KEY_B) as other:
            codes = []
            for _ in range(6):
                codes += [h1.get("/v1/programs").status_code, h2.get("/v1/programs").status_code]
            assert 429 in codes
            # another tenant has its own budget
            assert other.get("/v1/programs").status_code == 200
    finally:
        one.stop()
        two.stop()


def test_two_instances_share_programs_aliases_and_sessions(
    redis_url: str, amqp_url: str, mongo_url: str, programs: dict[str, dict[str, Any]]
) -> None:
    settings = server_settings(redis_url, amqp_url, mongo_url)
    one = ApiServer(settings, keys=KEYS).start()
    two = ApiServer(settings, keys=KEYS).start()
    try:
        with client(one, KEY_A) as h1, client(two, KEY_A) as h2:
            pid = upload(h1, programs["bank_card_block"])
            assert h1.put("/v1/aliases/cards@live", json={"program_id": pid}).status_code == 200
            # instance two never saw the upload: MongoDB holds the program and the alias
            listed = h2.get("/v1/programs").json()
            assert [p["id"] for p in listed["programs"]] == [pid]
            assert listed["aliases"] == {"cards@live": pid}
            s = h1.post("/v1/sessions", json={"program": "cards@live", "language": "it"}).json()
            # a turn served by the instance that has not loaded the program yet
            r = h2.post(
                f"/v1/sessions/{s['session_id']}/events",
                json=say("sono nato il 12 marzo 1980", s["seq"]),
            )
            assert r.status_code == 200, r.text
            assert r.json()["program_id"] == pid
            s2 = h2.post("/v1/sessions", json={"program": "cards@live"})
            assert s2.status_code == 201 and s2.json()["program_id"] == pid
    finally:
        one.stop()
        two.stop()
