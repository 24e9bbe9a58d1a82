"""Recovery from MongoDB (the MongoDB-wire test server): snapshot + later turns, verified."""

from __future__ import annotations

import asyncio

import pytest

from runtime.mongo import MongoArchive
from runtime.ports import StoreUnavailableError
from runtime.recovery import RecoveryDivergedError, recover, recover_into_store
from runtime.stores.memory import MemoryStore
from tests.runtime.contract.helpers import counter_session, registry


async def test_unknown_session_is_none(mongo: MongoArchive) -> None:
    got = await recover("acme", "nobody", min_seq=None, mongo=mongo, programs=registry())
    assert got is None


async def test_snapshot_only(mongo: MongoArchive) -> None:
    program, records = counter_session(5)
    await mongo.write_batch(records)
    got = await recover(
        "acme", records[0].session_id, min_seq=5, mongo=mongo, programs=registry(program)
    )
    assert got == records[-1].state


async def test_snapshot_plus_later_turns_replayed_to_the_recorded_digests(
    mongo: MongoArchive,
) -> None:
    program, records = counter_session(50, state_every=10)
    # The worker wrote turns 1..50, but the last snapshot it took is seq 40.
    await mongo.write_batch(records[:40])
    await mongo.write_turns(records[40:])
    assert (await mongo.snapshot("acme", records[0].session_id)).seq == 40  # type: ignore[union-attr]
    got = await recover(
        "acme", records[0].session_id, min_seq=50, mongo=mongo, programs=registry(program)
    )
    assert got is not None
    assert got.seq == 50
    assert got.digest() == records[-1].state_digest
    assert got.memory == {"n": 49}


async def test_turns_without_any_snapshot_replay_from_the_start(mongo: MongoArchive) -> None:
    program, records = counter_session(12, state_every=0)
    await mongo.write_batch(records)
    assert await mongo.snapshot("acme", records[0].session_id) is None
    got = await recover(
        "acme", records[0].session_id, min_seq=None, mongo=mongo, programs=registry(program)
    )
    assert got is not None and got.digest() == records[-1].state_digest


async def test_program_is_fetched_from_mongo_when_not_loaded(mongo: MongoArchive) -> None:
    program, records = counter_session(6, state_every=3)
    await mongo.write_batch(records[:3])
    await mongo.write_turns(records[3:])
    await mongo.save_program(program)
    await mongo.save_program(program)  # idempotent
    assert await mongo.get_program(program.id) == program
    got = await recover("acme", records[0].session_id, min_seq=6, mongo=mongo, programs=registry())
    assert got is not None and got.digest() == records[-1].state_digest


async def test_a_tampered_turn_is_named(mongo: MongoArchive) -> None:
    program, records = counter_session(8, state_every=4)
    bad = records[5].model_copy(update={"state_digest": "0" * 64})
    await mongo.write_batch(records[:5])  # snapshot at seq 4
    await mongo.write_turns([records[4], bad, *records[6:]])
    with pytest.raises(RecoveryDivergedError) as err:
        await recover(
            "acme", records[0].session_id, min_seq=None, mongo=mongo, programs=registry(program)
        )
    assert err.value.details["seq"] == 6
    assert "replaying turn 6 (backend_result)" in err.value.message


async def test_behind_the_channel_fails_retryably_after_waiting(mongo: MongoArchive) -> None:
    program, records = counter_session(10)
    await mongo.write_batch(records[:7])
    with pytest.raises(StoreUnavailableError) as err:
        await recover(
            "acme",
            records[0].session_id,
            min_seq=10,
            mongo=mongo,
            programs=registry(program),
            wait_s=0.2,
        )
    assert err.value.retryable
    assert err.value.message.startswith("recovery: MongoDB has seq 7 of session")
    assert "the channel saw seq 10" in err.value.message


async def test_waits_for_the_worker_to_catch_up(mongo: MongoArchive) -> None:
    program, records = counter_session(10)
    await mongo.write_batch(records[:7])

    async def worker_catches_up() -> None:
        await asyncio.sleep(0.1)
        await mongo.write_batch(records[7:])

    task = asyncio.create_task(worker_catches_up())
    got = await recover(
        "acme",
        records[0].session_id,
        min_seq=10,
        mongo=mongo,
        programs=registry(program),
        wait_s=20,
    )
    await task
    assert got == records[-1].state


async def test_a_hole_in_the_log_is_waited_for(mongo: MongoArchive) -> None:
    """A critical turn written directly can land before an earlier one still queued."""
    program, records = counter_session(6, state_every=0)
    await mongo.write_batch([*records[:3], records[4]])  # seq 5 before seq 4
    with pytest.raises(StoreUnavailableError, match="MongoDB has seq 3 of session"):
        await recover(
            "acme",
            records[0].session_id,
            min_seq=5,
            mongo=mongo,
            programs=registry(program),
            wait_s=0.1,
        )


async def test_recover_into_store_writes_the_state_back(mongo: MongoArchive) -> None:
    program, records = counter_session(4)
    await mongo.write_batch(records)
    store = MemoryStore()
    got = await recover_into_store(
        store, "acme", records[0].session_id, min_seq=4, mongo=mongo, programs=registry(program)
    )
    assert got is not None and got.state == records[-1].state
    assert (await store.load("acme", records[0].session_id)) == got
