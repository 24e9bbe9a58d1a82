"""Operator QA: the worker against records MongoDB cannot store as they are.

A backend's JSON answer becomes a turn's event (and, stored by the flow, the session's
memory): a key with a NUL character (``"\\u0000"``, valid JSON) is a valid turn record but
not a valid BSON document. Such a record must neither kill the worker (a crash loop on the
redelivered message, every later turn stuck in the queue) nor be lost: it is stored, in
a form MongoDB accepts, and read back as it was. Real RabbitMQ and MongoDB-wire server."""

from __future__ import annotations

import asyncio

import pytest

from runtime.mongo import MongoArchive
from runtime.recovery import recover
from runtime.sinks.amqp import AmqpSink
from runtime.worker import Worker
from schemas.turns import TurnRecord
from tests.runtime._amqp_helpers import unique, wait_for_count
from tests.runtime.contract.helpers import counter_session, registry
from tests.servers import Servers, need

pytestmark = pytest.mark.servers

ODD = {"a\x00b": 1, "plain": "x"}  # a key BSON cannot hold (NUL); JSON and Redis can


def odd_session(tenant: str, turns: int = 4) -> list[TurnRecord]:
    """A counter session whose backend answered ``{"n": ODD}`` at turn 2: the event of
    turn 2 and the memory (so every later state) hold the NUL key."""
    return counter_session(
        turns,
        session_id=unique("odd-"),
        tenant=tenant,
        body=lambda i: {"n": ODD if i == 1 else i},
    )[1]


async def test_a_record_bson_cannot_hold_is_stored_and_the_queue_goes_on(
    amqp_url: str, mongo: MongoArchive
) -> None:
    queue = unique("q")
    odd = odd_session("odd")
    _, normal = counter_session(5, tenant="odd")  # published after: must not be stuck
    sink = AmqpSink(amqp_url, queue=queue)
    worker = Worker(amqp_url, mongo, queue=queue, batch=5)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        for r in [*odd, *normal]:
            await sink.publish(r)
        total = len(odd) + len(normal)
        assert await wait_for_count(mongo, "odd", total, timeout_s=30) == total
        assert not task.done(), task.exception()  # the worker is alive
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
        await sink.close()
    # read back exactly as published (the event with the NUL key included)
    sid = odd[0].session_id
    assert await mongo.turns_after("odd", sid, 0) == [
        r.model_copy(update={"state": r.state if r.seq == 1 else None}) for r in odd
    ]
    snap = await mongo.snapshot("odd", sid)
    assert snap is not None and snap == odd[-1].state
    # and the session recovers from it, digests checked
    got = await recover("odd", sid, min_seq=odd[-1].seq, mongo=mongo, programs=registry())
    assert got is not None and got.digest() == odd[-1].state_digest


async def test_a_critical_write_of_such_a_record_is_stored_too(mongo: MongoArchive) -> None:
    """The same record written by the API before its answer (a critical turn, the broker
    fallback, the MongoDB-only sink): ``write_batch`` stores it rather than raising
    PyMongo's InvalidDocument (a 500 for a turn whose state is already saved)."""
    odd = odd_session("odd2", turns=3)
    assert await mongo.write_batch(odd) == 3
    assert await mongo.write_batch(odd) == 0  # idempotent, as ever
    sid = odd[0].session_id
    assert [r.seq for r in await mongo.turns_after("odd2", sid, 0)] == [1, 2, 3]
    assert await mongo.snapshot("odd2", sid) == odd[-1].state


async def test_sigterm_while_rabbitmq_is_down_stops_the_worker(
    servers: Servers, mongo: MongoArchive
) -> None:
    """``ddtflow worker`` stops on SIGTERM "after the batch in hand" — also while the broker
    is down: cancelling the consumer used to wait for the reconnection without a bound, so
    the worker hung until it was killed. (Unacknowledged messages are redelivered: nothing
    is lost either way; the operator's stop must still stop.)"""
    rabbit = need(servers.rabbitmq)
    queue = unique("q")
    worker = Worker(rabbit.url, mongo, queue=queue)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        await asyncio.to_thread(rabbit.server.stop)  # the broker goes away (shut down)
        worker.stop()  # what SIGTERM does
        stats = await asyncio.wait_for(task, 20)  # a bound, not a delay
        assert stats.written == 0 and stats.poison == 0
    finally:
        if not task.done():
            task.cancel()
        await asyncio.to_thread(rabbit.server.start)  # the shared broker, back for the others
