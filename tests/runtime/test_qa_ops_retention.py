"""Operator QA: the retention of an ended session when its turns reach MongoDB out of order.

The turn that ends a session is critical: the API writes it to MongoDB before its answer,
and its terminal snapshot puts ``expire_at`` on the session's turns. Earlier turns may
still be in the queue then (the worker behind, or another worker holding them, or a
redelivery after a worker was killed). When they land, they must get the same
``expire_at`` — else they outlive the retention forever (orphans of a session whose
snapshot and turn 1 the TTL index removed: a retention, and GDPR, leak)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from runtime.mongo import MongoArchive
from runtime.sinks.amqp import AmqpSink
from runtime.worker import Worker
from schemas.turns import TurnRecord
from tests.runtime._amqp_helpers import unique, wait_for_count
from tests.runtime.contract.helpers import counter_session

pytestmark = pytest.mark.servers


def ended_session(turns: int, tenant: str) -> list[TurnRecord]:
    """A counter session of ``turns`` records whose last one ends it (critical)."""
    _, records = counter_session(turns, tenant=tenant)
    last = records[-1]
    assert last.state is not None
    ended = last.state.model_copy(update={"status": "ended", "reason": "hangup"})
    records[-1] = last.model_copy(
        update={"state": ended, "state_digest": ended.digest(), "critical": True}
    )
    return records


async def expiries(mongo: MongoArchive, tenant: str, sid: str) -> dict[int, datetime | None]:
    docs = await mongo.turns.find({"tenant": tenant, "session_id": sid}).to_list(None)
    return {int(d["seq"]): d.get("expire_at") for d in docs}


async def test_turns_written_after_the_session_ended_get_its_expiry(mongo: MongoArchive) -> None:
    records = ended_session(6, "ret")
    sid = records[0].session_id
    await mongo.write_checked(records[:3])  # the worker had these
    await mongo.write_batch(records[-1:])  # the API: the critical end, before the answer
    await mongo.write_checked(records[3:5])  # the worker, late
    got = await expiries(mongo, "ret", sid)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    expected = datetime.now(UTC) + timedelta(days=30)
    late = {seq: at for seq, at in got.items() if at is None}
    assert not late, f"turns {sorted(late)} never expire"
    assert all(at is not None and abs(at - expected) < timedelta(minutes=5) for at in got.values())


async def test_through_the_queue_turns_the_worker_gets_after_the_end_get_the_expiry(
    amqp_url: str, mongo: MongoArchive
) -> None:
    """The same through RabbitMQ and a real worker: the end is written first (critical, and
    its message consumed), the earlier turns come after it (as from another worker, or
    redelivered after a worker was killed)."""
    queue = unique("q")
    records = ended_session(5, "ret2")
    sid = records[0].session_id
    sink = AmqpSink(amqp_url, queue=queue, mongo=mongo)
    worker = Worker(amqp_url, mongo, queue=queue)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        await sink.publish(records[-1])  # critical: in MongoDB when publish returns
        for _ in range(400):  # …and its message consumed (a duplicate for the worker)
            if worker.stats.duplicates >= 1:
                break
            await asyncio.sleep(0.05)
        assert worker.stats.duplicates == 1
        for r in records[:-1]:
            await sink.publish(r)
        assert await wait_for_count(mongo, "ret2", 5, timeout_s=30) == 5
        for _ in range(400):  # the batch is counted after its last write
            if worker.stats.written >= 4:
                break
            await asyncio.sleep(0.05)
        assert worker.stats.written == 4
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
        await sink.close()
    got = await expiries(mongo, "ret2", sid)
    assert sorted(got) == [1, 2, 3, 4, 5]
    late = sorted(seq for seq, at in got.items() if at is None)
    assert not late, f"turns {late} never expire"
