"""A graceful shutdown under load, as a deploy or a restart does it: ``ddtflow serve`` as a
real process over Redis + RabbitMQ + the MongoDB-wire server (a worker moves the turns to
MongoDB), a dozen concurrent conversations over real sockets, SIGTERM mid-way.

What must hold: the process drains the requests in flight (each is answered) and exits
within a bound, without a 500 or a traceback; a request it no longer takes fails cleanly
(connection refused or reset, or a 503 JSON error). A second process on the same servers
takes over: each channel retries what got no answer with the same Idempotency-Key and
``seq``, every conversation finishes, and nothing acknowledged is lost or duplicated —
MongoDB holds turns 1..N of every session once, every answer a channel received is
recorded there, and no session keeps an unconfirmed copy in Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from compiler import compile_project
from runtime.driver import EFFECT_ACTIONS
from runtime.mongo import MongoArchive
from runtime.stores.redis import session_key
from runtime.worker import Worker
from tests.runtime._amqp_helpers import unique
from tests.runtime.api.conftest import ROOT
from tests.servers import free_port, http_server

pytestmark = pytest.mark.servers

TENANT = "default"  # open dev mode
CONVERSATIONS = 12
BACKEND_DELAY_S = 0.3  # the bank's backend is slow: turns are in flight when SIGTERM comes
EXIT_BOUND_S = 30.0
RETRY_DEADLINE_S = 60.0

# the happy path of examples/bank_card_block/tests/happy_path.yaml (start, then three
# utterances); the backends answer as its stubs do
UTTERANCES = ("sono nato il 12 marzo 1980", "uno due tre quattro", "sì, la blocchi")
REPLIES = {
    "/api/v2/identity/verify": {
        "match": True,
        "customer": {"first_name": "Mario"},
        "card": {"id": "c-4471", "masked": "**** 1234"},
    },
    "/api/v2/cards/c-4471/block": {"reference": "805221"},
}
CLEAN_TRANSPORT_ERRORS = (
    httpx.ConnectError,  # refused: the listening socket is closed
    httpx.RemoteProtocolError,  # closed before an answer (an idle keep-alive connection)
    httpx.ReadError,  # reset
    httpx.WriteError,
)


# -- the bank's backend: a real HTTP server on loopback ----------------------------------


class _Backend(BaseHTTPRequestHandler):
    in_flight = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        with _Backend.lock:
            _Backend.in_flight += 1
        try:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(BACKEND_DELAY_S)
            reply = REPLIES.get(self.path)
            body = json.dumps(reply if reply is not None else {"error": self.path}).encode()
            self.send_response(200 if reply is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with _Backend.lock:
                _Backend.in_flight -= 1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


def compiled_program(tmp: Path, backend_url: str) -> dict[str, Any]:
    """bank_card_block with its backends on ``backend_url``."""
    project = tmp / "bank_card_block"
    shutil.copytree(ROOT / "examples" / "bank_card_block", project)
    flow = project / "flow.yaml"
    flow.write_text(
        flow.read_text().replace("https://cards.banca-esempio.example", backend_url),
    )
    result = compile_project(project)
    assert result.ok and result.program is not None
    program: dict[str, Any] = result.program.model_dump(mode="json")
    return program


# -- ``ddtflow serve`` as a process ------------------------------------------------------


@dataclass
class Serve:
    proc: asyncio.subprocess.Process
    log: Path

    async def stop(self) -> int | None:
        """SIGTERM; the exit code (None: still running after the bound, then killed)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), EXIT_BOUND_S)
        except TimeoutError:
            self.proc.kill()  # never leave the server running past the test
            await self.proc.wait()
            return None


@asynccontextmanager
async def serve(port: int, log: Path, env: dict[str, str]) -> AsyncIterator[Serve]:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            "serve",
            "--port",
            str(port),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    server = Serve(proc, log)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=1) as http:
            while True:
                if proc.returncode is not None:  # it died while starting: say why, now
                    raise AssertionError(log.read_text())
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"not ready within 30 s:\n{log.read_text()}")
                await asyncio.sleep(0.05)
        yield server
    finally:
        await server.stop()


def assert_stopped_gracefully(code: int | None, log: Path) -> None:
    text = log.read_text()
    assert code is not None, f"no exit {EXIT_BOUND_S:.0f} s after SIGTERM:\n{text}"
    assert code == 0, f"exit code {code}:\n{text}"  # a clean graceful stop
    assert "api_stopped" in text, text
    assert "Traceback" not in text, text
    assert "unhandled_exception" not in text, text
    for line in text.splitlines():
        if line.startswith("{") and json.loads(line).get("event") == "request":
            assert json.loads(line)["status"] < 500, line


def answered_after_sigterm(log: Path) -> set[str]:
    """Request ids the process answered 2xx once it had the SIGTERM (uvicorn logs "Shutting
    down" when it stops taking connections, then drains what is in flight)."""
    text = log.read_text()
    assert "Shutting down" in text, text
    ids = set()
    for line in text.split("Shutting down", 1)[1].splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "request" and 200 <= entry["status"] < 300:
                ids.add(str(entry["request_id"]))
    return ids


# -- the channels -------------------------------------------------------------------------


@dataclass
class Answer:
    request_id: str
    body: dict[str, Any]


@dataclass
class Channel:
    """One caller's conversation, as a voice channel drives it: every request carries an
    Idempotency-Key and the seq last seen; one that gets no answer is sent again as is."""

    sid: str
    answers: list[Answer] = field(default_factory=list)
    unanswered: int = 0  # requests that got a clean transport error or a 503
    bad: list[str] = field(default_factory=list)  # anything else: the test fails
    seqs: list[int] = field(default_factory=list)  # seq after each acknowledged request


@dataclass
class Load:
    url: str
    program: str
    answered: int = 0
    half: asyncio.Event = field(default_factory=asyncio.Event)


async def send(
    http: httpx.AsyncClient, load: Load, ch: Channel, path: str, body: dict[str, Any], ikey: str
) -> dict[str, Any]:
    """The request until it is answered 2xx (the same key and body every time)."""
    deadline = time.monotonic() + RETRY_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            r = await http.post(load.url + path, json=body, headers={"Idempotency-Key": ikey})
        except CLEAN_TRANSPORT_ERRORS:
            ch.unanswered += 1
            await asyncio.sleep(0.05)
            continue
        if r.status_code == 503:
            err = r.json()["error"]  # a JSON error, not a proxy's page
            assert err["code"] and r.headers.get("retry-after"), r.text
            ch.unanswered += 1
            await asyncio.sleep(0.1)
            continue
        if r.status_code not in (200, 201):
            ch.bad.append(f"{path} {ikey}: {r.status_code} {r.text}")
            raise AssertionError(ch.bad[-1])
        answer = r.json()
        ch.answers.append(Answer(r.headers["x-request-id"], answer))
        ch.seqs.append(answer["seq"])
        load.answered += 1
        if load.answered >= CONVERSATIONS * (1 + len(UTTERANCES)) // 2:
            load.half.set()
        return dict(answer)
    raise AssertionError(f"{ch.sid}: {path} {ikey} not answered in {RETRY_DEADLINE_S} s")


async def converse(http: httpx.AsyncClient, load: Load, ch: Channel, rng: random.Random) -> None:
    start = {
        "program": load.program,
        "language": "it",
        "channel": "voice",
        "variables": {"caller.phone": "+393331234567"},
        "session_id": ch.sid,  # the call's id: a retried start names the same session
    }
    resp = await send(http, load, ch, "/v1/sessions", start, f"{ch.sid}-0")
    for i, text in enumerate(UTTERANCES, start=1):
        await asyncio.sleep(rng.uniform(0, 0.12))  # the caller speaks
        event = {"event": "user_input", "text": text, "seq": resp["seq"]}
        resp = await send(http, load, ch, f"/v1/sessions/{ch.sid}/events", event, f"{ch.sid}-{i}")
    assert resp["status"] == "ended", resp


# -- the test -----------------------------------------------------------------------------


async def test_sigterm_under_load_drains_and_a_new_process_takes_over_losing_nothing(
    tmp_path: Path, redis_url: str, amqp_url: str, mongo_url: str, mongo: MongoArchive
) -> None:
    queue = unique("ddtflow.shutdown.")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DDTFLOW_") and k not in ("REDIS_URL", "AMQP_URL", "MONGO_URL")
    }
    env.update(
        REDIS_URL=redis_url,
        AMQP_URL=amqp_url,
        MONGO_URL=mongo_url,
        DDTFLOW_QUEUE=queue,
        DDTFLOW_MONGO_DB=mongo.db.name,
        DDTFLOW_DATA_DIR=str(tmp_path / "data"),
        DDTFLOW_BACKEND_HOSTS="127.0.0.1",
    )
    port = free_port()  # both processes listen here, as behind a load balancer
    worker = Worker(amqp_url, mongo, queue=queue)
    worker_task = asyncio.create_task(worker.run())
    channels = [Channel(unique("call-")) for _ in range(CONVERSATIONS)]
    rng = random.Random(7)
    talks: asyncio.Future[list[None]] | None = None
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        with http_server(_Backend) as backend_url:
            program = compiled_program(tmp_path, backend_url)
            limits = httpx.Limits(max_connections=CONVERSATIONS)
            async with httpx.AsyncClient(timeout=20, limits=limits) as http:
                async with serve(port, tmp_path / "serve-1.log", env) as one:
                    url = f"http://127.0.0.1:{port}"
                    r = await http.post(f"{url}/v1/programs", json={"program": program})
                    assert r.status_code == 201, r.text
                    load = Load(url, r.json()["id"])
                    talks = asyncio.gather(
                        *(converse(http, load, ch, random.Random(rng.random())) for ch in channels)
                    )
                    # mid-way, with turns in flight (waiting on the backend): SIGTERM
                    await asyncio.wait_for(load.half.wait(), 30)
                    while _Backend.in_flight == 0 and not talks.done():
                        await asyncio.sleep(0.005)
                    assert not talks.done(), "the conversations ended before the SIGTERM"
                    code = await one.stop()
                assert_stopped_gracefully(code, one.log)
                # the second process comes up on the same servers; the channels resume
                async with serve(port, tmp_path / "serve-2.log", env) as two:
                    await asyncio.wait_for(talks, RETRY_DEADLINE_S)
                    code = await two.stop()
                assert_stopped_gracefully(code, two.log)
        assert [ch.bad for ch in channels] == [[] for _ in channels]
        # the requests in flight at SIGTERM were answered, and the answers reached the channels
        drained = answered_after_sigterm(one.log)
        assert drained, "no request in flight at SIGTERM was answered"
        assert drained <= {a.request_id for ch in channels for a in ch.answers}
        # while no process listened, the channels got clean errors and sent again
        assert sum(ch.unanswered for ch in channels) > 0
        await assert_nothing_lost(channels, redis_url, mongo)  # with the worker running
    finally:
        if talks is not None and not talks.done():
            talks.cancel()
        worker.stop()
        await asyncio.wait_for(worker_task, 30)


async def assert_nothing_lost(
    channels: list[Channel], redis_url: str, archive: MongoArchive
) -> None:
    # every process has settled (both exited): no session keeps an unconfirmed copy
    async with aioredis.Redis.from_url(redis_url) as r:
        for ch in channels:
            key = session_key(TENANT, ch.sid)
            assert await r.hexists(key, "seq"), ch.sid
            assert not await r.hexists(key, "unconf"), f"{ch.sid}: unconfirmed copy left"
    for ch in channels:
        last = ch.seqs[-1]
        deadline = time.monotonic() + 30
        while (await archive.max_seq(TENANT, ch.sid) or 0) < last:
            assert time.monotonic() < deadline, f"{ch.sid}: MongoDB never reached seq {last}"
            await asyncio.sleep(0.05)
        records = await archive.turns_after(TENANT, ch.sid, 0)
        # turns 1..N, each once, no gap, nothing beyond what was acknowledged
        assert [rec.seq for rec in records] == list(range(1, last + 1)), ch.sid
        snapshot = await archive.snapshot(TENANT, ch.sid)
        assert snapshot is not None and (snapshot.seq, snapshot.status) == (last, "ended")
        by_seq = {rec.seq: rec for rec in records}
        # every answer received is what was recorded: its seq, and the actions of the
        # records of its request (after the seq the channel had seen before it)
        seen = 0
        for answer in ch.answers:
            seq = answer.body["seq"]
            assert seq in by_seq, f"{ch.sid}: answered seq {seq} is not in MongoDB"
            recorded = [
                a.model_dump(mode="json")
                for s in range(seen + 1, seq + 1)
                for a in by_seq[s].actions
                if not isinstance(a, EFFECT_ACTIONS)
            ]
            assert answer.body["actions"] == recorded, f"{ch.sid}: seq {seq}"
            seen = seq
