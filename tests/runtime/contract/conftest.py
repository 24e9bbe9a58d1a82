"""Fixtures of the contract suite: every store and every sink behind one interface."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from runtime.ports import SessionStore
from runtime.stores.memory import MemoryStore

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
