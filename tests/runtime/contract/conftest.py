"""Fixtures of the contract suite: every store and every sink behind one interface."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runtime.mongo import MongoArchive, record_from_doc
from runtime.ports import SessionStore, TurnSink
from runtime.sinks.amqp import AmqpSink
from runtime.sinks.jsonl import JsonlSink, read_turns
from runtime.stores.memory import MemoryStore
from runtime.worker import Worker
from schemas.turns import TurnRecord

StoreFactory = Callable[[float], SessionStore]


@pytest.fixture(params=["memory", "redis"])
async def store_factory(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """Opens stores of the parametrised kind with a given TTL; closes them after the test."""
    opened: list[SessionStore] = []
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    def make(ttl_s: float = 3600) -> SessionStore:
        if request.param == "memory":
            s: SessionStore = MemoryStore(ttl_s=ttl_s)
        else:
            from runtime.stores.redis import RedisStore

            s = RedisStore.from_url(url, ttl_s=ttl_s)
        opened.append(s)
        return s

    try:
        yield make
    finally:
        for s in opened:
            await s.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> SessionStore:
    return store_factory(3600)


class SinkEnv:
    """A sink and a way to read back what it made durable (after the worker, for AMQP)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sink: TurnSink
        self.worker: Worker | None = None
        self.mongo: MongoArchive | None = None
        self.path: Path | None = None

    async def durable(self, published: int) -> list[TurnRecord]:
        """Every record made durable, once all ``published`` messages were processed
        (without ``state``: MongoDB keeps states as per-session snapshots)."""
        if self.kind == "jsonl":
            assert self.path is not None
            found = list(read_turns(self.path)) if self.path.exists() else []
            return [r.model_copy(update={"state": None}) for r in found]
        assert self.worker is not None and self.mongo is not None
        deadline = asyncio.get_running_loop().time() + 30
        while self.worker.stats.written + self.worker.stats.duplicates < published:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"worker processed {self.worker.stats} of {published}")
            await asyncio.sleep(0.02)
        docs = await self.mongo.turns.find({}).sort([("session_id", 1), ("seq", 1)]).to_list(None)
        return [record_from_doc(d) for d in docs]


@pytest.fixture(params=["jsonl", "amqp+mongo"])
async def sink_env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SinkEnv]:
    env = SinkEnv(request.param)
    if request.param == "jsonl":
        env.path = tmp_path / "turns.jsonl"
        env.sink = JsonlSink(env.path)
        try:
            yield env
        finally:
            await env.sink.close()
        return
    amqp_url = request.getfixturevalue("amqp_url")
    mongo_url = request.getfixturevalue("mongo_url")
    name = f"t{uuid.uuid4().hex[:10]}"
    env.mongo = MongoArchive.from_url(mongo_url, name)
    env.sink = AmqpSink(amqp_url, queue=name, mongo=env.mongo)
    env.worker = Worker(amqp_url, env.mongo, queue=name, batch=50)
    task = asyncio.create_task(env.worker.run())
    await asyncio.wait_for(env.worker.ready.wait(), 30)
    try:
        yield env
    finally:
        env.worker.stop()
        await asyncio.wait_for(task, 30)
        await env.sink.close()
        await env.mongo.client.drop_database(name)
        await env.mongo.close()
