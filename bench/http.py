"""HTTP benchmark: the API with Redis + RabbitMQ, driving the examples' conversations.

Starts redis-server and rabbitmq-server (tests/servers.py), then the service: one uvicorn
process per core (uvloop, httptools; redis-py with hiredis) sharing the port with
SO_REUSEPORT, the examples' compiled programs preloaded. Backends answer from the
conversation tests' canned responses (so the figure is the runtime's, not a remote
service's). No persistence worker runs (it is MongoDB's load, on other machines in a
deployment): the turn queue is purged between phases. Measures in one run:

(a) open loop: 1,000 turns/s for 30 s, each turn to a caller that paused 5 s since its last
    answer (or to a new caller): what 5,000 calls with a turn every 5 s send, counted after
    the first 5 s that bring the calls in; latency from the scheduled send time (no
    coordinated omission): p50/p95/p99;
(b) closed loop: 64 concurrent sessions, as fast as they are answered: max turns/s;
(c) the floor: raw Redis GET+SET round trips/s with the same client library;
(d) with --floor, the I/O floor of a turn: (a) and (b) again against a bare ASGI app on the
    same uvicorn set-up that does only a turn's I/O, with the same client libraries: a
    Redis pipeline of GET and SET of a state-sized value, and the turn's record published
    persistent with a publisher confirm before the answer, concurrent turns' records in
    one message (group commit, as the service does). No dialogue, no validation, no
    framework: what any service keeping the durability contract pays here.

    python bench/http.py [--rate 1000] [--seconds 30] [--closed-seconds 10] [--workers N]
                         [--floor]

The last line is JSON: p50_ms, p95_ms, p99_ms, max_turns_per_s, redis_floor_ops_per_s
(and io_floor with --floor).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# this file is named http.py: keep its directory off sys.path so "import http" is stdlib's
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, deque  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import orjson  # noqa: E402

EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "flow.yaml").exists())


# ------------------------------------------------------------------------------ service


def _canned() -> dict[str, Any]:
    """One canned answer set per backend: each example's first conversation test's."""
    from runtime.convtest import find_test_files, load_tests

    out: dict[str, Any] = {}
    for ex in EXAMPLES:
        for f in find_test_files(ex):
            for t in load_tests(f):
                for name, responses in t.backends.items():
                    out.setdefault(name, responses)
    return out


_FLOOR_STATE = b"x" * 1500  # as (c): about a state with its turn record's event and actions
_FLOOR_ACTIONS = [
    {
        "type": "say",
        "text": "Grazie. Per quale giorno desidera prenotare la visita? Mi dica la data.",
        "language": "it",
    },
    {"type": "listen", "language": "it", "timeout_ms": 5000, "barge_in": True},
]


def floor_app(redis_url: str, amqp_url: str, queue: str) -> Any:
    """(d): a bare ASGI app doing only a turn's I/O (see the module's docstring)."""
    import uuid

    import aio_pika
    import redis.asyncio as aioredis

    from runtime.groupcommit import GroupCommit

    io: dict[str, Any] = {}

    async def publish(body: bytes) -> None:
        await io["channel"].default_exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=queue,
        )

    async def publish_many(bodies: list[bytes]) -> list[None]:
        await publish(b"[" + b",".join(bodies) + b"]")
        return [None] * len(bodies)

    async def startup() -> None:
        io["redis"] = aioredis.Redis.from_url(redis_url)
        io["amqp"] = await aio_pika.connect(amqp_url)
        io["channel"] = await io["amqp"].channel(publisher_confirms=True)
        await io["channel"].declare_queue(queue, durable=True)
        io["commit"] = GroupCommit(publish, publish_many)

    async def turn(session_id: str) -> None:
        pipe = io["redis"].pipeline(transaction=False)
        pipe.get(f"floor:{session_id}")
        pipe.set(f"floor:{session_id}", _FLOOR_STATE)
        await pipe.execute()
        await io["commit"].submit(_FLOOR_STATE)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                await startup()
                await send({"type": "lifespan.startup.complete"})
            await io["amqp"].close()
            await io["redis"].aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        out = b"{}"
        if scope["method"] == "POST":
            seq = orjson.loads(body).get("seq", 0)
            parts = scope["path"].split("/")  # /v1/sessions[/{id}/events]
            session_id = parts[3] if len(parts) > 4 else uuid.uuid4().hex
            await turn(session_id)
            out = orjson.dumps(
                {
                    "session_id": session_id,
                    "seq": seq + 1,
                    "status": "waiting_input",
                    "actions": _FLOOR_ACTIONS,
                }
            )
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(out))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    return app


def serve(port: int, floor: bool = False) -> None:
    """One worker process: uvicorn on a SO_REUSEPORT socket."""
    import uvicorn

    from runtime.api.protocol import CoalescingHttpProtocol

    if floor:  # the same uvicorn set-up as the service's, below
        env = os.environ
        app = floor_app(env["REDIS_URL"], env["AMQP_URL"], env["DDTFLOW_QUEUE"] + ".floor")
        sock = _reuseport_socket(port)
        uvicorn.Server(
            uvicorn.Config(
                app,
                loop="uvloop",
                http=CoalescingHttpProtocol,
                log_level="warning",
                access_log=False,
            )
        ).run(sockets=[sock])
        return

    from runtime.api import ApiSettings, create_app
    from runtime.api.logging import configure_logging
    from runtime.effects import StubEffects
    from runtime.settings import get_settings
    from runtime.wiring import build_runtime

    api = ApiSettings(rate_limit_per_s=0, log_level="warning")
    configure_logging("warning")
    stubs = _canned()
    app = create_app(
        get_settings(),
        api,
        runtime_factory=lambda s: build_runtime(s, effects=StubEffects(stubs)),
    )
    sock = _reuseport_socket(port)
    config = uvicorn.Config(
        app, loop="uvloop", http=CoalescingHttpProtocol, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    where = os.environ.get("DDTFLOW_BENCH_PROFILE")
    if not where:
        server.run(sockets=[sock])
        return
    import cProfile

    # uvicorn raises the signal it stopped on again once it is done: let it land here
    signal.signal(signal.SIGTERM, lambda *_: None)
    with cProfile.Profile() as prof:  # --profile: this worker's calls, written at its exit
        server.run(sockets=[sock])
    prof.dump_stats(Path(where) / f"worker-{os.getpid()}.prof")


def _reuseport_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    return sock


# ------------------------------------------------------------------------------ client


def run_loop(coro: Any) -> Any:
    """The load generator's event loop: uvloop (as the service's), asyncio without it."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


class Conn(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection as an asyncio Protocol: the load generator shares
    the machine's cores with the service, so it must cost little (no stream readers, one
    buffer scan per response)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, Any]] | None = None
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> Conn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(cls, "127.0.0.1", port)
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        m = _CONTENT_LENGTH.search(self.buf, 0, end + 2)
        length = int(m.group(1)) if m else 0
        if len(self.buf) < end + 4 + length:
            return
        status = int(self.buf[9:12])
        payload = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, orjson.loads(payload) if payload else None))

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self.closed or self.transport is None:
            raise ConnectionError("closed")
        data = orjson.dumps(body) if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + data)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Pool:
    def __init__(self, port: int, limit: int = 512) -> None:
        self.port = port
        self.free: deque[Conn] = deque()
        self.open = 0
        self.limit = limit
        self._waiters: deque[asyncio.Future[Conn]] = deque()

    async def get(self) -> Conn:
        if self.free:
            return self.free.popleft()
        if self.open < self.limit:
            self.open += 1
            return await Conn.open(self.port)
        fut: asyncio.Future[Conn] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        return await fut

    def put(self, conn: Conn) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        self.free.append(conn)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = await self.get()
        try:
            result = await conn.request(method, path, body)
        except Exception:
            conn.close()
            self.open -= 1
            raise
        self.put(conn)
        return result


@dataclass
class Script:
    start: dict[str, Any]
    events: list[dict[str, Any]]


def scripts(program_ids: dict[str, str]) -> list[Script]:
    from runtime.convtest import find_test_files, load_tests

    out = []
    for ex in EXAMPLES:
        for f in find_test_files(ex):
            for t in load_tests(f):
                start: dict[str, Any] = {"program": program_ids[ex.name], "channel": t.channel}
                if t.language:
                    start["language"] = t.language
                if t.variables:
                    start["variables"] = dict(t.variables)
                events = []
                for turn in t.turns:
                    if turn.kind == "user":
                        events.append({"event": "user_input", "text": turn.text})
                    elif turn.kind == "dtmf":
                        events.append({"event": "dtmf", "dtmf": turn.dtmf})
                    elif turn.kind == "noinput":
                        events.append({"event": "no_input"})
                    elif turn.kind == "hangup":
                        events.append({"event": "hangup"})
                out.append(Script(start, events))
    return out


@dataclass
class Call:
    """One simulated caller working through a conversation script."""

    script: Script
    sid: str | None = None
    seq: int = 0
    next: int = 0
    done: bool = False

    def request(self) -> tuple[str, dict[str, Any]]:
        if self.sid is None:
            return "/v1/sessions", self.script.start
        return f"/v1/sessions/{self.sid}/events", {
            **self.script.events[self.next],
            "seq": self.seq,
        }

    def answer(self, status: int, body: Any) -> None:
        if status not in (200, 201) or not isinstance(body, dict):
            self.done = True
            return
        if self.sid is not None:
            self.next += 1
        self.sid, self.seq = body["session_id"], body["seq"]
        if body["status"] != "waiting_input" or self.next >= len(self.script.events):
            self.done = True


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    callers: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


async def one_turn(pool: Pool, call: Call, stats: Stats, t0: float) -> None:
    path, body = call.request()
    try:
        status, answer = await pool.request("POST", path, body)
    except Exception as exc:  # noqa: BLE001 - counted and reported
        stats.errors[type(exc).__name__] += 1
        call.done = True
        return
    stats.latencies.append((time.perf_counter() - t0) * 1000)
    stats.statuses[status] += 1
    call.answer(status, answer)


async def open_loop(
    port: int,
    all_scripts: list[Script],
    rate: float,
    seconds: float,
    think: float,
    counting: Callable[[], None] = lambda: None,
) -> Stats:
    """Turns sent on a fixed schedule (``rate`` per second) whatever the answers: each goes
    to a caller that has waited ``think`` seconds since its last answer, or to a new caller
    when none has (5,000 calls with a turn every 5 s send 1,000 turns/s). The first
    ``think`` seconds only bring the callers in (all new calls, all session starts): they
    are sent on the same schedule but not counted; the ``seconds`` after them are
    (``counting`` is called when they begin)."""
    pool = Pool(port)
    stats = Stats()
    warm = Stats()
    idle: deque[tuple[float, Call]] = deque()  # (ready at, caller), in order of readiness
    rng = random.Random(7)
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    counted_from = start + think
    n = int(rate * (think + seconds))
    callers = 0
    counted = False

    async def run(call: Call, t0: float, into: Stats) -> None:
        await one_turn(pool, call, into, t0)
        if not call.done:
            idle.append((time.perf_counter() + think, call))

    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if due >= counted_from and not counted:
            counted = True
            counting()
        if idle and idle[0][0] <= due:
            call = idle.popleft()[1]
        else:
            call = Call(rng.choice(all_scripts))
            callers += counted
        task = asyncio.create_task(run(call, due, stats if due >= counted_from else warm))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for c in pool.free:
        c.close()
    stats.callers = callers
    return stats


async def closed_loop(
    port: int, all_scripts: list[Script], sessions: int, seconds: float
) -> tuple[Stats, float]:
    pool = Pool(port, limit=sessions)
    stats = Stats()
    rng = random.Random(11)
    stop = time.perf_counter() + seconds

    async def caller() -> None:
        call = Call(rng.choice(all_scripts))
        while time.perf_counter() < stop:
            if call.done:
                call = Call(rng.choice(all_scripts))
            await one_turn(pool, call, stats, time.perf_counter())

    began = time.perf_counter()
    await asyncio.gather(*[caller() for _ in range(sessions)])
    elapsed = time.perf_counter() - began
    for c in pool.free:
        c.close()
    return stats, len(stats.latencies) / elapsed


async def redis_floor(url: str, seconds: float, concurrency: int = 16) -> float:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    stop = time.perf_counter() + seconds
    count = 0

    async def loop(k: int) -> None:
        nonlocal count
        key = f"bench:floor:{k}"
        value = b"x" * 1500  # about one session state
        while time.perf_counter() < stop:
            pipe = client.pipeline(transaction=False)
            pipe.get(key)
            pipe.set(key, value)
            await pipe.execute()
            count += 1

    began = time.perf_counter()
    await asyncio.gather(*[loop(k) for k in range(concurrency)])
    elapsed = time.perf_counter() - began
    await client.aclose()
    return count / elapsed


class CpuMeter:
    """CPU seconds (user + system) of process groups, read from /proc: where the cores go
    during a phase, per turn, by process (service, Redis, RabbitMQ, this load generator)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.tick = os.sysconf("SC_CLK_TCK")
        self._start: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        by_pgid: Counter[int] = Counter()
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            # after the comm field: state ppid pgrp … utime(12) stime(13)
            by_pgid[int(fields[2])] += int(fields[11]) + int(fields[12])
        out = {
            name: sum(by_pgid[g] for g in pgids) / self.tick for name, pgids in self.groups.items()
        }
        t = os.times()
        out["load generator"] = t.user + t.system
        return out

    def start(self) -> None:
        self._start = self._read()

    def per_turn_us(self, turns: int) -> dict[str, float]:
        end = self._read()
        return {k: (end[k] - self._start[k]) / max(1, turns) * 1e6 for k in end}


class RedisMeter:
    """Redis's own counters (INFO stats): read events (≈ round trips: a pipeline is one)
    and commands, per turn of a phase."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._start: tuple[int, int] = (0, 0)

    def _read(self) -> tuple[int, int]:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            info = client.info("stats")
        finally:
            client.close()
        return int(info["total_reads_processed"]), int(info["total_commands_processed"])

    def start(self) -> None:
        self._start = self._read()

    def per_turn(self, turns: int) -> tuple[float, float]:
        reads, commands = self._read()
        n = max(1, turns)
        return (reads - self._start[0]) / n, (commands - self._start[1]) / n


def redis_line(per_turn: tuple[float, float]) -> str:
    return f"    Redis per turn: {per_turn[0]:.2f} reads (round trips), {per_turn[1]:.2f} commands"


def cpu_line(cpu: dict[str, float]) -> str:
    parts = ", ".join(f"{k} {v:,.0f}" for k, v in cpu.items())
    total = sum(cpu.values())
    cores = os.cpu_count() or 1
    return (
        f"    CPU per turn (µs): {parts}; total {total:,.0f} µs → {cores} cores saturate "
        f"near {cores * 1e6 / max(total, 1):,.0f} turns/s"
    )


async def purge(amqp_url: str, queue: str) -> None:
    """Empty the turn queue between phases. No worker drains it during the run (that would
    be MongoDB's load on these cores, not the service's), and a broker holding the tens of
    thousands of persistent messages of the phase before slows the next one."""
    import aio_pika

    conn = await aio_pika.connect(amqp_url)
    try:
        channel = await conn.channel()
        q = await channel.declare_queue(queue, passive=True)
        await q.purge()
    finally:
        await conn.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(name: str, stats: Stats) -> str:
    lat = stats.latencies
    return (
        f"{name}: {len(lat)} turns, p50 {pct(lat, 50):.2f} ms, p95 {pct(lat, 95):.2f} ms, "
        f"p99 {pct(lat, 99):.2f} ms, max {max(lat, default=0):.1f} ms; statuses "
        f"{dict(stats.statuses)}; errors {dict(stats.errors)}"
    )


def compile_examples(out: Path) -> None:
    from compiler import compile_project

    for ex in EXAMPLES:
        result = compile_project(ex)
        if not result.ok or result.program is None:
            raise SystemExit(f"{ex} does not compile")
        (out / f"{ex.name}.json").write_bytes(result.program.canonical_bytes())


def wait_http(port: int, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a service process died while starting")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not become ready")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--think", type=float, default=5.0, help="a caller's pause between turns")
    ap.add_argument(
        "--sweep",
        type=lambda v: [float(x) for x in v.split(",") if x],
        default=[],
        metavar="R1,R2,…",
        help="after (a), the same open loop at these rates too (p95 of each in the JSON)",
    )
    ap.add_argument("--closed-seconds", type=float, default=10.0)
    ap.add_argument("--sessions", type=int, default=64)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--profile",
        type=Path,
        help="run each worker under cProfile and write DIR/worker-PID.prof (slower: for "
        "finding where the time goes, not for figures)",
    )
    ap.add_argument(
        "--floor",
        action="store_true",
        help="(d): (a) and (b) again against a bare app doing only a turn's I/O",
    )
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: one worker
    ap.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, floor=args.serve_floor)
        return

    from tests.servers import Servers, free_port

    servers = Servers()
    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="ddtflow-bench-http-"))
    try:
        redis = servers.redis()
        rabbit = servers.rabbitmq()
        programs = tmp / "programs"
        programs.mkdir()
        compile_examples(programs)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "DDTFLOW_MONGO_URL")}
        queue = f"bench.http.{os.getpid()}"
        env.update(
            REDIS_URL=redis.url,
            AMQP_URL=rabbit.url,
            DDTFLOW_QUEUE=queue,
            DDTFLOW_PROGRAMS_DIR=str(programs),
            DDTFLOW_DATA_DIR=str(tmp),
        )
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            env["DDTFLOW_BENCH_PROFILE"] = str(args.profile.resolve())
        log = (tmp / "service.log").open("wb")

        def spawn(port: int, *flags: str) -> list[subprocess.Popen[bytes]]:
            started = [
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve()), "--serve", str(port), *flags],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                for _ in range(args.workers)
            ]
            procs.extend(started)
            wait_http(port, started)
            return started

        service = spawn(port)
        from schemas.program import Program

        ids = {
            f.stem: Program.model_validate_json(f.read_bytes()).id
            for f in sorted(programs.glob("*.json"))
        }
        all_scripts = scripts(ids)
        load_before = os.getloadavg()[0]
        print(
            f"service: {args.workers} uvicorn worker(s) on :{port}, Redis {redis.url}, "
            f"RabbitMQ; {len(all_scripts)} conversation scripts from {len(ids)} examples; "
            f"{os.cpu_count()} cores, load average {load_before:.1f} before the run (other "
            f"processes on the machine share the cores: compare figures at a low load only)"
        )
        # warm up every worker (engines, connections)
        run_loop(closed_loop(port, all_scripts, 8, 2.0))

        meter = CpuMeter(
            {
                "service": [p.pid for p in service],
                "redis": [redis.server.proc.pid] if redis.server.proc else [],
                "rabbitmq": [rabbit.server.proc.pid] if rabbit.server.proc else [],
            }
        )
        redis_meter = RedisMeter(redis.url)

        def start_meters() -> None:
            meter.start()
            redis_meter.start()

        stats = run_loop(
            open_loop(port, all_scripts, args.rate, args.seconds, args.think, start_meters)
        )
        open_cpu = meter.per_turn_us(len(stats.latencies))
        open_redis = redis_meter.per_turn(len(stats.latencies))
        print(
            summary(
                f"(a) open loop {args.rate:.0f} turns/s for {args.seconds:.0f} s after "
                f"{args.think:g} s bringing the callers in (each pauses {args.think:g} s "
                f"between turns; {stats.callers:,} new callers while counting)",
                stats,
            )
        )
        print(cpu_line(open_cpu))
        print(redis_line(open_redis))
        sweep = {}
        for rate in args.sweep:  # the same open loop at other rates: where p95 stays low
            run_loop(purge(rabbit.url, queue))
            swept = run_loop(open_loop(port, all_scripts, rate, args.seconds, args.think))
            sweep[str(round(rate))] = round(pct(swept.latencies, 95), 2)
            print(summary(f"    sweep: open loop {rate:.0f} turns/s", swept))
        run_loop(purge(rabbit.url, queue))
        start_meters()
        closed, max_tps = run_loop(
            closed_loop(port, all_scripts, args.sessions, args.closed_seconds)
        )
        closed_cpu = meter.per_turn_us(len(closed.latencies))
        closed_redis = redis_meter.per_turn(len(closed.latencies))
        print(summary(f"(b) closed loop, {args.sessions} sessions", closed))
        print(f"(b) max throughput: {max_tps:.0f} turns/s")
        print(cpu_line(closed_cpu))
        print(redis_line(closed_redis))
        floor = run_loop(redis_floor(redis.url, 5.0))
        print(f"(c) Redis GET+SET round trips (redis-py + hiredis, 16 conns): {floor:.0f}/s")
        io_floor: dict[str, Any] = {}
        if args.floor:
            run_loop(purge(rabbit.url, queue))
            floor_port = free_port()
            bare = spawn(floor_port, "--serve-floor")
            run_loop(closed_loop(floor_port, all_scripts, 8, 2.0))
            floor_meter = CpuMeter({**meter.groups, "service": [p.pid for p in bare]})
            bare_open = run_loop(
                open_loop(
                    floor_port, all_scripts, args.rate, args.seconds, args.think, floor_meter.start
                )
            )
            bare_open_cpu = floor_meter.per_turn_us(len(bare_open.latencies))
            print(summary(f"(d) I/O floor, open loop {args.rate:.0f} turns/s", bare_open))
            print(cpu_line(bare_open_cpu))
            run_loop(purge(rabbit.url, queue + ".floor"))
            floor_meter.start()
            bare_closed, bare_tps = run_loop(
                closed_loop(floor_port, all_scripts, args.sessions, args.closed_seconds)
            )
            bare_closed_cpu = floor_meter.per_turn_us(len(bare_closed.latencies))
            print(summary(f"(d) I/O floor, closed loop, {args.sessions} sessions", bare_closed))
            print(f"(d) I/O floor max throughput: {bare_tps:.0f} turns/s")
            print(cpu_line(bare_closed_cpu))
            io_floor = {
                "io_floor": {
                    "p50_ms": round(pct(bare_open.latencies, 50), 2),
                    "p95_ms": round(pct(bare_open.latencies, 95), 2),
                    "p99_ms": round(pct(bare_open.latencies, 99), 2),
                    "max_turns_per_s": round(bare_tps),
                    "open_cpu_us_per_turn": {k: round(v) for k, v in bare_open_cpu.items()},
                    "cpu_us_per_turn": {k: round(v) for k, v in bare_closed_cpu.items()},
                }
            }
        lat = stats.latencies
        print(
            json.dumps(
                {
                    "bench": "http",
                    "workers": args.workers,
                    "rate": args.rate,
                    "turns": len(lat),
                    "p50_ms": round(pct(lat, 50), 2),
                    "p95_ms": round(pct(lat, 95), 2),
                    "p99_ms": round(pct(lat, 99), 2),
                    "non_2xx": sum(v for k, v in stats.statuses.items() if k >= 300),
                    "max_turns_per_s": round(max_tps),
                    "closed_p95_ms": round(pct(closed.latencies, 95), 2),
                    "redis_floor_ops_per_s": round(floor),
                    "open_cpu_us_per_turn": {k: round(v) for k, v in open_cpu.items()},
                    "cpu_us_per_turn": {k: round(v) for k, v in closed_cpu.items()},
                    "redis_reads_per_turn": {
                        "open": round(open_redis[0], 2),
                        "closed": round(closed_redis[0], 2),
                    },
                    **({"sweep_p95_ms": sweep} if sweep else {}),
                    **io_floor,
                    "cores": os.cpu_count(),
                    "loadavg_before": round(load_before, 1),
                }
            )
        )
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        servers.close()


if __name__ == "__main__":
    main()
