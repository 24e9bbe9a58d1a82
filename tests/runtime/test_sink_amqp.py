"""AmqpSink on real RabbitMQ and the MongoDB-wire server (no worker unless said)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest

from runtime.mongo import MongoArchive
from runtime.ports import StoreUnavailableError, decode_records, encode_records
from runtime.sinks.amqp import AmqpSink, dlq_name
from tests.runtime._amqp_helpers import unique
from tests.runtime.contract.helpers import counter_session
from tests.servers import free_port


@pytest.fixture
async def mongo(mongo_url: str) -> AsyncIterator[MongoArchive]:
    archive = MongoArchive.from_url(mongo_url, unique("a"))
    try:
        yield archive
    finally:
        await archive.client.drop_database(archive.db.name)
        await archive.close()


async def get_one(queue: Any, *, no_ack: bool) -> Any:
    """The next message of ``queue``; a quorum queue applies a confirmed publish (and a
    dead-lettering) a moment after it answers, so poll briefly."""
    for _ in range(200):
        msg = await queue.get(no_ack=no_ack, fail=False)
        if msg is not None:
            return msg
        await asyncio.sleep(0.025)
    raise AssertionError(f"queue {queue.name} stayed empty")


async def queue_depth(amqp_url: str, name: str) -> int:
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(name, passive=True)
        return int(q.declaration_result.message_count)
    finally:
        await conn.close()


async def test_critical_record_is_in_mongo_when_publish_returns(
    amqp_url: str, mongo: MongoArchive
) -> None:
    queue = unique("q")
    sink = AmqpSink(amqp_url, queue=queue, mongo=mongo)
    _, records = counter_session(3, tenant="crit")
    critical = records[2].model_copy(update={"critical": True})
    try:
        await sink.publish(records[0])
        await sink.publish(critical)
        # no worker runs: only the critical record is in MongoDB, with its snapshot
        assert await mongo.count_turns("crit") == 1
        snap = await mongo.snapshot("crit", critical.session_id)
        assert snap == critical.state
        assert await queue_depth(amqp_url, queue) == 2  # both are queued for the worker
    finally:
        await sink.close()


async def test_one_request_s_records_are_one_persistent_message(amqp_url: str) -> None:
    queue = unique("q")
    sink = AmqpSink(amqp_url, queue=queue)
    _, records = counter_session(3, tenant="batch")
    payload = encode_records(records)
    try:
        await sink.publish()  # nothing to publish: no message
        await sink.publish(*records, payload=payload)
        assert await queue_depth(amqp_url, queue) == 1
        conn = await aio_pika.connect(amqp_url)
        try:
            q = await (await conn.channel()).get_queue(queue)
            msg = await get_one(q, no_ack=True)
        finally:
            await conn.close()
        assert msg.body == payload  # published as the driver encoded it, not re-encoded
        assert decode_records(msg.body) == records
        assert msg.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert msg.message_id == f"batch:{records[-1].session_id}:3"
        assert msg.headers["records"] == 3 and msg.headers["seq"] == 3
    finally:
        await sink.close()


async def drain(amqp_url: str, queue: str) -> list[Any]:
    """Every message in ``queue`` now (removed)."""
    conn = await aio_pika.connect(amqp_url)
    try:
        q = await (await conn.channel()).get_queue(queue)
        out = []
        while (msg := await q.get(no_ack=True, fail=False)) is not None:
            out.append(msg)
        return out
    finally:
        await conn.close()


async def test_concurrent_requests_share_messages_and_lose_nothing(amqp_url: str) -> None:
    """Group commit: requests that come while a message waits for its confirm go out
    together in one message; every request's records arrive once, in order."""
    queue = unique("q")
    sink = AmqpSink(amqp_url, queue=queue, max_batch=8)
    sessions = [counter_session(2, tenant="gc")[1] for _ in range(60)]
    try:
        await sink.connect()
        await asyncio.gather(
            *(sink.publish(*recs, payload=encode_records(recs)) for recs in sessions)
        )
        messages = []
        for _ in range(200):  # a confirmed publish is in the queue a moment later at most
            messages += await drain(amqp_url, queue)
            if sum(int(m.headers["records"]) for m in messages) >= 120:
                break
            await asyncio.sleep(0.025)
    finally:
        await sink.close()
    assert 1 < len(messages) < 60  # the first went alone, the rest gathered
    assert max(int(m.headers["records"]) for m in messages) <= 2 * 8  # max_batch requests
    got = [r for m in messages for r in decode_records(m.body)]
    assert sorted(got, key=lambda r: (r.session_id, r.seq)) == sorted(
        (r for recs in sessions for r in recs), key=lambda r: (r.session_id, r.seq)
    )
    for m in messages:  # each message is named after its last record
        last = decode_records(m.body)[-1]
        assert m.message_id == f"gc:{last.session_id}:{last.seq}"


async def test_a_failed_batch_fails_each_request_with_its_own_turn(
    amqp_url: str, mongo: MongoArchive
) -> None:
    """The queue is deleted under the sink: every publish is returned unroutable. Each
    request of a batch gets its own retryable error; with the MongoDB fallback each one's
    records are written there instead."""
    for fallback in ("none", "mongo"):
        queue = unique("q")
        sink = AmqpSink(amqp_url, queue=queue, mongo=mongo, fallback=fallback)
        sessions = [counter_session(1, tenant=f"fail-{fallback}")[1] for _ in range(20)]
        try:
            await sink.connect()
            conn = await aio_pika.connect(amqp_url)
            try:
                await (await conn.channel()).queue_delete(queue)
            finally:
                await conn.close()
            results = await asyncio.gather(
                *(sink.publish(*recs) for recs in sessions), return_exceptions=True
            )
        finally:
            await sink.close()
        if fallback == "none":
            for recs, result in zip(sessions, results, strict=True):
                assert isinstance(result, StoreUnavailableError) and result.retryable
                assert result.details["session_id"] == recs[-1].session_id
                assert recs[-1].session_id in result.message
        else:
            assert results == [None] * 20
            assert await mongo.count_turns("fail-mongo") == 20


async def test_unreachable_broker_is_a_retryable_error(mongo: MongoArchive) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    sink = AmqpSink(url, queue=unique("q"), mongo=mongo, connect_timeout_s=1)
    _, records = counter_session(1)
    with pytest.raises(StoreUnavailableError) as err:
        await sink.publish(records[0])
    assert err.value.retryable and err.value.message.startswith("RabbitMQ unreachable (amqp ")
    await sink.close()


async def test_unreachable_broker_falls_back_to_mongo_when_configured(
    mongo: MongoArchive,
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    sink = AmqpSink(url, queue=unique("q"), mongo=mongo, fallback="mongo", connect_timeout_s=1)
    _, records = counter_session(2, tenant="fb")
    for r in [*records, records[0]]:
        await sink.publish(r)
    assert await mongo.count_turns("fb") == 2
    await sink.close()


def test_fallback_without_mongo_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="needs a MongoDB archive"):
        AmqpSink("amqp://x/", fallback="mongo")


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
async def test_queue_type_and_dead_letter_topology(
    amqp_url: str, mongo: MongoArchive, queue_type: str
) -> None:
    queue = unique("q")
    sink = AmqpSink(amqp_url, queue=queue, queue_type=queue_type)  # type: ignore[arg-type]
    _, records = counter_session(1)
    try:
        await sink.publish(records[0])
    finally:
        await sink.close()
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        q = await ch.get_queue(queue)
        msg = await get_one(q, no_ack=False)
        assert msg.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert msg.message_id == f"acme:{records[0].session_id}:1"
        await msg.nack(requeue=False)  # rejected: the DLX routes it to the DLQ
        dlq = await ch.get_queue(dlq_name(queue))
        dead = await get_one(dlq, no_ack=True)
        assert dead.message_id == msg.message_id
        # re-declaring with another type is refused by the broker: the type is really set
        other = "classic" if queue_type == "quorum" else "quorum"
        ch2 = await conn.channel()
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await ch2.declare_queue(queue, durable=True, arguments={"x-queue-type": other})
    finally:
        await conn.close()
