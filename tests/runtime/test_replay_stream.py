"""Batch replay, what-if and coverage over MongoDB as a stream (the real MongoDB-wire
server): a page of sessions per pair of queries instead of a query per session, each session
replayed and dropped before the next is read; the same reports as from the JSONL logs of
the same sessions; sessions grouped right whatever order their turns were inserted in; a
broken session in the middle named and passed over; the time and program filters; a server
that goes away mid-batch is a one-line error."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import random
import re
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from pymongo import AsyncMongoClient
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from rich.console import Console
from typer.testing import CliRunner

from runtime._cli_replay import _coverage_cmd, _replay_cmd, _run
from runtime.cli import _register, app
from runtime.convtest import run_test
from runtime.mongo import MongoArchive, turn_id
from runtime.program_store import LocalProgramStore
from runtime.replay import load_jsonl
from tests.runtime._mongo_helpers import drop_mongo_db
from tests.runtime.test_replay import (
    EXAMPLES,
    EXAMPLES_DIR,
    compiled,
    designer_tests,
    rec_root,
    recorded,
)
from tests.runtime.test_whatif import changed_project
from tests.servers import MongoServer, Servers

__all__ = ["rec_root"]

PROJECT = EXAMPLES_DIR / "bank_card_block"
OTHER = EXAMPLES_DIR / next(n for n in EXAMPLES if n != PROJECT.name)
COPIES = 6  # each conversation test recorded six times, an hour apart: 60 sessions
_register()


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One JSONL log of 60 sessions of bank_card_block: copy k of every conversation test
    under its own session id, started k hours after the test's own start."""
    out = tmp_path_factory.mktemp("stream")
    loaded = compiled(PROJECT)
    tests = designer_tests(PROJECT)

    async def record() -> None:
        for k in range(COPIES):
            for i, t in enumerate(tests):
                copy = replace(t, name=f"{t.name} copy {k}", at=t.at + timedelta(hours=k))
                await run_test(loaded, copy, out / f"{k}-{i:02d}.jsonl")

    asyncio.run(record())
    path = out / "day.jsonl"
    path.write_bytes(b"".join(p.read_bytes() for p in sorted(out.glob("?-*.jsonl"))))
    return path


def _load(url: str, db: str, logs: list[Path], projects: list[Path]) -> None:
    """The sessions of ``logs`` into MongoDB the way the worker writes them, their turns
    shuffled across sessions (and seqs), so insertion order is no help."""
    records = [r for p in logs for g in load_jsonl(p) for r in g.records]
    random.Random(7).shuffle(records)

    async def load() -> None:
        a = MongoArchive.from_url(url, db)
        try:
            await a.ensure_indexes()
            for project in projects:
                await a.save_program(compiled(project).program)
            await a.write_batch(records)
        finally:
            await a.close()

    asyncio.run(load())


@pytest.fixture
def mongo_db(mongo_url: str, day: Path) -> Iterator[tuple[str, str]]:
    db = f"stream_{uuid.uuid4().hex[:8]}"
    _load(mongo_url, db, [day], [PROJECT])
    yield mongo_url, db
    drop_mongo_db(mongo_url, db)


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"CI": "true"})
    return r.exit_code, r.stdout, r.stderr


def _by_session(doc: dict[str, Any]) -> dict[str, Any]:
    return {s["session_id"]: s for s in doc["sessions"]}


def test_a_mongo_batch_reports_what_the_logs_of_the_same_sessions_report(
    mongo_db: tuple[str, str], day: Path, tmp_path: Path
) -> None:
    url, db = mongo_db
    empty = tmp_path / "no-local-programs"
    mongo = ["--mongo", url, "--mongo-db", db, "--programs-dir", str(empty)]
    files, stream = tmp_path / "files.json", tmp_path / "stream.json"
    code, out, _ = cli("replay", str(day), "--program", str(PROJECT), "--json-report", str(files))
    assert code == 0, out
    assert out.rstrip().endswith("60 identical, 0 diverged")
    code, out, err = cli("replay", *mongo, "--json-report", str(stream))
    assert code == 0, out + err
    assert out.rstrip().endswith("60 identical, 0 diverged")
    assert err.splitlines()[-1] == "replay: 60/60 sessions"  # progress still on stderr
    a, b = orjson.loads(files.read_bytes()), orjson.loads(stream.read_bytes())
    assert _by_session(a) == _by_session(b)
    ids = [s["session_id"] for s in b["sessions"]]
    assert ids == sorted(ids), "a MongoDB batch comes in session-id order"
    # what-if: the same verdicts, reasons and (masked) sides, session by session
    new = changed_project(tmp_path, "DDT validation")
    code, out_files, _ = cli("replay", str(day), "--program", str(new), "--json-report", str(files))
    assert code == 1
    code, out, _ = cli("replay", *mongo, "--program", str(new), "--json-report", str(stream))
    assert code == 1
    a, b = orjson.loads(files.read_bytes()), orjson.loads(stream.read_bytes())
    assert a["summary"] == b["summary"] and b["summary"]["diverged"] == 6 * COPIES
    assert _by_session(a) == _by_session(b)
    summary = next(line for line in out.splitlines() if " same, " in line)
    assert summary in out_files
    assert "1980" not in out + stream.read_text()
    # coverage: the same figures
    code, cov_files, _ = cli("coverage", str(day), "--program", str(PROJECT), "--json")
    assert code == 0
    code, cov_stream, _ = cli("coverage", *mongo, "--program", str(PROJECT), "--json")
    assert code == 0
    assert orjson.loads(cov_files) == orjson.loads(cov_stream)
    assert orjson.loads(cov_stream)["sessions"] == 60


class Commands(CommandListener):
    """Every command the client sends to one database."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.database_name == self.db:
            self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def turn_reads(self) -> list[dict[str, Any]]:
        return [c for n, c in self.sent if n == "find" and c.get("find") == "turns"]


def _archive(url: str, db: str, *listeners: CommandListener, page: int = 25) -> MongoArchive:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        url, event_listeners=list(listeners), tz_aware=True, serverSelectionTimeoutMS=1000
    )
    archive = MongoArchive(client, db, where=f"mongodb {db}")
    archive.session_page = page
    return archive


REPLAY: dict[str, Any] = dict.fromkeys(
    ("mongo", "mongo_db", "at", "program", "only", "program_id", "since", "until"), None
) | {"tenant": "default", "save_test": None, "timeline": None}


def _peak(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    m = re.search(r"batch of (\d+) sessions: at most (\d+) in memory at once", caplog.text)
    assert m is not None, caplog.text
    caplog.clear()
    return int(m[1]), int(m[2])


async def test_a_batch_reads_a_page_of_sessions_per_two_queries_and_holds_one_session(
    mongo_db: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """60 sessions, pages of 25: one count, then three pairs of queries (ids, turns) —
    before, a query per session, and all 60 sessions held until the report."""
    url, db = mongo_db
    caplog.set_level(logging.DEBUG, logger="ddtflow.replay")
    commands = Commands(db)
    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True)
    report = tmp_path / "r.json"
    code = await _replay_cmd(
        console,
        [],
        **REPLAY,
        programs_dir=tmp_path / "none",
        json_report=report,
        archive=_archive(url, db, commands),
    )
    assert code == 0, out.getvalue()
    assert _peak(caplog) == (60, 2)  # the one being replayed and the one just read
    assert [n for n, _ in commands.sent].count("aggregate") == 1
    reads = commands.turn_reads()
    assert len(reads) == 6
    pages, turns = reads[0::2], reads[1::2]
    assert [p["limit"] for p in pages] == [25, 25, 25]
    assert all(t["sort"] == {"tenant": 1, "session_id": 1, "seq": 1} for t in turns)
    ids = [sid for t in turns for sid in t["filter"]["session_id"]["$in"]]
    assert ids == sorted(set(ids)) and len(ids) == 60
    assert [s["session_id"] for s in orjson.loads(report.read_bytes())["sessions"]] == ids
    # a what-if and coverage hold no more
    new = changed_project(tmp_path, "edge condition")
    code = await _replay_cmd(
        console,
        [],
        **(REPLAY | {"program": new}),
        programs_dir=tmp_path / "none",
        json_report=None,
        archive=_archive(url, db),
    )
    assert code == 1
    assert _peak(caplog) == (60, 2)
    code = await _coverage_cmd(
        console,
        [],
        mongo=None,
        mongo_db=None,
        tenant="default",
        program=None,
        programs_dir=tmp_path / "none",
        as_json=True,
        archive=_archive(url, db),
    )
    assert code == 0
    assert _peak(caplog) == (60, 2)


async def test_sessions_interleaved_in_insertion_order_come_out_whole_and_in_order(
    mongo_db: tuple[str, str], day: Path
) -> None:
    url, db = mongo_db
    want = {g.session_id: [r.seq for r in g.records] for g in load_jsonl(day)}
    archive = _archive(url, db)
    try:
        got = [
            (sid, [d["seq"] for d in docs])
            async for sid, docs in archive.session_turns("default", page=7)
        ]
        assert [sid for sid, _ in got] == sorted(want)
        assert dict(got) == want
        assert [s async for s, _ in archive.session_turns("other-tenant")] == []
    finally:
        await archive.close()


async def test_sessions_named_on_the_command_line_are_read_a_page_of_ids_per_query(
    mongo_db: tuple[str, str], day: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """62 ids named (the 60 sessions in reverse order, two unknown ones among them), pages
    of 25: three queries — before, one per id — the order given kept, the unknown ids named,
    exit 1, the others replayed."""
    url, db = mongo_db
    caplog.set_level(logging.DEBUG, logger="ddtflow.replay")
    ids = sorted(g.session_id for g in load_jsonl(day))[::-1]
    named = [*ids[:30], "nobody", *ids[30:], "nobody-either"]
    commands = Commands(db)
    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True)
    report = tmp_path / "r.json"
    code = await _replay_cmd(
        console,
        named,
        **REPLAY,
        programs_dir=tmp_path / "none",
        json_report=report,
        archive=_archive(url, db, commands),
    )
    text = out.getvalue()
    assert code == 1, text
    reads = commands.turn_reads()
    assert [len(r["filter"]["session_id"]["$in"]) for r in reads] == [25, 25, 12]
    assert [n for n, _ in commands.sent].count("aggregate") == 0  # no --program: no count
    assert re.findall(r"session (\S+): identical", text) == ids
    where = f"for tenant 'default' in mongodb {db}"
    assert f"cannot replay: no session 'nobody' {where}" in text
    assert f"cannot replay: no session 'nobody-either' {where}" in text
    assert text.index(f"session {ids[29]}: identical") < text.index("'nobody'")
    assert text.index("'nobody'") < text.index(f"session {ids[30]}: identical")
    assert text.rstrip().endswith("60 identical, 0 diverged, 2 could not be replayed")
    n, peak = _peak(caplog)
    assert n == 62 and peak <= 25 + 1, peak  # at most a page (ids out of order)
    doc = orjson.loads(report.read_bytes())
    assert [s["session_id"] for s in doc["sessions"] if s["identical"]] == ids
    assert [s["session_id"] for s in doc["sessions"] if "error" in s] == ["nobody", "nobody-either"]
    # --program: one count tells a verification from a what-if, then the same pages
    commands = Commands(db)
    code = await _replay_cmd(
        console,
        ids,
        **(REPLAY | {"program": changed_project(tmp_path, "edge condition")}),
        programs_dir=tmp_path / "none",
        json_report=report,
        archive=_archive(url, db, commands),
    )
    assert code == 1
    assert [n for n, _ in commands.sent].count("aggregate") == 1
    assert [len(r["filter"]["session_id"]["$in"]) for r in commands.turn_reads()] == [25, 25, 10]
    doc = orjson.loads(report.read_bytes())
    assert sum(doc["summary"].values()) == 60 and doc["summary"]["diverged"] == 2 * COPIES
    assert [s["session_id"] for s in doc["sessions"]] == ids


def test_session_repeated_reads_those_sessions_in_the_order_given(
    mongo_db: tuple[str, str], day: Path, tmp_path: Path
) -> None:
    url, db = mongo_db
    ids = sorted(g.session_id for g in load_jsonl(day))
    mongo = ["--mongo", url, "--mongo-db", db, "--programs-dir", str(tmp_path / "none")]
    report = tmp_path / "r.json"
    picked = [ids[40], ids[3], ids[17]]
    args = [a for sid in (*picked, "nobody") for a in ("--session", sid)]
    code, out, _ = cli("replay", *mongo, *args, "--json-report", str(report), "--no-timeline")
    assert code == 1, out
    assert re.findall(r"session (\S+): identical", out) == picked
    assert "cannot replay: no session 'nobody' for tenant 'default'" in out
    assert out.rstrip().endswith("3 identical, 0 diverged, 1 could not be replayed")
    # the filters still apply to the sessions named
    t0 = load_jsonl(day)[0].records[0].at
    later = (t0 + timedelta(hours=3)).isoformat()
    code, out, _ = cli("replay", *mongo, *args[:6], "--since", later, "--json-report", str(report))
    kept = [sid for sid in picked if int(sid.rsplit("-", 1)[1]) >= 3]
    assert re.findall(r"session (\S+): identical", out) == kept, out
    # from a log, --session repeated keeps those sessions, in the log's order
    code, out, _ = cli("replay", str(day), "--program", str(PROJECT), *args, "--no-timeline")
    assert code == 1, out
    assert sorted(re.findall(r"session (\S+): identical", out)) == sorted(picked)
    assert "cannot replay: no session 'nobody' in the given logs" in out


def test_a_broken_session_in_the_middle_is_named_and_the_batch_goes_on(
    mongo_db: tuple[str, str], tmp_path: Path
) -> None:
    url, db = mongo_db

    async def damage() -> list[str]:
        a = MongoArchive.from_url(url, db)
        try:
            ids = sorted(await a.turns.distinct("session_id", {"tenant": "default"}))
            await a.turns.delete_one({"_id": turn_id("default", ids[30], 3)})
            await a.turns.update_one(
                {"_id": turn_id("default", ids[31], 2)}, {"$set": {"event": {"type": "x"}}}
            )
            return ids
        finally:
            await a.close()

    ids = asyncio.run(damage())
    mongo = ["--mongo", url, "--mongo-db", db, "--programs-dir", str(tmp_path / "none")]
    report = tmp_path / "r.json"
    code, out, _ = cli("replay", *mongo, "--json-report", str(report))
    assert code == 1, out
    hole = f"cannot replay: mongodb 127.0.0.1:{url.split(':')[2].split('/')[0]}/{db}: "
    assert f"{hole}session '{ids[30]}': turn 3 is missing" in out
    assert f"cannot replay: session '{ids[31]}': a stored turn is not a turn record" in out
    assert out.rstrip().endswith("58 identical, 0 diverged, 2 could not be replayed")
    # named where the stream met it, between its neighbours
    assert (
        out.index(f"session {ids[29]}: identical")
        < out.index(f"session '{ids[30]}': turn 3")
        < out.index(f"session '{ids[31]}': a stored")
        < out.index(f"session {ids[32]}: identical")
    )
    doc = orjson.loads(report.read_bytes())
    assert [s["session_id"] for s in doc["sessions"] if "error" in s] == ids[30:32]
    assert sum(s["identical"] for s in doc["sessions"]) == 58
    new = changed_project(tmp_path, "edge condition")
    code, out, _ = cli("replay", *mongo, "--program", str(new), "--json-report", str(report))
    assert code == 1, out
    summary = orjson.loads(report.read_bytes())["summary"]
    assert summary["unreadable"] == 2 and sum(summary.values()) == 60
    code, out, _ = cli("coverage", *mongo, "--json")
    assert code == 1
    assert orjson.loads(out)["sessions"] == 58


def test_time_program_and_session_filters_select_as_before(
    mongo_url: str, day: Path, rec_root: Path, tmp_path: Path
) -> None:
    """--since/--until on the session's start (since included, until not), --program-id on
    its program, --session one session: the same sessions as from the logs."""
    other = [str(r.log) for r in recorded(OTHER, rec_root)]
    db = f"stream_{uuid.uuid4().hex[:8]}"
    _load(mongo_url, db, [day, *map(Path, other)], [PROJECT, OTHER])
    store = tmp_path / "programs"
    for project in (PROJECT, OTHER):
        LocalProgramStore(store).save_sync(compiled(project).program)
    mongo = ["--mongo", mongo_url, "--mongo-db", db, "--programs-dir", str(store)]
    t0 = load_jsonl(day)[0].records[0].at
    report = tmp_path / "r.json"

    def sessions(*args: str) -> list[str]:
        code, out, _ = cli("replay", *args, "--json-report", str(report), "--no-timeline")
        assert code == 0, out
        return sorted(s["session_id"] for s in orjson.loads(report.read_bytes())["sessions"])

    def at(hours: int) -> str:
        return (t0 + timedelta(hours=hours)).isoformat()

    def copies(ids: list[str]) -> list[int]:
        return sorted({int(sid.rsplit("-", 1)[1]) for sid in ids if "-copy-" in sid})

    pid = compiled(PROJECT).id
    for window, want in (
        (["--since", at(2), "--until", at(4)], [2, 3]),
        (["--since", at(5)], [5]),  # a start equal to --since is in
        (["--until", at(1)], [0]),  # a start equal to --until is out
        (["--program-id", pid, "--since", at(3)], [3, 4, 5]),
    ):
        from_mongo = sessions(*mongo, *window)
        assert from_mongo == sessions(str(day), *other, "--programs-dir", str(store), *window)
        assert copies(from_mongo) == want
    assert len(sessions(*mongo, "--program-id", pid)) == 60
    assert len(sessions(*mongo)) == 60 + len(other)
    assert len(sessions(*mongo, "--program-id", compiled(OTHER).id)) == len(other)
    code, out, _ = cli("replay", *mongo, "--until", at(0))
    assert code == 1 and "no recorded session matched" in out
    one = sessions(str(day))[7]
    code, out, _ = cli("replay", *mongo, "--session", one)
    assert code == 0 and out.startswith(f"session {one} ") and "turn 1 " in out  # a timeline
    code, out, _ = cli("replay", *mongo, "--session", "nobody")
    assert code == 1 and "no session 'nobody' for tenant 'default' in mongodb " in out


class Crash(Commands):
    """Kills the server as the ``at``-th read of turns is sent."""

    def __init__(self, db: str, mongo: MongoServer, at: int) -> None:
        super().__init__(db)
        self.mongo, self.at = mongo, at

    def started(self, event: CommandStartedEvent) -> None:
        super().started(event)
        server = self.mongo.server
        if len(self.turn_reads()) == self.at and server is not None and server.running():
            server.kill()


def test_a_server_that_goes_away_mid_batch_is_a_one_line_error_and_a_partial_report(
    servers: Servers, day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """MongoDB killed as the second page of sessions is read (after 25 of 60): the command
    stops with one line and exit 1 — and the report (verification, what-if, coverage) holds
    the 25 sessions done, marked incomplete with the reason and the 35 not reached. Before,
    no report was written (a stale one of an earlier run was left in its place)."""
    mongo = servers.extra_mongo()
    assert mongo.server is not None
    db = "stream"
    _load(mongo.url, db, [day], [PROJECT])
    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True)
    report = tmp_path / "r.json"
    none = tmp_path / "none"

    def stopped(run: Callable[[MongoArchive], Awaitable[int]], at: int = 4) -> list[str]:
        assert mongo.server is not None
        mongo.server.start()  # again, after the previous kill (its data kept)
        out.seek(0)
        out.truncate()
        report.write_text("a report of an earlier run")
        with pytest.raises(typer.Exit) as exc:
            _run(console, run(_archive(mongo.url, db, Crash(db, mongo, at))))
        assert exc.value.exit_code == 1
        del exc  # its context holds PyMongo's error, whose frames hold the dead connection
        with warnings.catch_warnings():
            # whose socket PyMongo leaves unclosed: collect it here, not in a later test
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        assert "Traceback" not in out.getvalue()
        return out.getvalue().splitlines()

    def error(after: int = 25) -> str:
        return (
            f"MongoDB unavailable (mongodb {db}) during the batch read of the sessions of "
            f"tenant 'default' (after {after} sessions): "
        )

    lines = stopped(
        lambda a: _replay_cmd(
            console, [], **REPLAY, programs_dir=none, json_report=report, archive=a
        )
    )
    assert len([line for line in lines if line.endswith("turns replayed)")]) == 25
    assert lines[-2] == "25 identical, 0 diverged; incomplete: 35 sessions not reached"
    assert lines[-1].startswith(f"error: {error()}"), lines[-1]
    doc = orjson.loads(report.read_bytes())
    assert doc["complete"] is False
    assert doc["incomplete"]["sessions_not_reached"] == 35
    assert doc["incomplete"]["reason"].startswith(error())
    assert len(doc["sessions"]) == 25 and all(s["identical"] for s in doc["sessions"])
    # a what-if batch
    new = changed_project(tmp_path, "DDT validation")
    lines = stopped(
        lambda a: _replay_cmd(
            console,
            [],
            **(REPLAY | {"program": new}),
            programs_dir=none,
            json_report=report,
            archive=a,
        )
    )
    assert lines[-2].endswith(" cannot continue; incomplete: 35 sessions not reached")
    assert lines[-1].startswith(f"error: {error()}")
    doc = orjson.loads(report.read_bytes())
    assert doc["complete"] is False and doc["incomplete"]["sessions_not_reached"] == 35
    assert sum(doc["summary"].values()) == len(doc["sessions"]) == 25
    assert "1980" not in report.read_text()
    # coverage --json: the document on stdout, of the 25 sessions measured
    capsys.readouterr()
    lines = stopped(
        lambda a: _coverage_cmd(
            console,
            [],
            mongo=None,
            mongo_db=None,
            tenant="default",
            program=None,
            programs_dir=none,
            as_json=True,
            archive=a,
        )
    )
    assert lines[-1].startswith(f"error: {error()}")
    cov = orjson.loads(capsys.readouterr().out)
    assert cov["complete"] is False and cov["incomplete"]["sessions_not_reached"] == 35
    assert cov["sessions"] == 25 == cov["programs"][0]["sessions"]
    # sessions named by id: the same, a page of ids per query
    ids = sorted(g.session_id for g in load_jsonl(day))
    lines = stopped(
        lambda a: _replay_cmd(
            console, ids, **REPLAY, programs_dir=none, json_report=report, archive=a
        ),
        at=2,
    )
    assert lines[-2] == "25 identical, 0 diverged; incomplete: 35 sessions not reached"
    assert lines[-1].startswith(
        f"error: MongoDB unavailable (mongodb {db}) during the read of the sessions named for "
        f"tenant 'default' (after 25 of 60 sessions): "
    ), lines[-1]
    doc = orjson.loads(report.read_bytes())
    assert doc["complete"] is False and len(doc["sessions"]) == 25
    # a server already gone: no session read, the report says so
    lines = stopped(
        lambda a: _replay_cmd(
            console, [], **REPLAY, programs_dir=none, json_report=report, archive=a
        ),
        at=0,
    )
    doc = orjson.loads(report.read_bytes())
    assert doc["sessions"] == [] and doc["complete"] is False
    assert doc["incomplete"]["reason"].startswith(
        f"MongoDB unavailable (mongodb {db}) during the count"
    )
