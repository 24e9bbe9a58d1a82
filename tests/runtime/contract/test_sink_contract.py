"""The TurnSink contract, run against every sink (JSONL; RabbitMQ + worker + MongoDB)."""

from __future__ import annotations

import asyncio

from schemas.turns import TurnRecord
from tests.runtime.contract.conftest import SinkEnv
from tests.runtime.contract.helpers import new_state, record_of


def bare(records: list[TurnRecord]) -> list[TurnRecord]:
    return [r.model_copy(update={"state": None}) for r in records]


async def test_published_records_are_durable_in_order(sink_env: SinkEnv) -> None:
    s = new_state(0)
    records = [record_of(s.model_copy(update={"seq": i}), text=f"t{i}") for i in range(1, 6)]
    for r in records:
        await sink_env.sink.publish(r)
    assert await sink_env.durable(len(records)) == bare(records)


async def test_publishing_twice_stores_one_record(sink_env: SinkEnv) -> None:
    s = new_state(0)
    r1 = record_of(s.model_copy(update={"seq": 1}))
    r2 = record_of(s.model_copy(update={"seq": 2}), critical=True)
    for r in (r1, r1, r2, r1, r2):
        await sink_env.sink.publish(r)
    assert await sink_env.durable(5) == bare([r1, r2])


async def test_concurrent_publishes_of_many_sessions(sink_env: SinkEnv) -> None:
    sessions = [new_state(0) for _ in range(5)]
    records = [record_of(s.model_copy(update={"seq": i})) for s in sessions for i in range(1, 5)]
    await asyncio.gather(*(sink_env.sink.publish(r) for r in records))
    got = await sink_env.durable(len(records))
    key = lambda r: (r.session_id, r.seq)  # noqa: E731
    assert sorted(got, key=key) == sorted(bare(records), key=key)


async def test_same_seq_in_other_tenant_is_another_record(sink_env: SinkEnv) -> None:
    a = new_state(1, tenant="acme")
    b = a.model_copy(update={"tenant": "other"})
    await sink_env.sink.publish(record_of(a))
    await sink_env.sink.publish(record_of(b))
    got = await sink_env.durable(2)
    assert sorted(r.tenant for r in got) == ["acme", "other"]
