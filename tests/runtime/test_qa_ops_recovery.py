"""Operator QA: Redis loses sessions while the worker has not written their turns yet.

Real servers: a Redis of the test's own (flushed), RabbitMQ, the MongoDB-wire server; the
production wiring (``build_runtime``) and the real worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from compiler import compile_project
from runtime.settings import Settings
from runtime.wiring import Runtime, build_runtime
from runtime.worker import Worker
from schemas.events import UserInputEvent
from schemas.program import Program
from tests.servers import Servers, need

pytestmark = pytest.mark.servers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bank_card_block"


def bank_program() -> Program:
    result = compile_project(EXAMPLE)
    assert result.ok and result.program is not None
    return result.program


@pytest.fixture
async def flushable(servers: Servers, amqp_url: str, mongo_url: str) -> AsyncIterator[Runtime]:
    """The production runtime over a Redis of its own, a fresh queue and database."""
    redis = need(servers.extra_redis)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        REDIS_URL=redis.url,
        AMQP_URL=amqp_url,
        MONGO_URL=mongo_url,
        queue=f"qa.recovery.{tag}",
        mongo_db=f"qa_rec_{tag}",
        recovery_wait_s=30.0,  # a bound, not a delay: recovery returns as soon as it can
    )
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        if rt.mongo is not None:
            await rt.mongo.client.drop_database(settings.mongo_db)
        await rt.aclose()  # closes the sink's MongoDB client too


async def test_redis_flushed_before_the_worker_wrote_anything_recovers_not_404(
    flushable: Runtime,
) -> None:
    """A session whose only turn (the start: not critical) is still in the queue when Redis
    is flushed: the channel sends its next turn with the seq it was answered. MongoDB has
    nothing *yet*; the turn must wait for the worker and go on from the acknowledged state
    — not answer 404 "no such session" for a session the channel was answered 2xx for."""
    rt = flushable
    await rt.catalog.add("acme", bank_program())
    started = await rt.start(
        "acme",
        bank_program().id,
        language="it",
        channel="voice",
        variables={},
        session_id=None,
        idempotency_key=None,
    )
    assert started.seq == 1
    assert rt.mongo is not None
    assert await rt.mongo.max_seq("acme", started.session_id) is None  # no worker yet
    async with aioredis.Redis.from_url(rt.settings.redis_url or "") as client:
        await client.flushall()  # Redis loses every session

    event = UserInputEvent(at=datetime.now(UTC), text="sono nato il 12 marzo 1980")
    turn = asyncio.create_task(
        rt.turn("acme", started.session_id, event, seq=started.seq, idempotency_key="k2")
    )
    await asyncio.sleep(0.3)  # the channel's turn is waiting for MongoDB…
    worker = Worker(rt.settings.amqp_url or "", rt.mongo, queue=rt.settings.queue)
    running = asyncio.create_task(worker.run())  # …and the worker catches up
    try:
        answered = await asyncio.wait_for(turn, 60)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
    assert answered.session_id == started.session_id
    assert answered.seq == 2  # went on from seq 1: the acknowledged state, recovered
    state = await rt.state("acme", started.session_id)
    assert state.seq == 2 and state.memory["customer"]["birth_date"] == "1980-03-12"
