"""Shared helpers of the worker and fault tests: raw publishing, DLQ reads, unique names."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika

from runtime.mongo import MongoArchive, dumps
from runtime.sinks.amqp import declare_topology, dlq_name
from schemas.turns import TurnRecord


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def raw_channel(amqp_url: str, queue: str) -> AsyncIterator[Any]:
    conn = await aio_pika.connect(amqp_url)
    try:
        channel = await conn.channel(publisher_confirms=True)
        await declare_topology(channel, queue)
        yield channel
    finally:
        await conn.close()


async def publish_raw(channel: Any, queue: str, body: bytes, **props: Any) -> None:
    msg = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **props)
    await channel.default_exchange.publish(msg, routing_key=queue)


async def publish_records(channel: Any, queue: str, records: list[TurnRecord]) -> None:
    await asyncio.gather(*(publish_raw(channel, queue, dumps(r)) for r in records))


async def drain_dlq(channel: Any, queue: str) -> list[Any]:
    q = await channel.declare_queue(dlq_name(queue), passive=True)
    got = []
    while (m := await q.get(no_ack=True, fail=False)) is not None:
        got.append(m)
    return got


async def wait_for_count(mongo: MongoArchive, tenant: str, n: int, *, timeout_s: float = 60) -> int:
    """Poll MongoDB until the tenant has ``n`` turns (or the time is up); the count."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        count = await mongo.count_turns(tenant)
        if count >= n or asyncio.get_running_loop().time() > deadline:
            return count
        await asyncio.sleep(0.05)
