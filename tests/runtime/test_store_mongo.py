"""MongoArchive on the MongoDB-wire server: idempotent turns, version-guarded snapshots,
retention of ended sessions, programs."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from runtime.mongo import MongoArchive
from runtime.ports import StoreUnavailableError
from tests.runtime._amqp_helpers import unique
from tests.runtime.contract.helpers import counter_program, counter_session
from tests.servers import free_port


@pytest.fixture
async def mongo(mongo_url: str) -> AsyncIterator[MongoArchive]:
    archive = MongoArchive.from_url(mongo_url, unique("m"), retention_days=2)
    try:
        yield archive
    finally:
        await archive.client.drop_database(archive.db.name)
        await archive.close()


async def test_turns_are_written_once(mongo: MongoArchive) -> None:
    _, records = counter_session(5)
    assert await mongo.write_turns(records[:3]) == 3
    assert await mongo.write_turns(records) == 2  # the first three were already there
    assert await mongo.write_turns(records) == 0
    assert await mongo.count_turns("acme", records[0].session_id) == 5
    assert await mongo.max_seq("acme", records[0].session_id) == 5
    assert await mongo.max_seq("acme", "nobody") is None
    got = await mongo.turns_after("acme", records[0].session_id, 2)
    assert [r.seq for r in got] == [3, 4, 5]


async def test_snapshot_only_moves_forward(mongo: MongoArchive) -> None:
    _, records = counter_session(4)
    states = [r.state for r in records if r.state is not None]
    await mongo.write_snapshots([states[2]])
    await mongo.write_snapshots([states[0], states[1]])  # older: ignored
    assert await mongo.snapshot("acme", records[0].session_id) == states[2]
    await mongo.write_snapshots([states[3], states[1]])  # the newest of a batch wins
    assert await mongo.snapshot("acme", records[0].session_id) == states[3]


async def test_ended_sessions_get_the_retention_ttl(mongo: MongoArchive) -> None:
    _, records = counter_session(3)
    last = records[-1].state
    assert last is not None
    await mongo.write_batch(records)
    sid = records[0].session_id
    doc = await mongo.sessions.find_one({"session_id": sid})
    assert doc is not None and "expire_at" not in doc
    ended = last.model_copy(update={"seq": last.seq + 1, "status": "ended", "reason": "done"})
    await mongo.write_snapshots([ended])
    doc = await mongo.sessions.find_one({"session_id": sid})
    assert doc is not None and doc["status"] == "ended"
    expected = datetime.now(UTC) + timedelta(days=2)
    assert abs(doc["expire_at"] - expected) < timedelta(minutes=5)
    turns = await mongo.turns.find({"session_id": sid}).to_list(None)
    assert turns and all(abs(t["expire_at"] - expected) < timedelta(minutes=5) for t in turns)
    indexes = {i["name"]: i for i in await (await mongo.sessions.list_indexes()).to_list(None)}
    assert indexes["ttl"]["expireAfterSeconds"] == 0
    tindexes = {i["name"]: i for i in await (await mongo.turns.list_indexes()).to_list(None)}
    assert tindexes["tenant_session_seq"]["unique"] is True


async def test_sessions_named_by_id_come_a_page_per_query_in_the_order_given(
    mongo: MongoArchive,
) -> None:
    """In the order named (an id named twice once), each whole and in seq order, an id with
    no stored turn with none; pages of two ids: three queries for five ids."""
    program = None
    for sid, n in (("s-b", 3), ("s-a", 2), ("s-c", 4)):
        program, records = counter_session(n, session_id=sid)
        await mongo.write_turns(records)
    assert program is not None
    got = [
        (sid, [d["seq"] for d in docs])
        async for sid, docs in mongo.named_sessions(
            "acme", ["s-c", "nobody", "s-a", "s-c", "s-b"], page=2
        )
    ]
    assert got == [("s-c", [1, 2, 3, 4]), ("nobody", []), ("s-a", [1, 2]), ("s-b", [1, 2, 3])]
    counted = await mongo.count_sessions("acme", session_ids=["s-c", "nobody", "s-a"])
    assert counted == {program.id: 2}
    assert [s async for s in mongo.named_sessions("other", ["s-a"])] == [("s-a", [])]


async def test_programs_by_id(mongo: MongoArchive) -> None:
    program = counter_program()
    assert await mongo.get_program(program.id) is None
    await mongo.save_program(program)
    assert await mongo.get_program(program.id) == program


# PyMongo's async client sometimes leaves a refused socket to the garbage collector: collect
# it here, where that warning is expected, not in whichever test runs next.
LEAKY_CLIENT = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)


@LEAKY_CLIENT
def test_unreachable_mongodb_is_a_retryable_error() -> None:
    async def body() -> None:
        url = f"mongodb://127.0.0.1:{free_port()}/"
        archive = MongoArchive.from_url(url, "x", timeout_s=0.3)
        _, records = counter_session(1)
        try:
            with pytest.raises(StoreUnavailableError) as err:
                await archive.write_batch(records)
            assert err.value.retryable
            assert err.value.message.startswith("MongoDB unavailable (mongodb 127.0.0.1:")
        finally:
            await archive.close()

    asyncio.run(body())  # its own loop, closed here, so that gc finds the leak now
    gc.collect()
