"""``ddtflow erase``: on Redis + MongoDB (real servers), on a JSONL log, twice, unknown and
other tenants' sessions, a server that went away, bad input; and ``ddtflow replay`` of an
erased session says so."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from runtime.cli import _register, app
from runtime.erasure import SessionErasedError
from runtime.mongo import MongoArchive
from runtime.ports import encode_records
from runtime.sinks.jsonl import JsonlSink
from runtime.stores.redis import RedisStore, session_key
from tests.runtime._mongo_helpers import drop_mongo_db
from tests.runtime.contract.helpers import counter_session
from tests.runtime.test_store_mongo import LEAKY_CLIENT
from tests.servers import free_port, redis_command

_register()


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def redis_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@pytest.fixture
def db(mongo_url: str) -> Iterator[str]:
    name = f"erase_{uuid.uuid4().hex[:8]}"
    yield name
    drop_mongo_db(mongo_url, name)


async def seed(redis_url: str, mongo_url: str, db: str, tenant: str, sid: str, n: int) -> None:
    """A session as the stack holds it: its state in Redis, its turns and snapshot in
    MongoDB."""
    _, records = counter_session(n, session_id=sid, tenant=tenant)
    mongo = MongoArchive.from_url(mongo_url, db)
    store = RedisStore.from_url(redis_url)
    try:
        await mongo.write_batch(records)
        last = records[-1].state
        assert last is not None
        await store.save(last, expected_seq=None, record=encode_records(records[-1:]))
    finally:
        await mongo.close()
        await store.close()


async def held(redis_url: str, mongo_url: str, db: str, tenant: str, sid: str) -> tuple:
    mongo = MongoArchive.from_url(mongo_url, db)
    store = RedisStore.from_url(redis_url)
    try:
        try:
            live = await store.load(tenant, sid) is not None
        except SessionErasedError:
            live = False
        return (
            live,
            await mongo.count_turns(tenant, sid),
            await mongo.snapshot(tenant, sid) is not None,
            await mongo.tombstone(tenant, sid),
        )
    finally:
        await mongo.close()
        await store.close()


def test_erase_from_redis_and_mongodb(redis_url: str, mongo_url: str, db: str) -> None:
    gone, keep, other = (f"s-{uuid.uuid4().hex[:10]}" for _ in range(3))
    asyncio.run(seed(redis_url, mongo_url, db, "acme", gone, 5))
    asyncio.run(seed(redis_url, mongo_url, db, "acme", keep, 3))
    asyncio.run(seed(redis_url, mongo_url, db, "globex", other, 2))
    args = ("--tenant", "acme", "--redis", redis_url, "--mongo", mongo_url, "--mongo-db", db)

    code, out, err = cli("erase", gone, *args)
    assert code == 0, (out, err)
    assert f"session {gone} (tenant acme): erased at " in out
    assert "live state       1 removed  (redis://" in out
    assert "turns            5 removed  (mongodb " in out
    assert "snapshots        1 removed  (mongodb " in out
    assert "total            7 removed" in out
    live, turns, snap, erased_at = asyncio.run(held(redis_url, mongo_url, db, "acme", gone))
    assert (live, turns, snap) == (False, 0, False) and erased_at is not None
    assert asyncio.run(held(redis_url, mongo_url, db, "acme", keep))[:3] == (True, 3, True)

    # twice: fine, says so; --json for the record
    code, out, err = cli("erase", gone, *args, "--json")
    assert code == 0, err
    doc = orjson.loads(out)
    (rep,) = doc["sessions"]
    assert rep["already_erased"] is True and rep["total_removed"] == 0
    assert rep["erased_at"] == erased_at.isoformat()
    assert {r["what"] for r in rep["removed"]} == {"live state", "turns", "snapshots"}

    # replay from MongoDB says "erased at …", not "no session"
    code, out = _replay(gone, "--mongo", mongo_url, "--mongo-db", db, "--tenant", "acme")
    assert code == 1
    assert f"session '{gone}' of tenant 'acme' was erased at {erased_at.isoformat()}" in out

    # another tenant's session, an unknown one: named, exit 1, the others still erased
    code, out, err = cli("erase", other, "nope-never", keep, *args)
    assert code == 1
    assert f"no session '{other}' for tenant 'acme'" in err
    assert "no session 'nope-never' for tenant 'acme'" in err
    assert f"session {keep} (tenant acme): erased at" in out
    assert asyncio.run(held(redis_url, mongo_url, db, "globex", other))[:3] == (True, 2, True)


def test_the_settings_env_is_used_without_flags(
    redis_url: str, mongo_url: str, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = f"s-{uuid.uuid4().hex[:10]}"
    asyncio.run(seed(redis_url, mongo_url, db, "acme", sid, 2))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("MONGO_URL", mongo_url)
    monkeypatch.setenv("DDTFLOW_MONGO_DB", db)
    code, out, err = cli("erase", sid, "--tenant", "acme")
    assert code == 0, err
    assert "turns            2 removed" in out and "live state       1 removed" in out


@LEAKY_CLIENT  # PyMongo leaves the socket of a refused connection to the GC
def test_a_server_that_went_away(redis_url: str, mongo_url: str, db: str) -> None:
    sid = f"s-{uuid.uuid4().hex[:10]}"
    asyncio.run(seed(redis_url, mongo_url, db, "acme", sid, 3))
    dead_mongo = f"mongodb://127.0.0.1:{free_port()}/"
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"

    # MongoDB down: not even the tombstone; nothing is reported as done
    code, out, err = cli(
        "erase", sid, "--tenant", "acme", "--redis", redis_url, "--mongo", dead_mongo
    )
    assert code == 1 and out == ""
    assert "incomplete: reading the tombstone" in err and "removed so far: nothing" in err
    assert "Traceback" not in err
    assert asyncio.run(held(redis_url, mongo_url, db, "acme", sid))[:3] == (True, 3, True)
    gc.collect()  # that leak collected here, in this test, not in a later one

    # Redis down: the tombstone is written, the live state is named as not removed, exit 1
    code, out, err = cli(
        "erase", sid, "x-next", "--tenant", "acme", "--redis", dead_redis, "--mongo", mongo_url,
        "--mongo-db", db,
    )  # fmt: skip
    assert code == 1 and out == ""
    assert "incomplete: removing the live state (redis://" in err
    assert "the tombstone is written" in err and "removed so far: nothing" in err
    assert "not attempted: x-next" in err
    live, turns, snap, erased_at = asyncio.run(held(redis_url, mongo_url, db, "acme", sid))
    assert (live, turns, snap) == (True, 3, True) and erased_at is not None
    # the rerun finishes it (the tombstone was there: "already erased")
    code, out, err = cli(
        "erase", sid, "--tenant", "acme", "--redis", redis_url, "--mongo", mongo_url,
        "--mongo-db", db,
    )  # fmt: skip
    assert code == 0, err
    assert "already erased at" in out and "turns            3 removed" in out
    assert asyncio.run(held(redis_url, mongo_url, db, "acme", sid))[:3] == (False, 0, False)


def write_log(path: Path, sessions: dict[tuple[str, str], int]) -> None:
    async def run() -> None:
        sink = JsonlSink(path)
        try:
            recs = [
                counter_session(n, session_id=sid, tenant=tenant)[1]
                for (tenant, sid), n in sessions.items()
            ]
            for i in range(max(len(r) for r in recs)):  # interleaved, as a server writes
                for r in recs:
                    if i < len(r):
                        await sink.publish(r[i])
        finally:
            await sink.close()

    asyncio.run(run())


def test_erase_from_a_jsonl_log(tmp_path: Path) -> None:
    log = tmp_path / "day.jsonl"
    write_log(log, {("acme", "s-gone"): 4, ("acme", "s-keep"): 3, ("globex", "s-other"): 2})
    before = log.read_bytes()
    log.chmod(0o640)

    code, out, err = cli("erase", "s-gone", "--tenant", "acme", "--log", str(log))
    assert code == 0, err
    assert "log lines        4 removed  (jsonl " in out
    after = log.read_bytes()
    kept = [
        x
        for x in before.splitlines(keepends=True)
        if not (orjson.loads(x)["session_id"] == "s-gone" and orjson.loads(x)["tenant"] == "acme")
    ]
    assert after == b"".join(kept)  # the rest byte-identical, in order; globex's kept
    assert oct(log.stat().st_mode & 0o777) == "0o640"
    tomb = orjson.loads((tmp_path / "erasures.jsonl").read_bytes())
    assert set(tomb) == {"tenant", "session_id", "erased_at"}

    code, out, _ = cli("erase", "s-gone", "--tenant", "acme", "--log", str(log))
    assert code == 0 and "already erased at" in out and log.read_bytes() == after

    # replay says "erased at …", not "unknown session"
    code, out = _replay(str(log), "--tenant", "acme", "--session", "s-gone")
    assert (
        code == 1 and f"session 's-gone' of tenant 'acme' was erased at {tomb['erased_at']}" in out
    )

    code, _, err = cli("erase", "s-none", "--tenant", "acme", "--log", str(log))
    assert code == 1 and "no session 's-none' for tenant 'acme' in " in err


def _replay(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["replay", *args], catch_exceptions=False)
    return r.exit_code, r.output


def test_a_log_a_running_process_writes_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "turns.jsonl"
    write_log(log, {("acme", "s-1"): 2})
    before = log.read_bytes()

    async def hold_and_erase() -> tuple[int, str, str]:
        sink = JsonlSink(log)
        _, recs = counter_session(1, session_id="s-2", tenant="acme")
        await sink.publish(*recs)  # the sink now holds the log open
        try:
            return await asyncio.to_thread(
                cli, "erase", "s-1", "--tenant", "acme", "--log", str(log)
            )
        finally:
            await sink.close()

    code, out, err = asyncio.run(hold_and_erase())
    assert code == 1 and "is open for writing by a running process" in err
    assert log.read_bytes().startswith(before)  # untouched (plus the sink's own line)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["s-1", "--tenant", "acme"], "erase needs the archive"),
        (
            ["s-1", "--tenant", "acme", "--redis", "redis://127.0.0.1:1/0"],
            "erase needs the archive",
        ),
        (["bad id!", "--tenant", "acme", "--log", "x.jsonl"], "not a session id"),
        (["s-1", "--tenant", "no tenant", "--log", "x.jsonl"], "not a tenant name"),
        (["s-1", "--tenant", "acme", "--log", "missing.jsonl"], "no such file"),
        (["s-1", "--tenant", "acme", "--mongo", "http://nope"], "--mongo: not a usable"),
    ],
)
def test_bad_input_is_one_line(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("REDIS_URL", "MONGO_URL", "DDTFLOW_REDIS_URL", "DDTFLOW_MONGO_URL"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "x.jsonl").write_bytes(b"")
    code, out, err = cli("erase", *args)
    assert code == 1 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_redis_marker_blocks_a_start_racing_the_erasure(redis_url: str) -> None:
    """A start that read "no such session" before the erasure cannot save after it."""
    sid = f"s-{uuid.uuid4().hex[:10]}"
    _, records = counter_session(1, session_id=sid, tenant="acme")
    state = records[0].state
    assert state is not None

    async def run() -> None:
        store = RedisStore.from_url(redis_url)
        try:
            assert await store.erase("acme", sid, datetime.now(UTC)) is None
            with pytest.raises(SessionErasedError):
                await store.save(state, expected_seq=None)
            with pytest.raises(SessionErasedError):
                await store.load("acme", sid)
        finally:
            await store.close()

    asyncio.run(run())
    ttl = redis_command(redis_port(redis_url), "PTTL", session_key("acme", sid))
    assert isinstance(ttl, int) and ttl > 0
