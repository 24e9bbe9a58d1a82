"""Benchmark: a batch of recorded sessions replayed from MongoDB, end to end.

Starts the MongoDB-wire test server (tests/servers.py; MONGO_URL for a real mongod),
records N sessions (the examples' conversation tests, each under several session ids),
writes them as the worker does, then runs ``ddtflow replay --mongo URL --tenant T`` (the
command's own code: count, read as a stream, replay, verify, report) and times it on the
wall clock. For comparison the same sessions named by id (``ddtflow replay ID…``: a page of
100 ids per query, in the order given; before, a query per session, all held in memory).
Last line:
{"bench": "replay_mongo", "sessions_per_s": …, …}.

    python bench/replay_mongo.py [--sessions 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# bench/ holds scripts named like stdlib modules (http.py): import from the repository root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from pymongo import AsyncMongoClient  # noqa: E402
from pymongo.monitoring import (  # noqa: E402
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from rich.console import Console  # noqa: E402

from compiler import compile_project  # noqa: E402
from runtime._cli_replay import _replay_cmd  # noqa: E402
from runtime.convtest import find_test_files, load_tests, run_test  # noqa: E402
from runtime.mongo import MongoArchive  # noqa: E402
from runtime.programs import ProgramRegistry  # noqa: E402
from runtime.replay import load_jsonl  # noqa: E402
from schemas.program import Program  # noqa: E402
from schemas.turns import TurnRecord  # noqa: E402
from tests.servers import Servers  # noqa: E402


class Count(CommandListener):
    def __init__(self) -> None:
        self.commands: dict[str, int] = {}

    def started(self, event: CommandStartedEvent) -> None:
        self.commands[event.command_name] = self.commands.get(event.command_name, 0) + 1

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


async def record(n: int, out: Path) -> tuple[list[Program], list[TurnRecord], list[str]]:
    """``n`` sessions: the examples' conversation tests in turn, each copy its own id."""
    cases = []
    programs = []
    for project in sorted((ROOT / "examples").iterdir()):
        if not find_test_files(project):
            continue
        result = compile_project(project)
        assert result.ok and result.program is not None, project
        programs.append(result.program)
        loaded = ProgramRegistry().add(result.program)
        cases += [(loaded, t) for f in find_test_files(project) for t in load_tests(f)]
    records: list[TurnRecord] = []
    ids: list[str] = []
    for i in range(n):
        loaded, t = cases[i % len(cases)]
        log = out / "s.jsonl"
        await run_test(loaded, replace(t, name=f"{t.name} {i}"), log)
        for g in load_jsonl(log):
            records.extend(g.records)
            ids.append(g.session_id)
    return programs, records, ids


async def run(url: str, n: int) -> dict[str, Any]:
    db = f"bench_replay_{os.getpid()}"
    with tempfile.TemporaryDirectory() as d:
        programs, records, ids = await record(n, Path(d))
    archive = MongoArchive.from_url(url, db)
    try:
        await archive.ensure_indexes()
        for p in programs:
            await archive.save_program(p)
        for i in range(0, len(records), 2000):
            await archive.write_turns(records[i : i + 2000])
        figures: dict[str, Any] = {"sessions": len(ids), "turns": len(records)}
        peak = _Peak()
        logging.getLogger("ddtflow.replay").addHandler(peak)
        logging.getLogger("ddtflow.replay").setLevel(logging.DEBUG)
        for name, sources in (("stream", []), ("by_id", ids)):
            count = Count()
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                url, event_listeners=[count], tz_aware=True
            )
            console = Console(file=io.StringIO(), highlight=False, soft_wrap=True)
            t0 = time.perf_counter()
            code = await _replay_cmd(
                console,
                list(sources),
                mongo=None,
                mongo_db=None,
                tenant="default",
                at=None,
                program=None,
                programs_dir=Path(d) / "none",
                only=None,
                program_id=None,
                since=None,
                until=None,
                json_report=None,
                save_test=None,
                timeline=False,
                archive=MongoArchive(client, db),
            )
            elapsed = time.perf_counter() - t0
            assert code == 0, console.file.getvalue()[-2000:]  # type: ignore[attr-defined]
            figures[f"{name}_sessions_per_s"] = round(len(ids) / elapsed)
            figures[f"{name}_queries"] = sum(
                v for k, v in count.commands.items() if k in ("find", "aggregate", "getMore")
            )
            figures[f"{name}_sessions_in_memory"] = peak.value
        return figures
    finally:
        await archive.client.drop_database(db)
        await archive.close()


class _Peak(logging.Handler):
    """The batch's own count of the sessions it held at once (its debug line)."""

    value = 0

    def emit(self, record: logging.LogRecord) -> None:
        m = re.search(r"at most (\d+) in memory", record.getMessage())
        if m:
            self.value = int(m[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000)
    args = ap.parse_args()
    servers = Servers()
    try:
        mongo = servers.mongo()
        real = bool(os.environ.get("MONGO_URL"))
        if not real:
            print(
                "NOTE: secantusdb, a Python MongoDB-wire test server, not mongod: the read side "
                "is far slower than MongoDB's. Set MONGO_URL to a real mongod."
            )
        f = asyncio.run(run(mongo.url, args.sessions))
    finally:
        servers.close()
    print(
        f"{f['sessions']} sessions ({f['turns']} turns) replayed and verified from MongoDB, "
        f"end to end (count, read, replay, verify, report)"
    )
    print(
        f"  as a stream: {f['stream_sessions_per_s']:,} sessions/s, {f['stream_queries']} "
        f"queries, at most {f['stream_sessions_in_memory']} sessions in memory"
    )
    print(
        f"  named by id (a page of ids per query): {f['by_id_sessions_per_s']:,} "
        f"sessions/s, {f['by_id_queries']} queries, {f['by_id_sessions_in_memory']} in memory"
    )
    print(
        json.dumps(
            {
                "bench": "replay_mongo",
                "sessions_per_s": f["stream_sessions_per_s"],
                **f,
                "mongo": "mongod" if real else "secantusdb (Python test server)",
            }
        )
    )


if __name__ == "__main__":
    main()
