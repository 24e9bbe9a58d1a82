"""Every example conversation's turn log, carried RabbitMQ → worker → MongoDB (real
servers), recovers from MongoDB to the same state digests: from the latest snapshot, from a
snapshot half-way plus the later turns, and from the turns alone (full replay)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

import pytest

from compiler import compile_project
from runtime.convtest import find_test_files, load_tests, run_test
from runtime.mongo import MongoArchive
from runtime.programs import LoadedProgram, ProgramRegistry
from runtime.recovery import recover
from runtime.sinks.amqp import AmqpSink
from runtime.sinks.jsonl import read_turns
from runtime.worker import Worker
from schemas.turns import TurnRecord
from tests.runtime._amqp_helpers import unique

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = sorted(
    p.name for p in EXAMPLES_DIR.iterdir() if (p / "tests").is_dir() and find_test_files(p)
)


@cache
def compiled(name: str) -> LoadedProgram:
    result = compile_project(EXAMPLES_DIR / name)
    assert result.ok and result.program is not None, [d.message for d in result.diagnostics]
    return ProgramRegistry().add(result.program)


@pytest.fixture
async def mongo(mongo_url: str) -> AsyncIterator[MongoArchive]:
    archive = MongoArchive.from_url(mongo_url, unique("x"))
    try:
        yield archive
    finally:
        await archive.client.drop_database(archive.db.name)
        await archive.close()


def test_there_are_example_conversations() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("name", EXAMPLES)
async def test_example_turn_logs_recover_from_mongodb_to_identical_digests(
    name: str, tmp_path: Path, amqp_url: str, mongo: MongoArchive
) -> None:
    lp = compiled(name)
    sessions: list[list[TurnRecord]] = []
    for i, t in enumerate(t for f in find_test_files(EXAMPLES_DIR / name) for t in load_tests(f)):
        log = tmp_path / f"{i}.jsonl"
        await run_test(lp, t, log)  # whether the test passes is test_examples.py's business
        recs = list(read_turns(log))
        assert recs, f"{t.name}: no turn was logged"
        sessions.append(recs)
    ids = [recs[0].session_id for recs in sessions]
    assert len(set(ids)) == len(ids), f"two tests of {name} share a session id: {ids}"
    queue = unique("q")
    sink = AmqpSink(amqp_url, queue=queue, mongo=mongo)
    worker = Worker(amqp_url, mongo, queue=queue)
    task = asyncio.create_task(worker.run())
    total = sum(len(s) for s in sessions)
    try:
        for recs in sessions:
            for r in recs:
                await sink.publish(r)
        for _ in range(1200):
            if worker.stats.written + worker.stats.duplicates >= total:
                break
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await task
        await sink.close()
    await mongo.save_program(lp.program)
    programs = ProgramRegistry()  # the program comes from MongoDB, as after a restart

    async def recovered(recs: list[TurnRecord]) -> str | None:
        st = await recover(
            "default", recs[0].session_id, min_seq=recs[-1].seq, mongo=mongo, programs=programs
        )
        return None if st is None else st.digest()

    for recs in sessions:
        assert await mongo.count_turns("default", recs[0].session_id) == len(recs)
        want = recs[-1].state_digest
        assert await recovered(recs) == want  # the latest snapshot
        mid = recs[len(recs) // 2]
        assert mid.state is not None
        await mongo.sessions.delete_many({"session_id": mid.session_id})
        await mongo.write_snapshots([mid.state])
        assert await recovered(recs) == want  # half-way snapshot + later turns replayed
        await mongo.sessions.delete_many({"session_id": mid.session_id})
        assert await recovered(recs) == want  # every turn replayed from the start
