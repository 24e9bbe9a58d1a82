"""``DELETE /v1/sessions/{id}``: erasure on request (GDPR art. 17) over real HTTP — on the
embedded default (memory store, JSONL log) and on Redis + RabbitMQ + the MongoDB-wire
server with a real worker, including the race of turns still in the queue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from runtime.api import ApiSettings
from runtime.api.auth import hash_key
from runtime.mongo import MongoArchive
from runtime.settings import Settings
from runtime.stores.redis import session_key
from runtime.worker import Worker, WorkerStats
from tests.runtime._mongo_helpers import drop_mongo_db
from tests.runtime.api.conftest import server_settings, upload
from tests.runtime.api.harness import ApiServer, client
from tests.servers import redis_command

KEY_ADMIN = "erase-test-admin-key-0001"
KEY_CHANNEL = "erase-test-channel-key-0002"
KEY_ERASER = "erase-test-eraser-key-0003"
KEY_OTHER = "erase-test-other-tenant-04"
KEYS: dict[str, Any] = {
    "acme": {
        "admin": [hash_key(KEY_ADMIN)],
        "channel": [hash_key(KEY_CHANNEL)],
        "erase": [hash_key(KEY_ERASER)],
    },
    "globex": [hash_key(KEY_OTHER)],
}


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert "Traceback" not in r.text
    return dict(body["error"])


def start(http: httpx.Client, program: str, **extra: Any) -> dict[str, Any]:
    r = http.post("/v1/sessions", json={"program": program, "language": "en", **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def say(http: httpx.Client, sid: str, text: str, seq: int) -> httpx.Response:
    body = {"event": "user_input", "text": text, "seq": seq}
    return http.post(f"/v1/sessions/{sid}/events", json=body)


def converse(http: httpx.Client, program: str, **extra: Any) -> dict[str, Any]:
    """A session two turns long (start, then the birth date: a DDT completed, a critical
    turn), waiting for the card's digits."""
    turn = start(http, program, **extra)
    r = say(http, turn["session_id"], "the 12th of March 1980", turn["seq"])
    assert r.status_code == 200 and r.json()["status"] == "waiting_input", r.text
    return dict(r.json())


def removed(report: dict[str, Any]) -> dict[str, int]:
    return {f"{x['store']}:{x['what']}": x["count"] for x in report["removed"]}


# -- the embedded default -------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded_keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    data = tmp_path_factory.mktemp("erase")
    settings = Settings(REDIS_URL=None, AMQP_URL=None, MONGO_URL=None, data_dir=data)
    server = ApiServer(settings, keys=KEYS, api=ApiSettings(rate_limit_per_s=0)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin(embedded_keyed: ApiServer) -> Iterator[httpx.Client]:
    with client(embedded_keyed, KEY_ADMIN) as http:
        yield http


@pytest.fixture(scope="module")
def program(admin: httpx.Client, programs: dict[str, dict[str, Any]]) -> str:
    return upload(admin, programs["bank_card_block"])


def log_path(server: ApiServer) -> Path:
    assert server.runtime is not None and server.runtime.turn_log is not None
    return server.runtime.turn_log


def log_lines(server: ApiServer) -> list[bytes]:
    return log_path(server).read_bytes().splitlines(keepends=True)


def lines_of(lines: list[bytes], sid: str) -> list[bytes]:
    return [x for x in lines if orjson.loads(x)["session_id"] == sid]


def test_erase_a_live_session_on_the_embedded_default(
    embedded_keyed: ApiServer, admin: httpx.Client, program: str
) -> None:
    keep = converse(admin, program)
    gone = converse(admin, program)
    sid = gone["session_id"]
    before = log_lines(embedded_keyed)
    assert len(lines_of(before, sid)) == gone["seq"]

    r = admin.delete(f"/v1/sessions/{sid}")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["session_id"] == sid and report["tenant"] == "acme"
    assert report["erased"] is True and report["already_erased"] is False
    assert removed(report) == {"memory:live state": 1, "jsonl:log lines": gone["seq"]}
    assert report["total_removed"] == 1 + gone["seq"]

    # the log: the session's lines gone, every other byte as it was, in order
    after = log_lines(embedded_keyed)
    assert after == [x for x in before if x not in lines_of(before, sid)]
    assert sid.encode() not in log_path(embedded_keyed).read_bytes()
    # the tombstone holds no caller data
    tomb = (log_path(embedded_keyed).parent / "erasures.jsonl").read_bytes()
    assert set(orjson.loads(tomb.splitlines()[-1])) == {"tenant", "session_id", "erased_at"}

    # a turn afterwards: 410, not a new session; every read says "erased at …"
    err = assert_error(say(admin, sid, "hello", gone["seq"]), 410, "session_erased")
    assert f"session {sid!r} was erased at {report['erased_at']}" == err["message"]
    assert err["details"]["erased_at"] == report["erased_at"]
    for path in ("", "/turns", "/replay", "/export?format=text"):
        assert_error(admin.get(f"/v1/sessions/{sid}{path}"), 410, "session_erased")
    # a start that reuses the id (the call id) does not bring it back
    assert_error(
        admin.post("/v1/sessions", json={"program": program, "session_id": sid}),
        410,
        "session_erased",
    )
    # the other session goes on
    r = say(admin, keep["session_id"], "4471", keep["seq"])
    assert r.status_code == 200, r.text
    assert lines_of(log_lines(embedded_keyed), keep["session_id"])

    # erasing twice: fine, says so, nothing more to remove
    again = admin.delete(f"/v1/sessions/{sid}")
    assert again.status_code == 200, again.text
    assert again.json()["already_erased"] is True
    assert again.json()["erased_at"] == report["erased_at"]
    assert again.json()["total_removed"] == 0


def test_erase_an_ended_session_on_the_embedded_default(
    embedded_keyed: ApiServer, admin: httpx.Client, program: str
) -> None:
    turn = start(admin, program)
    r = admin.post(
        f"/v1/sessions/{turn['session_id']}/events", json={"event": "hangup", "seq": turn["seq"]}
    )
    assert r.status_code == 200 and r.json()["status"] != "waiting_input", r.text
    rep = admin.delete(f"/v1/sessions/{turn['session_id']}").json()
    assert removed(rep)["jsonl:log lines"] == r.json()["seq"]


def test_unknown_and_other_tenants_sessions_are_404(
    embedded_keyed: ApiServer, admin: httpx.Client, program: str
) -> None:
    assert_error(admin.delete("/v1/sessions/no-such-session"), 404, "session_not_found")
    assert_error(admin.delete("/v1/sessions/bad%20id!"), 404, "session_not_found")
    mine = converse(admin, program)
    with client(embedded_keyed, KEY_OTHER) as other:
        err = assert_error(
            other.delete(f"/v1/sessions/{mine['session_id']}"), 404, "session_not_found"
        )
    assert "acme" not in err["message"]
    r = say(admin, mine["session_id"], "4471", mine["seq"])  # untouched
    assert r.status_code == 200, r.text


def test_only_admin_and_erase_keys_may_erase(
    embedded_keyed: ApiServer, admin: httpx.Client, program: str
) -> None:
    turn = start(admin, program)
    sid = turn["session_id"]
    with client(embedded_keyed, KEY_CHANNEL) as channel:
        assert_error(channel.delete(f"/v1/sessions/{sid}"), 403, "forbidden")
    with client(embedded_keyed) as anonymous:
        assert_error(anonymous.delete(f"/v1/sessions/{sid}"), 401, "unauthorized")
    with client(embedded_keyed, KEY_ERASER) as eraser:
        assert eraser.post("/v1/programs", json={"program": {}}).status_code == 403
        # an erase key drives sessions too (a channel relaying the caller's request)
        mine = start(eraser, program)
        r = eraser.delete(f"/v1/sessions/{mine['session_id']}")
        assert r.status_code == 200, r.text
        r = eraser.delete(f"/v1/sessions/{sid}")
        assert r.status_code == 200, r.text


def test_a_websocket_of_an_erased_session_closes_4410(
    embedded_keyed: ApiServer, admin: httpx.Client, program: str
) -> None:
    """Erased while a chat socket is open: the next message gets the 410 error, then the
    socket closes 4410 (it stayed open, as after a bad message); connecting afterwards
    closes 4410 at once. Before, both closed 1011, an internal error."""
    sid = converse(admin, program)["session_id"]
    url = embedded_keyed.url.replace("http://", "ws://") + f"/v1/sessions/{sid}/ws"
    headers = {"Authorization": f"Bearer {KEY_ADMIN}"}
    with ws_connect(url, additional_headers=headers) as ws:
        seq = orjson.loads(ws.recv(timeout=10))["seq"]
        assert admin.delete(f"/v1/sessions/{sid}").status_code == 200
        ws.send(orjson.dumps({"event": "user_input", "text": "1234", "seq": seq}).decode())
        err = orjson.loads(ws.recv(timeout=10))
        assert err["status"] == 410 and err["error"]["code"] == "session_erased", err
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410
    with ws_connect(url, additional_headers=headers) as ws:
        err = orjson.loads(ws.recv(timeout=10))
        assert (
            err["error"]["code"] == "session_erased" and "was erased at" in err["error"]["message"]
        )
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410


def _erased_counts(admin: httpx.Client) -> dict[str, float]:
    found = {}
    for line in admin.get("/metrics").text.splitlines():
        if line.startswith('ddtflow_sessions_erased_total{outcome="'):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('"')[1]] = float(value)
    return found


def test_metrics_count_erasures(
    embedded_keyed: ApiServer, admin: httpx.Client, program: str
) -> None:
    # on its own: it read counters that other tests of this file had moved, and failed
    # when pytest-xdist ran those on another worker
    before = _erased_counts(admin)
    sid = start(admin, program)["session_id"]
    assert admin.delete(f"/v1/sessions/{sid}").status_code == 200
    assert admin.delete(f"/v1/sessions/{sid}").status_code == 200  # already erased
    assert admin.delete(f"/v1/sessions/{uuid.uuid4().hex}").status_code == 404
    after = _erased_counts(admin)
    for outcome in ("erased", "already_erased", "not_found"):
        assert after[outcome] == before.get(outcome, 0.0) + 1, (outcome, before, after)


def test_openapi_documents_the_route(admin: httpx.Client) -> None:
    spec = admin.get("/openapi.json").json()
    op = spec["paths"]["/v1/sessions/{session_id}"]["delete"]
    assert {"200", "403", "404", "410"} <= set(op["responses"])


# -- Redis + RabbitMQ + MongoDB, with the worker ----------------------------------------------


@pytest.fixture
def stack(redis_url: str, amqp_url: str, mongo_url: str) -> Iterator[tuple[ApiServer, Settings]]:
    settings = server_settings(redis_url, amqp_url, mongo_url)
    server = ApiServer(settings, keys=KEYS).start()
    try:
        yield server, settings
    finally:
        server.stop()
        drop_mongo_db(mongo_url, settings.mongo_db)


def redis_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


async def drain(settings: Settings, until: Any) -> WorkerStats:
    """Run a real worker on the server's queue until ``until(mongo)`` holds; its stats."""
    assert settings.amqp_url and settings.mongo_url
    mongo = MongoArchive.from_url(settings.mongo_url, settings.mongo_db)
    worker = Worker(settings.amqp_url, mongo, queue=settings.queue, batch=5)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        for _ in range(600):
            if await until(mongo):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # whatever else was in the queue
    finally:
        worker.stop()
        stats = await asyncio.wait_for(task, 30)
        await mongo.close()
    return stats


async def archive_of(settings: Settings, tenant: str, sid: str) -> dict[str, Any]:
    assert settings.mongo_url
    mongo = MongoArchive.from_url(settings.mongo_url, settings.mongo_db)
    try:
        return {
            "turns": await mongo.count_turns(tenant, sid),
            "snapshot": await mongo.snapshot(tenant, sid),
            "erased_at": await mongo.tombstone(tenant, sid),
        }
    finally:
        await mongo.close()


def test_erased_while_its_turns_are_in_the_queue(
    stack: tuple[ApiServer, Settings], programs: dict[str, dict[str, Any]], redis_url: str
) -> None:
    """No worker runs while the sessions talk: their records wait in RabbitMQ (the critical
    ones are in MongoDB already). Erase one; then the worker drains the queue: nothing of
    the erased session reaches MongoDB, the other session is complete."""
    server, settings = stack
    with client(server, KEY_ADMIN) as http:
        program = upload(http, programs["bank_card_block"])
        keep = converse(http, program, channel="voice")
        gone = converse(http, program, channel="voice", session_id=f"call-{uuid.uuid4().hex}")
        sid = gone["session_id"]
        r = http.delete(f"/v1/sessions/{sid}")
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["already_erased"] is False
        got = removed(report)
        assert got["redis:live state"] == 1
        assert got["mongodb:turns"] >= 1  # its critical turns were written before answering
        assert "jsonl:log lines" not in got
        # Redis holds the erased marker, nothing of the session
        raw = redis_command(redis_port(redis_url), "HGETALL", session_key("acme", sid))
        assert isinstance(raw, list) and raw[0] == b"erased" and len(raw) == 2

        stats = asyncio.run(
            drain(
                settings,
                lambda m: _has(m, "acme", keep["session_id"], keep["seq"]),
            )
        )
        assert stats.erased >= 1, stats  # the erased session's queued records were dropped
        after = asyncio.run(archive_of(settings, "acme", sid))
        assert after["turns"] == 0 and after["snapshot"] is None
        assert after["erased_at"] is not None
        assert after["erased_at"].isoformat() == report["erased_at"]
        other = asyncio.run(archive_of(settings, "acme", keep["session_id"]))
        assert other["turns"] == keep["seq"] and other["erased_at"] is None

        # a turn afterwards; the id reused for a start; reads: all 410 "erased at"
        err = assert_error(say(http, sid, "hello", gone["seq"]), 410, "session_erased")
        assert "was erased at" in err["message"]
        assert_error(
            http.post("/v1/sessions", json={"program": program, "session_id": sid}),
            410,
            "session_erased",
        )
        for path in ("", "/turns", "/replay", "/export"):
            assert_error(http.get(f"/v1/sessions/{sid}{path}"), 410, "session_erased")
        # once the Redis marker is gone (its TTL), the tombstone answers: no recovery
        redis_command(redis_port(redis_url), "DEL", session_key("acme", sid))
        assert_error(say(http, sid, "hello", gone["seq"]), 410, "session_erased")
        # the other session: recovered from MongoDB as ever when Redis loses it
        redis_command(redis_port(redis_url), "DEL", session_key("acme", keep["session_id"]))
        r = say(http, keep["session_id"], "4471", keep["seq"])
        assert r.status_code == 200, r.text

        again = http.delete(f"/v1/sessions/{sid}")
        assert again.status_code == 200 and again.json()["already_erased"] is True
        assert again.json()["total_removed"] == 0
        with client(server, KEY_OTHER) as other_tenant:
            assert_error(
                other_tenant.delete(f"/v1/sessions/{keep['session_id']}"), 404, "session_not_found"
            )
        assert_error(http.delete("/v1/sessions/never-was"), 404, "session_not_found")


async def _has(mongo: MongoArchive, tenant: str, sid: str, n: int) -> bool:
    return await mongo.count_turns(tenant, sid) >= n
