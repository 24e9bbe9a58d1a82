"""RedisStore through a real Sentinel failover and on a real three-node Redis Cluster.

Sentinel: a primary, its replica and one Sentinel (quorum 1, down after 1000 ms). The
primary is SIGKILLed (or handed over with SENTINEL FAILOVER); the store must find the
promoted replica by itself, meanwhile failing only with ``StoreUnavailableError``
(retryable), and keep every session the replica had applied and the compare-and-set on
``seq``.
Cluster: three primaries sharing the 16384 slots; sessions land on all three nodes and
every operation of the store reaches the node that owns the session's slot.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from runtime.ports import ConflictError, StoredSession, StoreUnavailableError
from runtime.stores.redis import RedisStore, session_key
from schemas.session import SessionState
from tests.runtime.contract.helpers import new_state
from tests.servers import (
    RedisServer,
    Servers,
    need,
    redis_command,
    sentinel_primary,
    wait_replicated,
)

T = TypeVar("T")
RECOVERY_S = 30.0  # a failover here takes 2–4 s: down after 1 s, election, promotion


async def retry_unavailable(
    op: Callable[[], Awaitable[T]], errors: list[StoreUnavailableError]
) -> T:
    """``op()`` again after each StoreUnavailableError (kept in ``errors``) until it
    succeeds, for at most RECOVERY_S; any other exception goes up at once."""
    deadline = time.monotonic() + RECOVERY_S
    while True:
        try:
            return await op()
        except StoreUnavailableError as exc:
            errors.append(exc)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the store did not recover within {RECOVERY_S:.0f} s "
                    f"({len(errors)} errors, the last: {exc.message})"
                )
            await asyncio.sleep(0.1)


def turn(state: SessionState, n: int) -> SessionState:
    """The state after one more turn: seq + 1 and something new in memory."""
    return state.model_copy(update={"seq": state.seq + 1, "memory": {**state.memory, "n": n}})


async def save_sessions(store: RedisStore, count: int) -> dict[str, StoredSession]:
    """``count`` sessions at seq 1, their turn records confirmed for the even ones: what
    each should load as."""
    states = [new_state(0) for _ in range(count)]
    await asyncio.gather(
        *(store.save(s, expected_seq=None, response=b"r0", idempotency_key="k0") for s in states)
    )
    bumped = [turn(s, i) for i, s in enumerate(states)]
    await asyncio.gather(
        *(
            store.save(
                s,
                expected_seq=0,
                response=b"r1-%d" % i,
                idempotency_key=f"k1-{i}",
                record=b"[%d]" % i,
            )
            for i, s in enumerate(bumped)
        )
    )
    await asyncio.gather(*(store.mark_confirmed(s.tenant, s.session_id, 1) for s in bumped[::2]))
    return {
        s.session_id: StoredSession(
            state=s,
            last_response=b"r1-%d" % i,
            idempotency_key=f"k1-{i}",
            unconfirmed=None if i % 2 == 0 else b"[%d]" % i,
        )
        for i, s in enumerate(bumped)
    }


async def assert_all_load(store: RedisStore, want: dict[str, StoredSession]) -> None:
    ids = list(want)
    loaded = await asyncio.gather(*(store.load("acme", sid) for sid in ids))
    wrong = [sid for sid, got in zip(ids, loaded, strict=True) if got != want[sid]]
    assert not wrong, (
        f"{len(wrong)} of {len(ids)} sessions differ, e.g. {wrong[0]}: "
        f"{loaded[ids.index(wrong[0])]!r} instead of {want[wrong[0]]!r}"
    )


def role(port: int) -> bytes:
    """b"master" or b"slave" (ROLE's first element)."""
    reply = redis_command(port, "ROLE")
    assert isinstance(reply, list) and isinstance(reply[0], bytes)
    return reply[0]


def stop(*servers: RedisServer) -> None:
    """Stop a test's own servers now (``Servers.close`` would at the end of the session)."""
    for s in servers:
        s.server.stop()


def assert_only_retryable(
    errors: list[StoreUnavailableError], caplog: pytest.LogCaptureFixture
) -> None:
    """What the failover cost the callers: retryable errors only, and nothing logged with
    a traceback (no 'Task exception was never retrieved', no unwrapped redis error)."""
    for exc in errors:
        assert type(exc) is StoreUnavailableError and exc.retryable
        assert exc.message.startswith("session store unavailable (redis+sentinel://"), exc
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    for r in caplog.records:
        if r.levelno >= logging.WARNING:
            assert r.name == "ddtflow.store.redis", (r.name, r.getMessage())


# -- Sentinel -----------------------------------------------------------------------------


def sentinel_store(port: int) -> RedisStore:
    """The store as a service configures it: through the Sentinel, short timeouts."""
    return RedisStore.from_url(f"redis+sentinel://127.0.0.1:{port}/mymaster/0", timeout_s=1.0)


async def test_sentinel_failover_after_the_primary_is_killed(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    primary, replica, sentinel = need(servers.redis_sentinel_failover)
    store = sentinel_store(sentinel.port)
    try:
        want = await save_sessions(store, 40)
        # applied by the replica before the crash: a failover keeps exactly these
        wait_replicated(primary.port, replica.port)
        primary.server.kill()  # SIGKILL: no shutdown, sockets reset

        errors: list[StoreUnavailableError] = []
        probe = new_state(0)  # a new session, created while the primary is gone
        # within RECOVERY_S, or it fails naming the last error
        await retry_unavailable(lambda: store.save(probe, expected_seq=None), errors)

        assert errors, "the save must have failed while no primary was announced"
        assert sentinel_primary(sentinel.port) == replica.port
        assert role(replica.port) == b"master"
        assert_only_retryable(errors, caplog)

        # every replicated session, exactly as saved, from the promoted replica
        await assert_all_load(store, want)
        direct = RedisStore.from_url(f"redis://127.0.0.1:{replica.port}/0")
        try:
            await assert_all_load(direct, want)
            got = await direct.load("acme", probe.session_id)
            assert got is not None and got.state == probe
        finally:
            await direct.close()

        # compare-and-set on seq still decides, on the new primary
        sid = next(iter(want))
        cur = want[sid].state
        await store.save(turn(cur, 99), expected_seq=1, record=b"[99]")
        with pytest.raises(ConflictError) as stale:
            await store.save(turn(cur, 98), expected_seq=1)
        assert stale.value.current_seq == 2
        await store.mark_confirmed("acme", sid, 2)
        after = await store.load("acme", sid)
        assert after is not None and after.state == turn(cur, 99) and after.unconfirmed is None
        with pytest.raises(ConflictError):
            await store.save(probe, expected_seq=None)  # it exists: created once only
    finally:
        await store.close()
        stop(sentinel, replica, primary)


async def test_sentinel_handover_to_the_replica_demotes_the_old_primary(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    """SENTINEL FAILOVER (planned): the old primary lives on as a replica, and the store's
    pooled connections to it meet READONLY on the first write; the store must move to
    the new primary, not fail its callers for good nor write to the demoted node."""
    caplog.set_level(logging.WARNING)
    primary, replica, sentinel = need(servers.redis_sentinel_failover)
    store = sentinel_store(sentinel.port)
    try:
        want = await save_sessions(store, 20)
        wait_replicated(primary.port, replica.port)  # the Sentinel does not check

        assert redis_command(sentinel.port, "SENTINEL", "FAILOVER", "mymaster") == b"OK"
        deadline = time.monotonic() + RECOVERY_S
        while sentinel_primary(sentinel.port) != replica.port:
            assert time.monotonic() < deadline, "the Sentinel did not hand over"
            await asyncio.sleep(0.05)
        # what the Sentinel does to the old primary once it sees it again (its INFO every
        # 10 s): make it a replica of the new one
        redis_command(primary.port, "REPLICAOF", "127.0.0.1", str(replica.port))
        wait_replicated(replica.port, primary.port)
        assert role(primary.port) == b"slave"

        errors: list[StoreUnavailableError] = []
        await assert_all_load(store, want)  # the demoted node is in sync: reads agree
        sid = next(iter(want))
        cur = want[sid].state
        await retry_unavailable(
            lambda: store.save(turn(cur, 7), expected_seq=1, record=b"[7]"), errors
        )
        assert_only_retryable(errors, caplog)
        # the store's connection to the demoted node met READONLY: the case under test
        errorstats = redis_command(primary.port, "INFO", "errorstats")
        assert isinstance(errorstats, bytes) and b"errorstat_READONLY:count=" in errorstats
        # the write is on the new primary (the demoted one only replicates it)
        direct = RedisStore.from_url(f"redis://127.0.0.1:{replica.port}/0")
        try:
            got = await direct.load("acme", sid)
            assert got is not None and got.state == turn(cur, 7) and got.unconfirmed == b"[7]"
        finally:
            await direct.close()
        with pytest.raises(ConflictError) as stale:
            await store.save(turn(cur, 8), expected_seq=1)
        assert stale.value.current_seq == 2
        await store.mark_confirmed("acme", sid, 2)
        after = await store.load("acme", sid)
        assert after is not None and after.unconfirmed is None
    finally:
        await store.close()
        stop(sentinel, replica, primary)


# -- Cluster ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(servers: Servers) -> Iterator[list[RedisServer]]:
    """Three primaries, slots 0–5460, 5461–10921, 10922–16383; stopped after this module."""
    nodes = need(servers.redis_cluster_nodes)
    yield nodes
    for node in nodes:
        node.server.stop()


def owners(nodes: list[RedisServer]) -> list[tuple[int, int, int]]:
    """(first slot, last slot, port) of every slot range, from CLUSTER SLOTS."""
    reply = redis_command(nodes[0].port, "CLUSTER", "SLOTS")
    assert isinstance(reply, list)
    ranges = []
    for entry in reply:
        assert isinstance(entry, list)
        low, high, node = entry[0], entry[1], entry[2]
        assert isinstance(low, int) and isinstance(high, int) and isinstance(node, list)
        port = node[1]
        assert isinstance(port, int)
        ranges.append((low, high, port))
    return ranges


def node_of(key: str, nodes: list[RedisServer], ranges: list[tuple[int, int, int]]) -> int:
    slot = redis_command(nodes[0].port, "CLUSTER", "KEYSLOT", key)
    assert isinstance(slot, int)
    return next(port for low, high, port in ranges if low <= slot <= high)


def redirections(nodes: list[RedisServer]) -> int:
    """MOVED and ASK answers the nodes gave so far (a command sent to the wrong node)."""
    total = 0
    for node in nodes:
        stats = redis_command(node.port, "INFO", "errorstats")
        assert isinstance(stats, bytes)
        for line in stats.decode().splitlines():
            if line.startswith(("errorstat_MOVED:", "errorstat_ASK:")):
                total += int(line.split("count=", 1)[1].split(",", 1)[0])
    return total


async def test_cluster_of_three_sessions_on_every_node(cluster: list[RedisServer]) -> None:
    """A fresh store's first burst (60 concurrent creates) goes straight to the right nodes;
    redis-py alone sent it to one node, and a save could run twice (a conflict with
    itself) when it dropped its connections after the redirections."""
    ranges = owners(cluster)
    assert sorted(p for _, _, p in ranges) == sorted(n.port for n in cluster)
    moved = redirections(cluster)
    store = RedisStore.from_url(cluster[0].url, cluster=True)
    try:
        want = await save_sessions(store, 60)
        await assert_all_load(store, want)

        # where each session is: the node owning its slot, and only there
        placed: dict[int, int] = {n.port: 0 for n in cluster}
        for sid in want:
            key = session_key("acme", sid)
            port = node_of(key, cluster, ranges)
            assert redis_command(port, "EXISTS", key) == 1, (key, port)
            placed[port] += 1
        assert all(count > 0 for count in placed.values()), placed
        assert sum(placed.values()) == 60

        # compare-and-set on every node: a stale seq and a second create are conflicts
        results = await asyncio.gather(
            *(store.save(w.state, expected_seq=0) for w in want.values()),
            *(store.save(new_state(0, session_id=sid), expected_seq=None) for sid in want),
            return_exceptions=True,
        )
        assert all(isinstance(r, ConflictError) and r.current_seq == 1 for r in results)
        await asyncio.gather(*(store.mark_confirmed("acme", sid, 1) for sid in want))
        loaded = await asyncio.gather(*(store.load("acme", sid) for sid in want))
        assert all(x is not None and x.unconfirmed is None for x in loaded)
        assert [x.state for x in loaded if x] == [w.state for w in want.values()]
        assert await store.load("acme", f"absent-{uuid.uuid4().hex}") is None
        assert redirections(cluster) == moved  # every command reached its slot's owner
    finally:
        await store.close()


async def test_cluster_of_three_concurrent_turns(cluster: list[RedisServer]) -> None:
    moved = redirections(cluster)
    store = RedisStore.from_url(cluster[0].url, cluster=True)
    try:
        states = [new_state(0) for _ in range(60)]
        await asyncio.gather(*(store.save(s, expected_seq=None, record=b"[0]") for s in states))

        async def turns(state: SessionState, rounds: int) -> SessionState:
            """A session's turns one after another: load, save seq + 1, confirm."""
            for r in range(rounds):
                stored = await store.load(state.tenant, state.session_id)
                assert stored is not None and stored.state == state
                state = turn(state, r)
                await store.save(state, expected_seq=state.seq - 1, record=b"[%d]" % r)
                await store.mark_confirmed(state.tenant, state.session_id, state.seq)
            return state

        finals = await asyncio.gather(*(turns(s, 5) for s in states))
        assert all(f.seq == 5 and f.memory["n"] == 4 for f in finals)

        # two turns of one session racing on every session: exactly one wins each race
        races = await asyncio.gather(
            *(store.save(turn(f, 100 + k), expected_seq=5) for f in finals for k in range(2)),
            return_exceptions=True,
        )
        for i, f in enumerate(finals):
            a, b = races[2 * i], races[2 * i + 1]
            assert (a is None) != (b is None), (a, b)
            lost = b if a is None else a
            assert isinstance(lost, ConflictError) and lost.current_seq == 6
            winner = turn(f, 100 if a is None else 101)
            got = await store.load(f.tenant, f.session_id)
            assert got is not None and got.state == winner and got.unconfirmed is None
        assert redirections(cluster) == moved
    finally:
        await store.close()
