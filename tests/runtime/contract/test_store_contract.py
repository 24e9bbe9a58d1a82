"""The SessionStore contract, run against every store (memory, Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
import pytest

from runtime.ports import ConflictError, SessionNotFoundError, SessionStore
from tests.runtime.contract.helpers import new_state, record_of

StoreFactory = Callable[[float], SessionStore]


async def test_load_missing_is_none(store: SessionStore) -> None:
    assert await store.load("acme", "nobody") is None


async def test_create_then_load_round_trips_state(store: SessionStore) -> None:
    s0 = new_state(0)
    await store.save(s0, expected_seq=None)
    got = await store.load("acme", s0.session_id)
    assert got is not None
    assert got.state == s0
    assert got.state.digest() == s0.digest()
    assert (got.last_response, got.idempotency_key, got.unconfirmed) == (None, None, None)


async def test_create_twice_conflicts_with_current_seq(store: SessionStore) -> None:
    s0 = new_state(0)
    await store.save(s0, expected_seq=None)
    with pytest.raises(ConflictError) as err:
        await store.save(s0, expected_seq=None)
    assert err.value.current_seq == 0


async def test_cas_advances_and_stale_seq_conflicts(store: SessionStore) -> None:
    s0 = new_state(0)
    await store.save(s0, expected_seq=None)
    s1 = s0.model_copy(update={"seq": 1, "memory": {"n": 1}})
    await store.save(s1, expected_seq=0, response=b'{"r":1}', idempotency_key="k1")
    s2 = s0.model_copy(update={"seq": 2})
    with pytest.raises(ConflictError) as err:
        await store.save(s2, expected_seq=0)  # a turn computed from the old state
    assert err.value.current_seq == 1
    assert err.value.code == "seq_conflict"
    got = await store.load("acme", s0.session_id)
    assert got is not None and got.state == s1


async def test_save_on_missing_session_with_expected_seq_is_not_found(
    store: SessionStore,
) -> None:
    with pytest.raises(SessionNotFoundError):
        await store.save(new_state(3), expected_seq=2)


async def test_response_and_idempotency_key_are_kept_until_next_turn(
    store: SessionStore,
) -> None:
    s0 = new_state(0)
    await store.save(s0, expected_seq=None, response=b"hello", idempotency_key="k0")
    got = await store.load("acme", s0.session_id)
    assert got is not None
    assert (got.last_response, got.idempotency_key) == (b"hello", "k0")
    s1 = s0.model_copy(update={"seq": 1})
    await store.save(s1, expected_seq=0, response=b"second")  # no key this time
    got = await store.load("acme", s0.session_id)
    assert got is not None
    assert (got.last_response, got.idempotency_key) == (b"second", None)


async def test_unconfirmed_record_until_mark_confirmed(store: SessionStore) -> None:
    s0 = new_state(0)
    await store.save(s0, expected_seq=None)
    s1 = s0.model_copy(update={"seq": 1})
    records = orjson.dumps([record_of(s1).model_dump(mode="json")])
    await store.save(s1, expected_seq=0, record=records)
    got = await store.load("acme", s0.session_id)
    assert got is not None and got.unconfirmed == records
    await store.mark_confirmed("acme", s0.session_id, 0)  # an older seq: a no-op
    got = await store.load("acme", s0.session_id)
    assert got is not None and got.unconfirmed == records
    await store.mark_confirmed("acme", s0.session_id, 1)
    got = await store.load("acme", s0.session_id)
    assert got is not None and got.unconfirmed is None and got.state == s1


async def test_a_save_sent_twice_is_applied_once(store: SessionStore) -> None:
    """A client library that sends one save twice (redis-py's cluster client re-sends the
    commands in flight when it drops its connections) must not turn a committed turn into
    a conflict; a different save of the same seq still conflicts."""
    s0 = new_state(0)
    start = orjson.dumps([record_of(s0).model_dump(mode="json")])
    await store.save(s0, expected_seq=None, record=start)
    await store.save(s0, expected_seq=None, record=start)  # the same create, again
    s1 = s0.model_copy(update={"seq": 1})
    mine = orjson.dumps([record_of(s1, text="uno").model_dump(mode="json")])
    other = orjson.dumps([record_of(s1, text="due").model_dump(mode="json")])
    await store.save(s1, expected_seq=0, response=b"r1", record=mine)
    await store.save(s1, expected_seq=0, response=b"r1", record=mine)  # again: applied
    with pytest.raises(ConflictError) as err:  # another request's turn 1: it lost
        await store.save(s1, expected_seq=0, response=b"r2", record=other)
    assert err.value.current_seq == 1
    with pytest.raises(ConflictError):  # the same turn, but another request (its own key)
        await store.save(s1, expected_seq=0, response=b"r1", idempotency_key="k2", record=mine)
    with pytest.raises(ConflictError):  # without records nothing proves it is the same
        await store.save(s1, expected_seq=0)
    got = await store.load("acme", s0.session_id)
    assert got is not None and got.state == s1
    assert (got.last_response, got.unconfirmed) == (b"r1", mine)
    await store.mark_confirmed("acme", s0.session_id, 1)
    with pytest.raises(ConflictError):  # once confirmed, a late copy is a conflict again
        await store.save(s1, expected_seq=0, record=mine)


async def test_mark_confirmed_after_next_turn_is_a_noop(store: SessionStore) -> None:
    s0 = new_state(0)
    await store.save(s0, expected_seq=None, record=b"[1]")
    s1 = s0.model_copy(update={"seq": 1})
    await store.save(s1, expected_seq=0, record=b"[2]")
    await store.mark_confirmed("acme", s0.session_id, 0)
    got = await store.load("acme", s0.session_id)
    assert got is not None and got.unconfirmed == b"[2]"


async def test_tenants_are_isolated(store: SessionStore) -> None:
    a = new_state(0, tenant="acme")
    b = a.model_copy(update={"tenant": "other", "seq": 5})
    await store.save(a, expected_seq=None)
    await store.save(b, expected_seq=None)
    got_a, got_b = await store.load("acme", a.session_id), await store.load("other", a.session_id)
    assert got_a is not None and got_a.state.seq == 0
    assert got_b is not None and got_b.state.seq == 5
    await store.delete("other", a.session_id)
    assert await store.load("other", a.session_id) is None
    assert await store.load("acme", a.session_id) is not None


async def test_concurrent_saves_on_one_session_exactly_one_wins(store: SessionStore) -> None:
    s0 = new_state(0)
    await store.save(s0, expected_seq=None)
    candidates = [s0.model_copy(update={"seq": 1, "memory": {"who": i}}) for i in range(8)]
    results = await asyncio.gather(
        *(store.save(c, expected_seq=0, response=b"%d" % i) for i, c in enumerate(candidates)),
        return_exceptions=True,
    )
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) and r.current_seq == 1 for r in results if r)
    got = await store.load("acme", s0.session_id)
    assert got is not None
    assert got.state.memory == {"who": winners[0]}
    assert got.last_response == b"%d" % winners[0]


async def test_ttl_is_set_and_refreshed(store: SessionStore) -> None:
    s0 = new_state(0)
    await store.save(s0, expected_seq=None)
    ttl = await store.ttl_remaining("acme", s0.session_id)  # type: ignore[attr-defined]
    assert ttl is not None and 3500 < ttl <= 3600
    await store.delete("acme", s0.session_id)
    assert await store.ttl_remaining("acme", s0.session_id) is None  # type: ignore[attr-defined]


async def test_session_expires_after_ttl(store_factory: StoreFactory) -> None:
    # a TTL long enough that the load right after the save never races it (0.2 s did, on
    # a loaded machine), and a poll for the expiry instead of a fixed sleep
    ttl = 1.0
    store = store_factory(ttl)
    s0 = new_state(0)
    loop = asyncio.get_running_loop()
    saved_by = loop.time()  # the save (and its TTL) starts after this
    await store.save(s0, expected_seq=None)
    assert await store.load("acme", s0.session_id) is not None
    while await store.load("acme", s0.session_id) is not None:
        assert loop.time() - saved_by < ttl + 10, "the session never expired"
        await asyncio.sleep(0.05)
    # not before its TTL (Redis counts in whole milliseconds: a little slack)
    assert loop.time() - saved_by >= ttl - 0.01
