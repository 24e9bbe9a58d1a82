"""Persistence benchmark: turn commit latency, recovery time, persistence lag.

Starts its own servers (tests/servers.py): redis-server, rabbitmq-server and the
MongoDB-wire test server (or MONGO_URL). Prints a summary and, as the last line, one JSON
object with commit_p95_ms, recovery_p95_ms and persist_lag_p99_ms.

    python bench/persistence.py [--commits 2000] [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/ holds scripts named like stdlib modules (http.py): import from the repository root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from runtime.mongo import MongoArchive  # noqa: E402
from runtime.recovery import recover  # noqa: E402
from runtime.sinks.amqp import AmqpSink  # noqa: E402
from runtime.stores.redis import RedisStore  # noqa: E402
from schemas.events import BackendResultEvent  # noqa: E402
from schemas.turns import TurnRecord  # noqa: E402
from tests.runtime.contract.helpers import AT, counter_session, registry  # noqa: E402
from tests.servers import Servers  # noqa: E402


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def bench_commit(
    redis_url: str, amqp_url: str, commits: int, concurrency: int
) -> list[float]:
    """Redis CAS (state + unconfirmed record) → RabbitMQ publish with confirm → mark_confirmed."""
    store = RedisStore.from_url(redis_url)
    sink = AmqpSink(amqp_url, queue=f"bench.commit.{os.getpid()}.{concurrency}")
    await sink.connect()
    program, base = counter_session(2, tenant="bench")
    times: list[float] = []
    cas: list[float] = []
    confirm: list[float] = []

    async def session(k: int) -> None:
        state = base[0].state
        assert state is not None
        state = state.model_copy(update={"session_id": f"c{concurrency}-{k}"})
        await store.save(state, expected_seq=None)
        for i in range(commits // concurrency):
            new = state.model_copy(update={"seq": state.seq + 1, "memory": {"n": i}})
            record = base[1].model_copy(
                update={"session_id": new.session_id, "seq": new.seq, "state": new}
            )
            t0 = time.perf_counter()
            await store.save(
                new,
                expected_seq=state.seq,
                response=b'{"ok":true}',
                record=orjson.dumps([record.model_dump(mode="json")]),
            )
            t1 = time.perf_counter()
            await sink.publish(record)
            t2 = time.perf_counter()
            await store.mark_confirmed("bench", new.session_id, new.seq)
            times.append((time.perf_counter() - t0) * 1000)
            cas.append((t1 - t0) * 1000)
            confirm.append((t2 - t1) * 1000)
            state = new

    await asyncio.gather(*(session(k) for k in range(concurrency)))
    await sink.close()
    await store.close()
    return times, cas, confirm


async def bench_recovery(mongo_url: str, sessions: int) -> tuple[list[float], list[float]]:
    """50-turn sessions: (a) snapshot at the last turn; (b) snapshot 5 turns behind, the rest
    replayed through step with digest checks."""
    mongo = MongoArchive.from_url(mongo_url, f"bench_recovery_{os.getpid()}")
    program, _ = counter_session(1)
    programs = registry(program)
    current: list[float] = []
    replayed: list[float] = []
    try:
        for k in range(sessions):
            _, recs = counter_session(50, tenant="bench", session_id=f"cur-{k}")
            await mongo.write_batch(recs)
            _, recs2 = counter_session(50, tenant="bench", session_id=f"rep-{k}", state_every=0)
            with_snap = [
                r if r.seq != 45 else r.model_copy(update={"state": _state_at(recs, 45, r)})
                for r in recs2
            ]
            await mongo.write_batch(with_snap)
        for k in range(sessions):
            for sid, out in ((f"cur-{k}", current), (f"rep-{k}", replayed)):
                t0 = time.perf_counter()
                st = await recover("bench", sid, min_seq=50, mongo=mongo, programs=programs)
                out.append((time.perf_counter() - t0) * 1000)
                assert st is not None and st.seq == 50
    finally:
        await mongo.client.drop_database(mongo.db.name)
        await mongo.close()
    return current, replayed


def _state_at(recs: list[TurnRecord], seq: int, like: TurnRecord) -> object:
    state = recs[seq - 1].state
    assert state is not None
    return state.model_copy(update={"session_id": like.session_id})


async def bench_lag(amqp_url: str, mongo_url: str, rate: int, seconds: float) -> list[float]:
    """Publish ``rate`` turns/s for ``seconds`` with a `ddtflow worker` process consuming;
    lag = first time MongoDB holds the record − the time its publish was confirmed."""
    db = f"bench_lag_{os.getpid()}"
    queue = f"bench.lag.{os.getpid()}"
    mongo = MongoArchive.from_url(mongo_url, db)
    await mongo.ensure_indexes()
    argv = [sys.executable, "-m", "runtime._cli_worker", "worker", "--amqp-url", amqp_url]
    argv += ["--mongo-url", mongo_url, "--db", db, "--queue", queue]
    log = open(os.devnull, "wb")  # noqa: SIM115
    worker = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log)
    sink = AmqpSink(amqp_url, queue=queue)
    await sink.connect()
    program, recs = counter_session(2, tenant="bench")
    template = recs[1]
    confirmed: dict[int, float] = {}
    seen: dict[int, float] = {}
    total = int(rate * seconds)
    done = asyncio.Event()

    async def poll() -> None:
        low = 0  # every seq <= low has been seen
        while len(seen) < total:
            t = time.perf_counter()
            query = {"tenant": "bench", "session_id": "lag", "seq": {"$gt": low}}
            docs = await mongo.turns.find(query, {"seq": 1, "_id": 0}).to_list(None)
            for d in docs:
                seen.setdefault(int(d["seq"]), t)
            while low + 1 in seen:
                low += 1
            await asyncio.sleep(0.02)

    async def publish(i: int) -> None:
        state = template.state
        assert state is not None
        r = template.model_copy(
            update={
                "session_id": "lag",
                "seq": i,
                "at": AT + timedelta(milliseconds=i),
                "event": BackendResultEvent(at=AT, backend="count", ok=True, body={"n": i}),
                "state": state.model_copy(update={"session_id": "lag", "seq": i}),
            }
        )
        await sink.publish(r)
        confirmed[i] = time.perf_counter()

    poller = asyncio.create_task(poll())
    start = time.perf_counter()
    tasks = []
    for i in range(1, total + 1):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(publish(i)))
    await asyncio.gather(*tasks)
    done.set()
    try:
        await asyncio.wait_for(poller, 120)
    except TimeoutError:
        poller.cancel()
    await sink.close()
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    log.close()
    await mongo.client.drop_database(db)
    await mongo.close()
    missing = total - len(seen)
    if missing:
        print(f"  WARNING: {missing} records not seen in MongoDB within the time limit")
    return [(seen[i] - confirmed[i]) * 1000 for i in seen if i in confirmed]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--recoveries", type=int, default=40)
    ap.add_argument("--rate", type=int, default=100, help="turns/s for the lag test")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    servers = Servers()
    try:
        t0 = time.perf_counter()
        redis, rabbit, mongo = servers.redis(), servers.rabbitmq(), servers.mongo()
        print(f"servers up in {time.perf_counter() - t0:.1f} s (redis, rabbitmq, mongo-wire)")
        real_mongo = bool(os.environ.get("MONGO_URL"))
        if not real_mongo:
            print(
                "NOTE: MongoDB figures come from secantusdb, a Python MongoDB-wire test server "
                "(~1,000 ops/s): they are NOT MongoDB figures. Set MONGO_URL to a real mongod."
            )
        c1, cas, conf = await bench_commit(redis.url, rabbit.url, args.commits, 1)
        c32, _, _ = await bench_commit(redis.url, rabbit.url, args.commits, 32)
        print(
            f"commit (Redis CAS + RabbitMQ confirm + mark_confirmed), 1 session: "
            f"p50 {statistics.median(c1):.2f} ms, p95 {pct(c1, 95):.2f} ms ({len(c1)} commits); "
            f"of which CAS p50 {statistics.median(cas):.2f} ms, confirm p50 "
            f"{statistics.median(conf):.2f} ms"
        )
        print(
            f"commit, 32 concurrent sessions: p50 {statistics.median(c32):.2f} ms, "
            f"p95 {pct(c32, 95):.2f} ms ({len(c32)} commits)"
        )
        cur, rep = await bench_recovery(mongo.url, args.recoveries)
        print(
            f"recovery of a 50-turn session, snapshot current: p50 {statistics.median(cur):.1f} "
            f"ms, p95 {pct(cur, 95):.1f} ms; snapshot at 45 + 5 turns replayed: p50 "
            f"{statistics.median(rep):.1f} ms, p95 {pct(rep, 95):.1f} ms"
        )
        lag = await bench_lag(rabbit.url, mongo.url, args.rate, args.seconds)
        print(
            f"persistence lag (publish confirmed → in MongoDB) at {args.rate} turns/s for "
            f"{args.seconds:.0f} s, one worker process: p50 {statistics.median(lag):.0f} ms, "
            f"p99 {pct(lag, 99):.0f} ms ({len(lag)} turns)"
        )
        print(
            json.dumps(
                {
                    "bench": "persistence",
                    "commit_p50_ms": round(statistics.median(c1), 2),
                    "commit_p95_ms": round(pct(c1, 95), 2),
                    "commit_p95_ms_32_sessions": round(pct(c32, 95), 2),
                    "recovery_p95_ms": round(pct(rep, 95), 1),
                    "recovery_snapshot_only_p95_ms": round(pct(cur, 95), 1),
                    "persist_lag_p99_ms": round(pct(lag, 99), 0),
                    "mongo": "mongod" if real_mongo else "secantusdb (Python test server)",
                }
            )
        )
    finally:
        servers.close()


if __name__ == "__main__":
    asyncio.run(main())
