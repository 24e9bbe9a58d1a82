"""RedisStore specifics: key layout, compact state, errors, Sentinel and Cluster URLs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from redis.exceptions import DataError

from runtime.ports import ConflictError, StoreUnavailableError
from runtime.stores.redis import AutoPipeline, HiredisPacking, RedisStore, session_key
from tests.runtime.contract.helpers import new_state
from tests.servers import Servers, free_port, need


def test_session_key_is_tenant_prefixed_and_hash_tagged() -> None:
    assert session_key("acme", "s1") == "ddtflow:{acme:s1}"


async def test_one_compact_hash_per_session_with_ttl(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url, ttl_s=120)
    client = aioredis.Redis.from_url(redis_url)
    try:
        s0 = new_state(0)
        await store.save(s0, expected_seq=None, response=b"r", idempotency_key="k")
        key = session_key("acme", s0.session_id)
        raw = await client.hgetall(key)
        assert set(raw) == {b"seq", b"state", b"resp", b"ikey"}
        assert raw[b"seq"] == b"0"
        # defaults are left out: only what differs from a fresh state is stored
        assert orjson.loads(raw[b"state"]) == {
            "session_id": s0.session_id,
            "tenant": "acme",
            "program_id": s0.program_id,
            "memory": {"patient": {"name": "Anna"}},
            "status": "waiting_input",
        }
        assert 110_000 < await client.pttl(key) <= 120_000
        await client.pexpire(key, 5_000)
        await store.save(s0.model_copy(update={"seq": 1}), expected_seq=0)
        assert await client.pttl(key) > 110_000  # refreshed by the turn
    finally:
        await client.aclose()
        await store.close()


async def test_unreachable_redis_is_an_error_not_a_fallback() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
    try:
        with pytest.raises(StoreUnavailableError) as err:
            await store.load("acme", "s1")
        assert err.value.retryable
        assert err.value.message.startswith("session store unavailable (redis://127.0.0.1:")
        with pytest.raises(StoreUnavailableError):
            await store.save(new_state(0), expected_seq=None)
    finally:
        await store.close()


async def test_a_failure_inside_the_client_library_is_retryable(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What redis-py raised outside its own error classes during a cluster topology change
    (an AttributeError on a dropped connection) reaches the caller as a retryable store
    error; its traceback goes to our log only."""
    store = RedisStore.from_url(redis_url)

    async def broken() -> None:
        raise AttributeError("'NoneType' object has no attribute 'writelines'")

    try:
        with pytest.raises(StoreUnavailableError) as err:
            await store._call("save", broken)
        assert err.value.retryable
        assert "the Redis client failed: AttributeError" in err.value.message
        assert any(r.exc_info and r.levelname == "ERROR" for r in caplog.records)
        await store.save(new_state(0), expected_seq=None)  # the store itself goes on
    finally:
        await store.close()


async def test_a_state_that_does_not_validate_is_reported(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.hset(session_key("acme", "broken"), mapping={"seq": 1, "state": b"{}"})
        with pytest.raises(StoreUnavailableError, match="holds a state that does not validate"):
            await store.load("acme", "broken")
    finally:
        await client.aclose()
        await store.close()


def test_password_is_not_shown_in_errors() -> None:
    store = RedisStore.from_url("redis://:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in store.where


async def test_sentinel_url(servers: Servers) -> None:
    primary, sentinel = need(servers.redis_sentinel)
    store = RedisStore.from_url(f"redis+sentinel://127.0.0.1:{sentinel.port}/mymaster/0")
    direct = RedisStore.from_url(primary.url)
    try:
        s0 = new_state(0)
        await store.save(s0, expected_seq=None)
        got = await direct.load("acme", s0.session_id)  # it went to the monitored primary
        assert got is not None and got.state == s0
    finally:
        await store.close()
        await direct.close()


async def test_sentinel_url_must_name_the_service() -> None:
    with pytest.raises(ValueError, match="a Sentinel URL names the service"):
        RedisStore.from_url("redis+sentinel://127.0.0.1:26379")


async def test_cluster(servers: Servers) -> None:
    node = need(servers.redis_cluster)
    store = RedisStore.from_url(node.url, cluster=True)
    try:
        s0 = new_state(0)
        await store.save(s0, expected_seq=None, record=b"[]")
        await store.save(s0.model_copy(update={"seq": 1}), expected_seq=0, record=b"[1]")
        await store.mark_confirmed("acme", s0.session_id, 1)
        got = await store.load("acme", s0.session_id)
        assert got is not None and got.state.seq == 1 and got.unconfirmed is None
    finally:
        await store.close()


async def test_concurrent_commands_are_batched_and_each_gets_its_own_answer(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    pipe = AutoPipeline(client)
    ns = f"ap:{uuid.uuid4().hex}"  # keys of this run alone
    try:
        await client.set(f"{ns}:k", b"v")
        results = await asyncio.gather(
            *(pipe.execute("INCR", f"{ns}:n{i % 7}") for i in range(200)),
            pipe.execute("GET", f"{ns}:k"),
            pipe.execute("INCR", f"{ns}:k"),  # an error: for its caller only
            return_exceptions=True,
        )
        # the first command went alone; the rest gathered while it was in flight
        assert pipe.group.largest_batch > 1 and pipe.group.round_trips < 202
        assert results[200] == b"v"
        assert isinstance(results[201], aioredis.ResponseError)
        for i in range(7):  # every INCR applied once, each caller saw its own count
            counts = sorted(r for j, r in enumerate(results[:200]) if j % 7 == i)
            assert counts == list(range(1, len(counts) + 1))
    finally:
        await client.aclose()


async def test_concurrent_turns_through_the_store(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    try:
        states = [new_state(0) for _ in range(50)]
        await asyncio.gather(*(store.save(s, expected_seq=None) for s in states))
        bumped = [s.model_copy(update={"seq": 1}) for s in states]
        await asyncio.gather(*(store.save(s, expected_seq=0, record=b"[]") for s in bumped))
        await asyncio.gather(*(store.mark_confirmed("acme", s.session_id, 1) for s in bumped))
        loaded = await asyncio.gather(*(store.load("acme", s.session_id) for s in states))
        assert [x.state if x else None for x in loaded] == bumped
        assert all(x is not None and x.unconfirmed is None for x in loaded)
        # a lost race in a batch is that turn's conflict alone
        results = await asyncio.gather(
            *(store.save(s, expected_seq=0 if i == 3 else 1) for i, s in enumerate(bumped)),
            return_exceptions=True,
        )
        assert isinstance(results[3], ConflictError) and results[3].current_seq == 1
        assert all(r is None for i, r in enumerate(results) if i != 3)
    finally:
        await store.close()


async def test_scripts_are_loaded_again_when_the_server_lost_them(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    client = aioredis.Redis.from_url(redis_url)
    try:
        s0 = new_state(0)
        await store.save(s0, expected_seq=None)
        await client.script_flush()  # as after a restart or a failover
        await store.save(s0.model_copy(update={"seq": 1}), expected_seq=0, record=b"[]")
        await client.script_flush()
        await store.mark_confirmed("acme", s0.session_id, 1)
        stored = await store.load("acme", s0.session_id)
        assert stored is not None and stored.state.seq == 1 and stored.unconfirmed is None
    finally:
        await client.aclose()
        await store.close()


def test_hiredis_packing_matches_redis_py_byte_for_byte() -> None:
    plain = aioredis.Connection()
    packed = type("P", (HiredisPacking, aioredis.Connection), {})()
    commands: list[tuple[Any, ...]] = [
        ("HGETALL", "ddtflow:{acme:s1}"),
        ("EVALSHA", "a" * 40, 1, "k", "", "3", 3_600_000, "state", b'{"x":"\xc3\xa8"}'),
        ("SET", "città", "perché", "PX", 10),
        ("CONFIG GET", "maxmemory"),  # a two-word command name
        (b"CLIENT SETNAME", b"ddtflow"),
        ("SET", bytearray(b"k"), memoryview(b"v" * 70_000)),  # large: redis-py splits it
        ("INCRBY", "n", -7),
        ("ZADD", "z", 1.5, "a", 1e20, "b", 0.1, "c"),
    ]
    for cmd in commands:
        assert b"".join(packed.pack_command(*cmd)) == b"".join(plain.pack_command(*cmd)), cmd
    assert b"".join(packed.pack_commands(commands)) == b"".join(plain.pack_commands(commands))
    for bad in (None, True):  # what redis-py refuses, refused the same way
        with pytest.raises(DataError):
            plain.pack_command("SET", "k", bad)
        with pytest.raises(DataError):
            packed.pack_command("SET", "k", bad)


async def test_the_store_s_connections_pack_with_hiredis(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    try:
        assert isinstance(store.client, aioredis.Redis)
        assert issubclass(store.client.connection_pool.connection_class, HiredisPacking)
        s0 = new_state(0)
        await store.save(s0, expected_seq=None, record=b"[]")
        got = await store.load("acme", s0.session_id)
        assert got is not None and got.state == s0 and got.unconfirmed == b"[]"
    finally:
        await store.close()
