"""The persistence worker against real RabbitMQ and the MongoDB-wire server."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.mongo import MongoArchive, dumps
from runtime.ports import decode_records, encode_records
from runtime.worker import ERROR_HEADER, Worker, WorkerStats
from tests.runtime._amqp_helpers import (
    drain_dlq,
    publish_raw,
    publish_records,
    raw_channel,
    unique,
    wait_for_count,
)
from tests.runtime.contract.helpers import counter_session
from tests.servers import Servers, need

ROOT = Path(__file__).resolve().parents[2]


async def stopped(worker: Worker, task: asyncio.Task[WorkerStats]) -> WorkerStats:
    """Stop the worker and wait for it (idempotent): it finishes and acks the batch in
    hand. Called in ``finally`` too, so that a failed assertion does not leave the worker
    and its connection running past the test."""
    worker.stop()
    return await asyncio.wait_for(task, 30)


async def test_poison_messages_go_to_the_dlq_with_the_reason(
    amqp_url: str, mongo: MongoArchive
) -> None:
    queue = unique("q")
    _, records = counter_session(6, tenant="poison")
    worker = Worker(amqp_url, mongo, queue=queue, batch=10)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        async with raw_channel(amqp_url, queue) as ch:
            await publish_records(ch, queue, records[:3])  # one record per message
            await publish_raw(ch, queue, b'{"seq": 1, "trunc', message_id="bad-json")
            await publish_raw(ch, queue, orjson.dumps({"seq": "x"}), message_id="not-a-record")
            bad_batch = orjson.dumps([records[3].model_dump(mode="json"), {"seq": "x"}])
            await publish_raw(ch, queue, bad_batch, message_id="bad-batch")
            await publish_raw(ch, queue, encode_records(records[3:]))  # one request's records
            assert await wait_for_count(mongo, "poison", 6) == 6
            for _ in range(200):
                if worker.stats.poison == 3:
                    break
                await asyncio.sleep(0.05)
            await stopped(worker, task)
            dead = await drain_dlq(ch, queue)
    finally:
        await stopped(worker, task)
    reasons = {m.message_id: m.headers[ERROR_HEADER] for m in dead}
    assert set(reasons) == {"bad-json", "not-a-record", "bad-batch"}
    assert str(reasons["bad-json"]).startswith("not JSON:")
    assert str(reasons["not-a-record"]).startswith("not a turn record: ")
    assert str(reasons["bad-batch"]).startswith("not a turn record: record 1: ")
    assert [m.body for m in dead if m.message_id == "bad-json"] == [b'{"seq": 1, "trunc']
    assert worker.stats.written == 6


async def test_duplicate_delivery_stores_one_record(amqp_url: str, mongo: MongoArchive) -> None:
    queue = unique("q")
    _, records = counter_session(4, tenant="dup")
    async with raw_channel(amqp_url, queue) as ch:
        await publish_records(ch, queue, [*records, *records, records[2]])
    worker = Worker(amqp_url, mongo, queue=queue, batch=3)
    task = asyncio.create_task(worker.run())
    try:
        assert await wait_for_count(mongo, "dup", 4) == 4
        for _ in range(200):
            if worker.stats.written + worker.stats.duplicates == 9:
                break
            await asyncio.sleep(0.05)
    finally:
        stats = await stopped(worker, task)
    assert (stats.written, stats.duplicates) == (4, 5)
    assert await mongo.count_turns("dup") == 4


async def test_snapshot_is_never_replaced_by_an_older_state(
    amqp_url: str, mongo: MongoArchive
) -> None:
    queue = unique("q")
    _, records = counter_session(6, tenant="order")
    async with raw_channel(amqp_url, queue) as ch:
        # seq 6 arrives before 1..5 (e.g. two workers, or a redelivery)
        await publish_records(ch, queue, [records[5]])
        await publish_records(ch, queue, records[:5])
    worker = Worker(amqp_url, mongo, queue=queue, batch=1)
    task = asyncio.create_task(worker.run())
    try:
        assert await wait_for_count(mongo, "order", 6) == 6
    finally:
        await stopped(worker, task)  # the batch in hand (its snapshot too) is finished
    snap = await mongo.snapshot("order", records[0].session_id)
    assert snap == records[5].state


async def test_two_workers_in_parallel_write_everything_once(
    amqp_url: str, mongo: MongoArchive
) -> None:
    queue = unique("q")
    recs = [r for _ in range(10) for r in counter_session(20, tenant="par")[1]]
    workers = [Worker(amqp_url, mongo, queue=queue, prefetch=20, batch=10) for _ in range(2)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await asyncio.gather(*(asyncio.wait_for(w.ready.wait(), 30) for w in workers))
        async with raw_channel(amqp_url, queue) as ch:
            await publish_records(ch, queue, recs)
            await publish_records(ch, queue, recs[:50])  # redelivered duplicates
        assert await wait_for_count(mongo, "par", len(recs)) == len(recs)
        for _ in range(400):
            if sum(w.stats.written + w.stats.duplicates for w in workers) == len(recs) + 50:
                break
            await asyncio.sleep(0.05)
    finally:
        await asyncio.gather(*(stopped(w, t) for w, t in zip(workers, tasks, strict=True)))
    assert sum(w.stats.written for w in workers) == len(recs)
    assert all(w.stats.written > 0 for w in workers)  # both took part
    assert await mongo.count_turns("par") == len(recs)
    for sid in {r.session_id for r in recs}:
        snap = await mongo.snapshot("par", sid)
        assert snap is not None and snap.seq == 20


def _spawn_worker(
    amqp_url: str, mongo_url: str, db: str, queue: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "runtime._cli_worker", "worker"]
    argv += ["--amqp-url", amqp_url, "--mongo-url", mongo_url, "--db", db, "--queue", queue]
    argv += ["--batch", "50", "--prefetch", "100", *extra]
    with log.open("ab") as f:
        return subprocess.Popen(argv, cwd=ROOT, stdout=f, stderr=f, env=dict(os.environ))


async def test_worker_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(
    amqp_url: str, mongo_url: str, mongo: MongoArchive, tmp_path: Path
) -> None:
    queue = unique("q")
    db = mongo.db.name
    log = tmp_path / "worker.log"
    recs = [r for _ in range(20) for r in counter_session(30, tenant="kill")[1]]  # 600
    async with raw_channel(amqp_url, queue) as ch:
        await publish_records(ch, queue, recs)
    proc = _spawn_worker(amqp_url, mongo_url, db, queue, log)
    try:
        for _ in range(600):
            if await mongo.count_turns("kill") >= 100:
                break
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # a crash in the middle of the stream
        proc.wait(10)
        partial = await mongo.count_turns("kill")
        assert 100 <= partial < len(recs)
        proc = _spawn_worker(amqp_url, mongo_url, db, queue, log)
        assert await wait_for_count(mongo, "kill", len(recs)) == len(recs)
        proc.send_signal(signal.SIGTERM)  # graceful: finishes and exits 0
        proc.wait(30)
        assert proc.returncode == 0, log.read_text()
        stopped = re.compile(
            r"worker stopped: \d+ turns written, \d+ duplicates skipped, 0 dead-lettered, "
            r"0 of erased sessions dropped"
        )
        assert stopped.search(log.read_text()), log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert await mongo.count_turns("kill") == len(recs)
    docs = await mongo.turns.find({"tenant": "kill"}, {"_id": 1}).to_list(None)
    assert len({d["_id"] for d in docs}) == len(recs)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | st.builds(orjson.dumps, st.dictionaries(st.text(), st.integers(-(2**63), 2**63 - 1)))
    | st.builds(orjson.dumps, st.lists(st.dictionaries(st.text(), st.integers(-9, 9), max_size=3)))
)
def test_decode_records_accepts_records_and_names_anything_else(body: bytes) -> None:
    try:
        decode_records(body)
    except ValueError as exc:
        assert str(exc).startswith(
            ("not JSON: ", "not a turn record: ", "an empty list of turn records")
        )


def test_decode_records_round_trips_both_wire_forms() -> None:
    _, records = counter_session(3)
    assert [decode_records(dumps(r))[0] for r in records] == records  # one record per message
    assert decode_records(encode_records(records)) == records  # one request's records


def test_decode_records_names_the_bad_record_of_a_batch() -> None:
    _, records = counter_session(2)
    body = orjson.dumps([records[0].model_dump(mode="json"), {"seq": "x"}])
    with pytest.raises(ValueError, match=r"^not a turn record: record 1: "):
        decode_records(body)
    with pytest.raises(ValueError, match="empty list"):
        decode_records(b"[]")


@pytest.mark.filterwarnings(  # PyMongo's async client leaves refused sockets to the GC
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
def test_mongodb_down_mid_stream_is_retried_until_it_is_back(
    servers: Servers, amqp_url: str
) -> None:
    asyncio.run(_mongodb_down(servers, amqp_url))  # its own loop: gc finds the leak below
    gc.collect()


async def _mongodb_down(servers: Servers, amqp_url: str) -> None:
    own = need(servers.extra_mongo)
    assert own.server is not None
    mongo = MongoArchive.from_url(own.url, "retry", timeout_s=0.5)
    queue = unique("q")
    recs = [r for _ in range(6) for r in counter_session(20, tenant="retry")[1]]  # 120
    worker = Worker(amqp_url, mongo, queue=queue, batch=10, max_backoff_s=0.2)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        async with raw_channel(amqp_url, queue) as ch:
            await publish_records(ch, queue, recs[:40])
            assert await wait_for_count(mongo, "retry", 40) == 40
            await asyncio.to_thread(own.server.kill)  # MongoDB crashes
            await publish_records(ch, queue, recs[40:])
            for _ in range(200):  # the worker keeps failing and retrying
                if worker.stats.retries >= 3:
                    break
                await asyncio.sleep(0.05)
            await asyncio.to_thread(own.server.start)  # back, with its data
        assert await wait_for_count(mongo, "retry", len(recs)) == len(recs)
        # each record stored once: a batch the crash cut off after MongoDB had
        # applied it is written again on retry and counted as duplicates
        assert await mongo.count_turns("retry") == len(recs)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
        await mongo.close()
    assert worker.stats.written + worker.stats.duplicates == len(recs)
    assert worker.stats.written >= 40  # the first 40 were stored before the crash
    assert worker.stats.retries >= 3
    gc.collect()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_worker_serves_its_counters_for_prometheus(
    amqp_url: str, mongo_url: str, mongo: MongoArchive, tmp_path: Path
) -> None:
    """``--metrics-port``: the worker's counters (written, duplicates, dead-lettered,
    erased) on /metrics — they were counted in the worker and shown nowhere; a port that
    is taken is one line and exit 1."""
    queue = unique("q")
    log = tmp_path / "worker.log"
    recs = counter_session(12, tenant="metrics")[1]
    async with raw_channel(amqp_url, queue) as ch:
        await publish_records(ch, queue, [*recs, *recs[:3]])  # three duplicates
    port = _free_port()
    proc = _spawn_worker(
        amqp_url,
        mongo_url,
        mongo.db.name,
        queue,
        log,
        "--metrics-port",
        str(port),
        "--metrics-host",
        "127.0.0.1",
    )
    try:
        assert await wait_for_count(mongo, "metrics", len(recs)) == len(recs)
        text = ""
        for _ in range(100):  # the counters are bumped right after the write
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            if "ddtflow_worker_turns_duplicate_total 3.0" in text:
                break
            await asyncio.sleep(0.05)
        assert f"ddtflow_worker_turns_written_total {float(len(recs))}" in text, text
        assert "ddtflow_worker_turns_duplicate_total 3.0" in text
        assert "ddtflow_worker_turns_erased_total 0.0" in text
        taken = subprocess.run(
            [
                sys.executable,
                "-m",
                "runtime._cli_worker",
                "worker",
                "--amqp-url",
                amqp_url,
                "--mongo-url",
                mongo_url,
                "--queue",
                queue,
                "--metrics-port",
                str(port),
                "--metrics-host",
                "127.0.0.1",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert taken.returncode == 1, taken.stderr
        assert f"cannot serve metrics on 127.0.0.1:{port}" in taken.stderr
        assert "Traceback" not in taken.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
