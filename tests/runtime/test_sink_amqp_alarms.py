"""RabbitMQ's own failure modes with the AmqpSink, on real brokers: a resource alarm that
blocks publishers (``connection.blocked``), quorum queues, a queue that exists with another
type, and a connection that is down.

Every test here runs on a RabbitMQ of this module's own, stopped when the module is done:
an alarm blocks every publisher of the node, and the last test stops the broker's
application, while the shared broker serves the other tests. The conversations go through
the real session driver: an example project's longest conversation test, several sessions
at once over one store and one sink, each request repeated with its idempotency key until
it is answered, like a channel does. Before the sink bounded its wait for a connection
being re-established, a publish while the broker was down hung until it came back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from prometheus_client import REGISTRY

from runtime.convtest import ConvTest
from runtime.driver import SessionDriver, TurnResponse
from runtime.effects import StubEffects
from runtime.mongo import MongoArchive
from runtime.ports import SessionStore, StoreUnavailableError
from runtime.programs import LoadedProgram, ProgramRegistry
from runtime.sinks.amqp import AmqpSink, QueueMismatchError, QueueType, dlq_name
from runtime.stores.memory import MemoryStore
from runtime.worker import Worker
from schemas.turns import TurnRecord
from tests.runtime._amqp_helpers import unique, wait_for_count
from tests.runtime.contract.helpers import counter_session
from tests.runtime.test_faults_driver import compiled, conversations, event_of
from tests.runtime.test_sink_amqp import drain
from tests.servers import RabbitServer, Servers, need, rabbit_alarms, rabbitmqctl, start_rabbitmq

CONFIRM_S = 0.5
"""The sinks' confirm timeout here: a blocked publish fails after it."""

# A request waits at most for the message in flight before it (group commit) and its own:
# two confirm timeouts. The bound checks that the timeout is honoured (unbounded before the
# fix), not speed: it leaves a loaded CI machine ample slack (≈ 1 s is typical here).
FAIL_WITHIN_S = 10 * CONFIRM_S
HANG_S = 40 * CONFIRM_S  # beyond this the sink is taken to hang

ALARMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    # kind: (rabbitmqctl args raising it, args clearing it, what `alarms` reports)
    "memory": (
        ("set_vm_memory_high_watermark", "absolute", "1"),
        ("set_vm_memory_high_watermark", "0.4"),  # the broker's default
        "Memory alarm",
    ),
    "disk": (
        ("set_disk_free_limit", str(2**50)),  # 1 PiB free needed: no disk has that
        ("set_disk_free_limit", "50MB"),  # the broker's default
        "Free disk space alarm",
    ),
}


@pytest.fixture(scope="module")
def rabbit(servers: Servers) -> Iterator[RabbitServer]:
    """A RabbitMQ of this module's own, stopped at the end of the module."""
    server = need(lambda: start_rabbitmq(servers.base))
    try:
        yield server
    finally:
        server.stop()


async def raise_alarm(rabbit: RabbitServer, kind: str) -> None:
    set_args, _, reported = ALARMS[kind]
    await asyncio.to_thread(rabbitmqctl, rabbit, *set_args)
    alarms = await asyncio.to_thread(rabbit_alarms, rabbit)
    assert any(a.startswith(reported) for a in alarms), alarms


async def clear_alarm(rabbit: RabbitServer, kind: str) -> None:
    _, clear_args, _ = ALARMS[kind]
    await asyncio.to_thread(rabbitmqctl, rabbit, *clear_args)


async def connection_states(rabbit: RabbitServer) -> list[str]:
    out = await asyncio.to_thread(
        rabbitmqctl, rabbit, "--formatter", "json", "list_connections", "state"
    )
    return [str(c["state"]) for c in json.loads(out)]


async def queue_types(rabbit: RabbitServer) -> dict[str, str]:
    out = await asyncio.to_thread(
        rabbitmqctl, rabbit, "--formatter", "json", "list_queues", "name", "type"
    )
    return {str(q["name"]): str(q["type"]) for q in json.loads(out)}


def longest_conversation() -> tuple[LoadedProgram, ConvTest]:
    name, test = max(conversations(), key=lambda c: len(c[1].turns))
    return compiled(name), test


class Caller:
    """One conversation over a SessionDriver of its own (its own canned backends and clock);
    the callers share the store and the sink, like concurrent requests on one instance."""

    def __init__(
        self,
        store: SessionStore,
        sink: AmqpSink,
        loaded: LoadedProgram,
        test: ConvTest,
        tenant: str,
    ) -> None:
        programs = ProgramRegistry()
        programs.add(loaded.program)
        self.loaded, self.test, self.tenant = loaded, test, tenant
        self.session_id = unique("s-")
        self.now = [test.at]
        self.records: list[TurnRecord] = []  # every record the driver made and saved
        self.driver = SessionDriver(
            store,
            sink,
            programs,
            StubEffects(test.backends),
            clock=lambda: self.now[0],
            observer=lambda rec, _trace: self.records.append(rec),
        )
        self.turns = [t for t in test.turns if t.kind != "start"]
        self.answered = 0  # requests answered, the start included
        self.resp: TurnResponse | None = None

    @property
    def finished(self) -> bool:
        return self.answered > len(self.turns)

    async def request(self) -> TurnResponse:
        """The conversation's next request; the same idempotency key on every attempt.
        Raises what the driver raised (StoreUnavailableError: the channel retries)."""
        key = f"{self.session_id}:{self.answered}"
        if self.resp is None:
            resp = await self.driver.start(
                self.tenant,
                self.loaded,
                language=self.test.language,
                channel=self.test.channel,
                variables=self.test.variables,
                session_id=self.session_id,
                idempotency_key=key,
            )
        else:
            turn = self.turns[self.answered - 1]
            if turn.at is not None:
                self.now[0] = turn.at
            resp = await self.driver.turn(
                self.tenant,
                self.session_id,
                event_of(turn, self.now[0]),
                expected_seq=self.resp.seq,
                idempotency_key=key,
            )
        self.resp = resp
        self.answered += 1
        return resp

    async def answered_request(self, attempts: int = 100) -> TurnResponse:
        """Repeat the request until it is answered (a retryable error: 0.1 s later)."""
        for _ in range(attempts):
            try:
                return await self.request()
            except StoreUnavailableError:
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.session_id}: request {self.answered} kept failing")


async def timed(aw: Awaitable[Any]) -> tuple[Any, float]:
    """(the answer or the exception of ``aw``, the seconds it took). Still running after
    HANG_S fails the test: the sink hangs."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        async with asyncio.timeout(HANG_S):
            result: Any = await aw
    except TimeoutError:
        raise AssertionError(f"unanswered after {HANG_S:.0f} s: the sink hangs") from None
    except Exception as exc:  # noqa: BLE001 - returned for the test to check
        result = exc
    return result, loop.time() - t0


async def timed_requests(callers: list[Caller]) -> list[tuple[Any, float]]:
    """One request of every caller at once: (its answer or exception, seconds it took)."""
    return await asyncio.gather(*(timed(c.request()) for c in callers))


async def finish(callers: list[Caller]) -> None:
    """Every conversation to its end, all sessions at once."""

    async def talk(c: Caller) -> None:
        while not c.finished:
            await c.answered_request()

    await asyncio.gather(*(talk(c) for c in callers))


async def assert_each_record_once(
    worker: Worker, tenant: str, callers: list[Caller], *, all_by_worker: bool
) -> None:
    """MongoDB holds every record the drivers committed, once, and nothing else; with
    ``all_by_worker`` (a sink without MongoDB) the worker wrote each of them exactly once."""
    mongo = worker.mongo
    expected = sorted((r.session_id, r.seq, r.state_digest) for c in callers for r in c.records)
    assert await wait_for_count(mongo, tenant, len(expected), timeout_s=30) == len(expected)
    docs = await mongo.turns.find({"tenant": tenant}).to_list(None)
    assert sorted((d["session_id"], d["seq"], d["state_digest"]) for d in docs) == expected
    for c in callers:  # every seq of the session, up to the last answer
        assert c.resp is not None
        assert sorted(r.seq for r in c.records) == list(range(1, c.resp.seq + 1))
    if not all_by_worker:
        return
    for _ in range(600):  # MongoDB shows a batch's turns a moment before the worker counts it
        if worker.stats.written >= len(expected):
            break
        await asyncio.sleep(0.05)
    assert worker.stats.written == len(expected)


@dataclass
class Pipeline:
    sink: AmqpSink
    worker: Worker
    callers: list[Caller]
    tenant: str


@asynccontextmanager
async def pipeline(
    rabbit: RabbitServer,
    mongo: MongoArchive,
    *,
    fallback: Literal["none", "mongo"] = "none",
    queue_type: QueueType = "classic",
    callers: int = 4,
) -> AsyncIterator[Pipeline]:
    """A sink and a worker on a fresh queue, and callers of the longest example
    conversation. With the fallback the sink has MongoDB (and writes critical records
    there itself too); without, only the worker writes to MongoDB."""
    queue, tenant = unique("q"), unique("t")
    sink = AmqpSink(
        rabbit.url,
        queue=queue,
        queue_type=queue_type,
        confirm_timeout_s=CONFIRM_S,
        mongo=mongo if fallback == "mongo" else None,
        fallback=fallback,
    )
    worker = Worker(rabbit.url, mongo, queue=queue, queue_type=queue_type, batch=50)
    task = asyncio.create_task(worker.run())
    store = MemoryStore()
    loaded, test = longest_conversation()
    talkers = [Caller(store, sink, loaded, test, tenant) for _ in range(callers)]
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        yield Pipeline(sink, worker, talkers, tenant)
    finally:
        for c in talkers:
            await c.driver.settle()
        worker.stop()
        await asyncio.wait_for(task, 30)
        await sink.close()


# -- resource alarms: publishers blocked ---------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "disk"])
async def test_alarm_blocks_publishers_turns_fail_retryably_in_bounded_time_then_lose_nothing(
    kind: str, rabbit: RabbitServer, mongo: MongoArchive
) -> None:
    async with pipeline(rabbit, mongo) as p:
        callers = p.callers
        store = callers[0].driver.store
        for _ in range(4):  # the start and three turns, answered
            await asyncio.gather(*(c.answered_request() for c in callers))
        answered = [c.resp for c in callers]
        fresh = AmqpSink(rabbit.url, queue=unique("q"), confirm_timeout_s=CONFIRM_S)
        await raise_alarm(rabbit, kind)
        try:
            for attempt in ("request", "retry"):  # the retry re-publishes the saved records
                for c, (result, took) in zip(callers, await timed_requests(callers), strict=True):
                    assert isinstance(result, StoreUnavailableError), (attempt, result)
                    assert result.retryable and result.details["session_id"] == c.session_id
                    assert result.message.startswith("RabbitMQ did not confirm turn ")
                    assert took < FAIL_WITHIN_S, (attempt, took)
            # nothing answered, nothing lost: each turn is saved, its records unconfirmed
            for c, resp in zip(callers, answered, strict=True):
                assert c.resp == resp
                stored = await store.load(p.tenant, c.session_id)
                assert stored is not None and stored.unconfirmed
                assert resp is not None and stored.state.seq > resp.seq
            # the broker did block the sink's connection (connection.blocked)
            assert "blocked" in await connection_states(rabbit)
            # a sink that connects during the alarm (an instance starting): the same
            _, records = counter_session(1, tenant=unique("other"))
            result, took = await timed(fresh.publish(records[0]))
            assert isinstance(result, StoreUnavailableError) and result.retryable, result
            assert took < FAIL_WITHIN_S, took
        finally:
            await clear_alarm(rabbit, kind)
            await fresh.close()  # after: closing a blocked connection waits 2 s (aiormq)
        await finish(callers)  # the retries are answered now; the conversations go on
        await assert_each_record_once(p.worker, p.tenant, callers, all_by_worker=True)


async def test_alarm_with_the_mongo_fallback_turns_are_answered_records_go_to_mongodb(
    rabbit: RabbitServer, mongo: MongoArchive
) -> None:
    async with pipeline(rabbit, mongo, fallback="mongo") as p:
        callers = p.callers
        for _ in range(3):
            await asyncio.gather(*(c.answered_request() for c in callers))
        done = {c.session_id: len(c.records) for c in callers}
        fallbacks = REGISTRY.get_sample_value("ddtflow_turns_broker_fallback_total") or 0.0
        await raise_alarm(rabbit, "memory")
        try:
            for result, took in await timed_requests(callers):
                assert isinstance(result, TurnResponse), result
                assert took < FAIL_WITHIN_S, took
            # the records of these turns are in MongoDB while the broker still blocks every
            # publisher: the sink wrote them there itself
            fresh = [
                (c.session_id, r.seq) for c in callers for r in c.records[done[c.session_id] :]
            ]
            assert fresh
            docs = await mongo.turns.find({"tenant": p.tenant}).to_list(None)
            assert set(fresh) <= {(d["session_id"], d["seq"]) for d in docs}
            after = REGISTRY.get_sample_value("ddtflow_turns_broker_fallback_total") or 0.0
            assert after - fallbacks == len(fresh)
        finally:
            await clear_alarm(rabbit, "memory")
        await finish(callers)
        await assert_each_record_once(p.worker, p.tenant, callers, all_by_worker=False)
        # the messages that were blocked reach the queue once the alarm is over: the worker
        # finds their records stored already and skips them
        for _ in range(200):
            if p.worker.stats.duplicates >= len(fresh):
                break
            await asyncio.sleep(0.05)
        assert p.worker.stats.duplicates >= len(fresh)


# -- quorum queues ------------------------------------------------------------------------


async def test_quorum_queues_are_declared_and_a_conversation_arrives_once(
    rabbit: RabbitServer, mongo: MongoArchive
) -> None:
    async with pipeline(rabbit, mongo, queue_type="quorum", callers=2) as p:
        await finish(p.callers)
        types = await queue_types(rabbit)
        queue = p.sink.queue
        assert (types[queue], types[dlq_name(queue)]) == ("quorum", "quorum")
        await assert_each_record_once(p.worker, p.tenant, p.callers, all_by_worker=True)


async def test_quorum_on_an_existing_classic_queue_is_a_clear_configuration_error(
    rabbit: RabbitServer, mongo: MongoArchive
) -> None:
    queue = unique("q")
    classic = AmqpSink(rabbit.url, queue=queue)
    await classic.connect()
    await classic.close()
    _, records = counter_session(1, tenant=unique("mismatch"))
    for fallback in ("none", "mongo"):  # a configuration error is not an outage: no fallback
        sink = AmqpSink(
            rabbit.url, queue=queue, queue_type="quorum", mongo=mongo, fallback=fallback
        )
        try:
            with pytest.raises(QueueMismatchError) as err:
                await sink.publish(records[0])
        finally:
            await sink.close()
        assert not err.value.retryable  # an API answer of 500, not a 503 to retry forever
        message = err.value.message
        assert queue in message and "x-queue-type" in message, message
        assert "'quorum'" in message and "'classic'" in message, message
    assert await mongo.count_turns(records[0].tenant) == 0
    worker = Worker(rabbit.url, mongo, queue=queue, queue_type="quorum")
    with pytest.raises(QueueMismatchError, match=queue):
        await asyncio.wait_for(worker.run(), 30)
    assert (await queue_types(rabbit))[queue] == "classic"  # left as it was


# -- the connection down ------------------------------------------------------------------


async def test_a_publish_while_the_connection_is_down_fails_in_bounded_time(
    rabbit: RabbitServer,
) -> None:
    """The broker's application stopped (its AMQP listener closed, the connection lost and
    being re-established): a publish fails within the confirm timeout, retryably; once the
    broker is back the same record is published, and is in the queue once."""
    queue = unique("q")
    sink = AmqpSink(rabbit.url, queue=queue, confirm_timeout_s=CONFIRM_S)
    _, records = counter_session(2, tenant=unique("down"))
    try:
        await sink.publish(records[0])
        await asyncio.to_thread(rabbitmqctl, rabbit, "stop_app")
        try:
            result, took = await timed(sink.publish(records[1]))
            assert isinstance(result, StoreUnavailableError) and result.retryable, result
            assert records[1].session_id in result.message
            assert took < FAIL_WITHIN_S, took
        finally:
            await asyncio.to_thread(rabbitmqctl, rabbit, "start_app")
        for _ in range(100):  # the connection comes back by itself (1 s between attempts)
            try:
                await sink.publish(records[1])
                break
            except StoreUnavailableError:
                await asyncio.sleep(0.1)
    finally:
        await sink.close()
    messages = []
    for _ in range(100):
        messages += await drain(rabbit.url, queue)
        if len(messages) >= 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(m.message_id for m in messages) == sorted(
        f"{r.tenant}:{r.session_id}:{r.seq}" for r in records
    )
