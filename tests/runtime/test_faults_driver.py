"""End to end with the session driver on Redis + RabbitMQ + MongoDB-wire (real servers):
in the middle of each example conversation Redis loses the session (flushed), or loses its
last turn (the session's hash written back as it was one turn before: what a failover to a
replica that lagged leaves); the driver recovers the session from MongoDB and the
conversation goes on exactly as in the embedded run — the same turn records, digest for
digest, each stored once."""

from __future__ import annotations

import asyncio
import datetime as dt
from functools import cache
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from compiler import compile_project
from runtime.convtest import ConvTest, Turn, find_test_files, load_tests, run_test
from runtime.effects import StubEffects
from runtime.programs import LoadedProgram, ProgramRegistry
from runtime.settings import Settings
from runtime.sinks.jsonl import read_turns
from runtime.stores.redis import session_key
from runtime.wiring import CHANNEL_SEQ, build_runtime
from runtime.worker import Worker
from schemas.events import Event, HangupEvent, NoInputEvent, UserInputEvent
from tests.runtime._amqp_helpers import unique, wait_for_count
from tests.servers import Servers, need

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


@cache
def compiled(name: str) -> LoadedProgram:
    result = compile_project(EXAMPLES_DIR / name)
    assert result.ok and result.program is not None, [d.message for d in result.diagnostics]
    return ProgramRegistry().add(result.program)


def conversations() -> list[tuple[str, ConvTest]]:
    out = []
    for p in sorted(EXAMPLES_DIR.iterdir()):
        if not (p / "tests").is_dir():
            continue
        tests = [t for f in find_test_files(p) for t in load_tests(f)]
        longest = max(tests, key=lambda t: len(t.turns), default=None)
        if longest is not None and len(longest.turns) >= 3:
            out.append((p.name, longest))
    return out


def event_of(turn: Turn, at: dt.datetime) -> Event:
    if turn.kind == "user":
        return UserInputEvent(at=at, text=turn.text)
    if turn.kind == "dtmf":
        return UserInputEvent(at=at, text="", dtmf=turn.dtmf)
    if turn.kind == "noinput":
        return NoInputEvent(at=at)
    return HangupEvent(at=at)


def test_there_are_conversations_to_run() -> None:
    assert len(conversations()) >= 2


@pytest.mark.parametrize("loss", ["flushed", "one turn behind"])
@pytest.mark.parametrize(("name", "test"), conversations(), ids=lambda v: getattr(v, "name", v))
async def test_redis_loses_the_session_mid_conversation_the_driver_recovers_and_goes_on(
    loss: str,
    name: str,
    test: ConvTest,
    tmp_path: Path,
    servers: Servers,
    amqp_url: str,
    mongo_url: str,
) -> None:
    lp = compiled(name)
    await run_test(lp, test, tmp_path / "embedded.jsonl")
    reference = list(read_turns(tmp_path / "embedded.jsonl"))
    session_id = reference[0].session_id

    redis = need(servers.extra_redis)
    settings = Settings(
        redis_url=redis.url,
        amqp_url=amqp_url,
        mongo_url=mongo_url,
        mongo_db=unique("d"),
        queue=unique("q"),
        recovery_wait_s=10,
    )
    now = [test.at]
    registry = ProgramRegistry()
    registry.add(lp.program)
    rt = build_runtime(
        settings, clock=lambda: now[0], effects=StubEffects(test.backends), registry=registry
    )
    assert rt.mongo is not None
    worker = Worker(amqp_url, rt.mongo, queue=settings.queue)
    task = asyncio.create_task(worker.run())
    flushed = False
    client = aioredis.Redis.from_url(redis.url)
    try:
        resp = await rt.driver.start(
            "default",
            lp,
            language=test.language,
            channel=test.channel,
            variables=test.variables,
            session_id=session_id,
        )
        turns = [t for t in test.turns if t.kind != "start"]
        key = session_key("default", session_id)
        before: dict[bytes, bytes] = {}
        for i, turn in enumerate(turns):
            if i == len(turns) // 2 - 1:
                before = await client.hgetall(key)  # the session one turn before
            if i == len(turns) // 2:
                # The start turn must have reached MongoDB for the session to be "known".
                assert await wait_for_count(rt.mongo, "default", 1) >= 1
                if loss == "flushed":
                    await client.flushall()
                    assert await rt.base_store.load("default", session_id) is None
                else:
                    await client.delete(key)
                    await client.hset(key, mapping=before)  # type: ignore[arg-type]
                    await client.pexpire(key, 60_000)
                    stale = await rt.base_store.load("default", session_id)
                    assert stale is not None and stale.state.seq < resp.seq
                flushed = True
            if turn.at is not None:
                now[0] = turn.at
            token = CHANNEL_SEQ.set(resp.seq)  # what the channel sends back
            try:
                resp = await rt.driver.turn(
                    "default", session_id, event_of(turn, now[0]), expected_seq=resp.seq
                )
            finally:
                CHANNEL_SEQ.reset(token)
        assert flushed
        assert await wait_for_count(rt.mongo, "default", len(reference)) == len(reference)
        docs = await rt.mongo.turns.find({"session_id": session_id}).sort("seq", 1).to_list(None)
        assert [(d["seq"], d["state_digest"]) for d in docs] == [
            (r.seq, r.state_digest) for r in reference
        ]
    finally:
        await client.aclose()
        worker.stop()
        await asyncio.wait_for(task, 30)
        await rt.mongo.client.drop_database(settings.mongo_db)
        await rt.aclose()
