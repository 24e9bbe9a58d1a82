"""Fault tests on real servers: nothing acknowledged is lost or duplicated.

The turn commit protocol of ``runtime.ports`` (as the session driver runs it): step →
``store.save`` (CAS, records kept unconfirmed) → ``sink.publish`` (broker confirm) →
``store.mark_confirmed`` → acknowledge. A failed publish leaves the records unconfirmed in
the store; the retry re-publishes them first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import orjson
import pytest
import redis.asyncio as aioredis

from runtime.mongo import MongoArchive
from runtime.orchestrator import new_session, step
from runtime.ports import (
    ConflictError,
    SessionStore,
    StoredSession,
    StoreUnavailableError,
    TurnSink,
)
from runtime.programs import ProgramRegistry
from runtime.recovery import recover, recover_into_store
from runtime.sinks.amqp import AmqpSink
from runtime.stores.redis import RedisStore
from runtime.worker import Worker
from schemas.events import BackendResultEvent, Event, StartEvent
from schemas.program import Program
from schemas.turns import TurnRecord
from tests.runtime._amqp_helpers import unique, wait_for_count
from tests.runtime.contract.helpers import AT, counter_program, registry
from tests.servers import Servers, need


class Conversation:
    """One session of the counter program, committed turn by turn like the driver does."""

    def __init__(
        self, store: SessionStore, sink: TurnSink, programs: ProgramRegistry, program: Program
    ) -> None:
        self.store, self.sink, self.programs, self.program = store, sink, programs, program
        self.session_id = unique("c-")
        self.acked: list[TurnRecord] = []  # acknowledged to the "channel"

    @property
    def seq(self) -> int:
        return self.acked[-1].seq if self.acked else 0

    async def _confirm_pending(self) -> StoredSession | None:
        stored = await self.store.load("faults", self.session_id)
        if stored is not None and stored.unconfirmed:
            for item in orjson.loads(stored.unconfirmed):
                await self.sink.publish(TurnRecord.model_validate(item))
            await self.store.mark_confirmed("faults", self.session_id, stored.state.seq)
        return stored

    async def turn(self, key: str | None = None) -> TurnRecord:
        """One channel request (``key``: its idempotency key, the same on a retry).
        Raises StoreUnavailableError (retryable) when a server is down, ConflictError when
        another request won the session's seq."""
        key = key or f"{self.session_id}:{len(self.acked) + 1}"
        loaded = self.programs.get(self.program.id)
        stored = await self._confirm_pending()
        if stored is not None and stored.idempotency_key == key:
            # A retry of a request that was committed: the same answer.
            record = TurnRecord.model_validate_json(stored.last_response or b"")
            self.acked.append(record)
            return record
        at = AT + timedelta(seconds=self.seq)
        event: Event
        if stored is None:
            assert self.seq == 0
            state = new_session(self.program, self.session_id, tenant="faults")
            event = StartEvent(at=at)
            expected = None
        else:
            state = stored.state
            if state.seq != self.seq:
                raise ConflictError("seq moved on", current_seq=state.seq)
            event = BackendResultEvent(at=at, backend="count", ok=True, body={"n": self.seq})
            expected = state.seq
        new, actions = step(self.program, state, event, engine=loaded.engine)
        record = TurnRecord(
            tenant="faults",
            session_id=self.session_id,
            seq=new.seq,
            at=at,
            program_id=self.program.id,
            event=event,
            actions=tuple(actions),
            state_digest=new.digest(),
            state=new,
        )
        await self.store.save(
            new,
            expected_seq=expected,
            response=record.model_dump_json().encode(),
            idempotency_key=key,
            record=orjson.dumps([record.model_dump(mode="json")]),
        )
        await self.sink.publish(record)
        await self.store.mark_confirmed("faults", self.session_id, new.seq)
        self.acked.append(record)
        return record

    async def turn_with_retry(self, attempts: int = 200, delay_s: float = 0.1) -> TurnRecord:
        key = f"{self.session_id}:{len(self.acked) + 1}"
        for _ in range(attempts):
            try:
                return await self.turn(key)
            except StoreUnavailableError:
                await asyncio.sleep(delay_s)
        raise AssertionError(f"{self.session_id}: a turn kept failing")


@pytest.fixture
async def pipeline(amqp_url: str, mongo: MongoArchive) -> AsyncIterator[tuple[AmqpSink, Worker]]:
    """An AMQP sink and a worker on a fresh queue into a fresh database."""
    queue = unique("q")
    sink = AmqpSink(amqp_url, queue=queue, mongo=mongo, confirm_timeout_s=3)
    worker = Worker(amqp_url, mongo, queue=queue, batch=50)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.ready.wait(), 30)
    try:
        yield sink, worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
        await sink.close()


async def assert_all_once(mongo: MongoArchive, convs: list[Conversation]) -> None:
    """Every acknowledged record is in MongoDB exactly once, and nothing else is."""
    total = sum(len(c.acked) for c in convs)
    assert await wait_for_count(mongo, "faults", total) == total
    docs = await mongo.turns.find({"tenant": "faults"}).to_list(None)
    stored = sorted((d["session_id"], d["seq"], d["state_digest"]) for d in docs)
    acked = sorted((r.session_id, r.seq, r.state_digest) for c in convs for r in c.acked)
    assert stored == acked


async def test_redis_flushed_mid_conversation_sessions_recover_and_continue(
    servers: Servers, mongo: MongoArchive, pipeline: tuple[AmqpSink, Worker]
) -> None:
    sink, _ = pipeline
    redis = need(servers.extra_redis)
    store = RedisStore.from_url(redis.url)
    program = counter_program()
    programs = registry(program)
    convs = [Conversation(store, sink, programs, program) for _ in range(3)]
    try:
        for _ in range(8):
            for c in convs:
                await c.turn()
        async with aioredis.Redis.from_url(redis.url) as client:
            await client.flushall()
        for c in convs:
            assert await store.load("faults", c.session_id) is None
            # The channel sends the last seq it saw: recovery waits for the worker if needed
            # (a bound, not a delay: a slow machine must not make it "behind").
            got = await recover_into_store(
                store,
                "faults",
                c.session_id,
                min_seq=c.seq,
                mongo=mongo,
                programs=programs,
                wait_s=30,
            )
            assert got is not None and got.state == c.acked[-1].state
        for _ in range(4):
            for c in convs:
                await c.turn()
        await assert_all_once(mongo, convs)
        for c in convs:
            final = await recover(
                "faults", c.session_id, min_seq=c.seq, mongo=mongo, programs=programs
            )
            assert final is not None and final.digest() == c.acked[-1].state_digest
    finally:
        await store.close()


async def test_redis_killed_and_restarted_keeps_acknowledged_state(
    servers: Servers, mongo: MongoArchive, pipeline: tuple[AmqpSink, Worker]
) -> None:
    sink, _ = pipeline
    redis = need(servers.extra_redis)
    store = RedisStore.from_url(redis.url, timeout_s=0.5)
    program = counter_program()
    conv = Conversation(store, sink, registry(program), program)
    try:
        for _ in range(5):
            await conv.turn()
        redis.server.kill()  # SIGKILL: no shutdown save; the AOF was written before each reply
        with pytest.raises(StoreUnavailableError, match="session store unavailable"):
            await store.load("faults", conv.session_id)
        with pytest.raises(StoreUnavailableError):
            await conv.turn()
        redis.server.start()
        stored = await store.load("faults", conv.session_id)
        assert stored is not None and stored.state == conv.acked[-1].state
        for _ in range(3):
            await conv.turn_with_retry()
        await assert_all_once(mongo, [conv])
    finally:
        await store.close()


async def test_failover_to_the_replica_sees_every_acknowledged_state(
    servers: Servers, mongo: MongoArchive, pipeline: tuple[AmqpSink, Worker]
) -> None:
    sink, _ = pipeline
    primary, replica = need(servers.redis_pair)
    store = RedisStore.from_url(primary.url, timeout_s=0.5)
    program = counter_program()
    programs = registry(program)
    convs = [Conversation(store, sink, programs, program) for _ in range(4)]
    try:
        for _ in range(5):
            for c in convs:
                await c.turn()
        async with aioredis.Redis.from_url(primary.url) as client:
            # the replica has it all (WAIT returns as soon as it has: the bound is no delay)
            assert await client.execute_command("WAIT", 1, 30_000) == 1
        primary.server.kill()
        async with aioredis.Redis.from_url(replica.url) as rclient:
            await rclient.execute_command("REPLICAOF", "NO", "ONE")  # promote
    finally:
        await store.close()
    store = RedisStore.from_url(replica.url)
    try:
        for c in convs:
            c.store = store
            stored = await store.load("faults", c.session_id)
            assert stored is not None and stored.state == c.acked[-1].state
            await c.turn()
        await assert_all_once(mongo, convs)
    finally:
        await store.close()


async def test_concurrent_turns_on_one_session_exactly_one_wins(
    redis_url: str, mongo: MongoArchive, pipeline: tuple[AmqpSink, Worker]
) -> None:
    sink, _ = pipeline
    store = RedisStore.from_url(redis_url)
    program = counter_program()
    programs = registry(program)
    conv = Conversation(store, sink, programs, program)
    try:
        for _ in range(3):
            await conv.turn()
        # Two different requests at seq 3 reach two instances at once: exactly one commits.
        twins = [Conversation(store, sink, programs, program) for _ in range(2)]
        for t in twins:
            t.session_id, t.acked = conv.session_id, list(conv.acked)
        results = await asyncio.gather(
            *(t.turn(f"req-{i}") for i, t in enumerate(twins)), return_exceptions=True
        )
        won = [i for i, r in enumerate(results) if isinstance(r, TurnRecord)]
        lost = [r for r in results if not isinstance(r, TurnRecord)]
        assert len(won) == 1 and len(lost) == 1
        assert isinstance(lost[0], ConflictError) and lost[0].current_seq == 4
        # The winner's request retried (same idempotency key) gets the same answer.
        retry = Conversation(store, sink, programs, program)
        retry.session_id, retry.acked = conv.session_id, list(conv.acked)
        again = await retry.turn(f"req-{won[0]}")
        assert again == results[won[0]]
        await assert_all_once(mongo, [twins[won[0]]])
    finally:
        await store.close()


async def test_broker_restarted_under_load_loses_nothing_confirmed(
    servers: Servers, redis_url: str, mongo: MongoArchive, pipeline: tuple[AmqpSink, Worker]
) -> None:
    sink, worker = pipeline
    rabbit = need(servers.rabbitmq)
    store = RedisStore.from_url(redis_url)
    program = counter_program()
    programs = registry(program)
    convs = [Conversation(store, sink, programs, program) for _ in range(6)]
    failures = 0
    down = asyncio.Event()
    stop = asyncio.Event()

    async def talk(c: Conversation) -> None:
        nonlocal failures
        while len(c.acked) < 60 and (not stop.is_set() or len(c.acked) < 20):
            if len(c.acked) >= 10 and not down.is_set():
                await down.wait()  # every conversation is mid-way when the broker goes
            # a channel repeats an unanswered request (same idempotency key) until it gets
            # its answer, even after `stop`: a turn whose confirm was lost may already be on
            # its way to MongoDB, and assert_all_once expects it acknowledged
            while True:
                try:
                    await c.turn()
                    break
                except StoreUnavailableError:
                    failures += 1
                    await asyncio.sleep(0.1)

    talkers = [asyncio.create_task(talk(c)) for c in convs]
    try:
        for _ in range(600):  # until every conversation waits at turn 10
            if all(len(c.acked) >= 10 for c in convs):
                break
            await asyncio.sleep(0.05)
        # durable queue, persistent messages; the talkers go on while it is down
        await asyncio.to_thread(rabbit.server.stop)
        down.set()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(rabbit.server.start)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*talkers), 120)
        assert failures > 0  # the outage was seen, as retryable errors
        await assert_all_once(mongo, convs)
        # MongoDB shows a batch's turns before the worker has written its snapshots and
        # counted it: wait for the count, then check that nothing was counted twice
        total = sum(len(c.acked) for c in convs)
        for _ in range(600):
            if worker.stats.written >= total:
                break
            await asyncio.sleep(0.05)
        assert worker.stats.written == total
    finally:
        for t in talkers:
            t.cancel()
        await asyncio.gather(*talkers, return_exceptions=True)
        await store.close()
