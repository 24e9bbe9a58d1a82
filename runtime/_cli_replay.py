"""``ddtflow replay``, ``ddtflow coverage`` and ``ddtflow export``: recorded sessions from a
JSONL turn log or MongoDB, verified, compared against another program, measured, exported."""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from runtime.coverage import Coverage, FlowGraph
from runtime.erasure import FileTombstones, tombstone_file_for
from runtime.export import ExportFormat, Masker, export_json, export_session, export_vcon
from runtime.mongo import MongoArchive, record_from_doc
from runtime.ports import RuntimeFault, StoreUnavailableError
from runtime.program_store import LocalProgramStore, MongoProgramStore, ProgramStore, ProgramStores
from runtime.programs import LoadedProgram
from runtime.replay import (
    JsonlLog,
    LogSession,
    ReplayError,
    ReplayResult,
    SessionLog,
    group_sessions,
    replay_session,
    session_to_test,
)
from runtime.whatif import WhatIfResult, what_if
from schemas.actions import SayAction
from schemas.events import Event, UserInputEvent

log = logging.getLogger("ddtflow.replay")
K = TypeVar("K", bound=Hashable)

MongoOpt = Annotated[
    str | None, typer.Option("--mongo", "--from-mongo", help="MongoDB URL (default $MONGO_URL)")
]
DbOpt = Annotated[
    str | None,
    typer.Option("--mongo-db", help="MongoDB database (default $DDTFLOW_MONGO_DB or ddtflow)"),
]
TenantOpt = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        help="tenant of the sessions (MongoDB: default 'default'; logs: only this tenant's)",
    ),
]
ProgramOpt = Annotated[
    Path | None,
    typer.Option("--program", help="a compiled program (.json) or a project directory"),
]
StoreOpt = Annotated[
    Path | None,
    typer.Option("--programs-dir", help="local program store (default .ddtflow/programs)"),
]
SessionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--session",
        help="only this session (repeat for several); with no log, read from MongoDB",
    ),
]


class _Fail(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


class _Ticker:
    """The progress of a batch (``total`` sessions, 20 or more), always on stderr so that
    stdout holds only the report: a live bar on a terminal; elsewhere (CI, a pipe, a log
    file) a plain line each time another tenth is done, so a long batch shows it is moving."""

    MIN = 20

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.on = total >= self.MIN
        self._bar: Progress | None = None
        self._task: Any = None
        self._shown = 0  # tenths reported (plain lines)

    def __enter__(self) -> _Ticker:
        if self.on and self.console.is_terminal:
            self._bar = Progress(console=self.console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self) -> None:
        self.done += 1
        if not self.on:
            return
        grew = self.done > self.total  # sessions recorded after the batch was counted
        self.total = max(self.total, self.done)
        if self._bar is not None:
            if grew:
                self._bar.update(self._task, total=self.total)
            self._bar.advance(self._task)
            return
        tenths = self.done * 10 // self.total
        if tenths > self._shown:
            self._shown = tenths
            self.console.print(f"{self.label}: {self.done}/{self.total} sessions")


# --------------------------------------------------------------------------- sources


def _not_a_record(sid: str, e: ValueError) -> ReplayError:
    return ReplayError(f"session {sid!r}: a stored turn is not a turn record: {e}", session_id=sid)


@dataclass(frozen=True, slots=True)
class _Filters:
    """What a batch selects: sessions started in ``[since, until)``, of ``program_id``."""

    program_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keeps(self, g: SessionLog) -> bool:
        if self.program_id is not None and g.program_id != self.program_id:
            return False
        return _started_within(g, self.since, self.until)

    def may_keep(self, s: LogSession) -> bool:
        """From a log's index (turn 1 as written): False only when ``keeps`` will be."""
        if s.at is None:
            return True  # no turn 1: the session's error is named
        if self.program_id is not None and s.program_id != self.program_id:
            return False
        if self.since is None and self.until is None:
            return True
        try:
            at = datetime.fromisoformat(s.at)
        except ValueError:
            return True  # decided on the parsed record
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


def _mongo_session(
    archive: MongoArchive, sid: str, docs: list[dict[str, Any]], strict: bool, keep: _Filters
) -> list[SessionLog | ReplayError]:
    """One session's stored turns, checked as a file's are (``group_sessions``): the session
    (if the filters keep it), or the error that makes it unreplayable (raised when
    ``strict``)."""
    bad: list[ReplayError] = []
    out: list[SessionLog | ReplayError] = []
    try:
        records = [record_from_doc(d) for d in docs]
    except ValueError as e:
        bad.append(_not_a_record(sid, e))
    else:
        for g in group_sessions(records, archive.where, broken=None if strict else bad):
            if keep.keeps(g):  # as for files (ms vs µs at the edges of the time range)
                out.append(g)
    if bad and strict:
        raise bad[0]
    return out + bad[:1]


async def _mongo_stream(
    archive: MongoArchive, tenant: str, keep: _Filters, strict: bool
) -> AsyncIterator[SessionLog | ReplayError]:
    """A tenant's sessions as MongoDB streams them (``MongoArchive.session_turns``): a
    session, or the error of one that cannot be replayed (raised when ``strict``)."""
    turns = archive.session_turns(
        tenant, program_id=keep.program_id, since=keep.since, until=keep.until
    )
    async for sid, docs in turns:
        for item in _mongo_session(archive, sid, docs, strict, keep):
            yield item


async def _named_stream(
    archive: MongoArchive, tenant: str, ids: list[str], keep: _Filters, strict: bool
) -> AsyncIterator[SessionLog | ReplayError]:
    """The sessions named on the command line, in that order, read a page of ids per query
    (``MongoArchive.named_sessions``); an id with no stored turn is named."""
    async for sid, docs in archive.named_sessions(tenant, ids):
        if not docs:
            erased_at = await archive.tombstone(tenant, sid)
            if erased_at is not None:
                err = ReplayError(
                    f"session {sid!r} of tenant {tenant!r} was erased at "
                    f"{erased_at.isoformat()} ({archive.where})",
                    session_id=sid,
                )
            else:
                err = ReplayError(
                    f"no session {sid!r} for tenant {tenant!r} in {archive.where}",
                    session_id=sid,
                )
            if strict:
                raise err
            yield err
            continue
        for item in _mongo_session(archive, sid, docs, strict, keep):
            yield item


async def _file_stream(
    log: JsonlLog, keys: list[tuple[str, str]], keep: _Filters, strict: bool
) -> AsyncIterator[SessionLog | ReplayError]:
    """The selected sessions of a JSONL log, read one at a time (``JsonlLog.read``)."""
    for item in log.read(keys):
        if isinstance(item, SessionLog):
            if keep.keeps(item):
                yield item
        elif strict:
            raise item
        else:
            yield item


class _Batch:
    """The sessions a command works on, handed on one at a time (``sessions``): JSONL logs,
    sessions named by id, a tenant's sessions from MongoDB — each a stream, so that a batch
    holds about one session whatever its size (``peak`` counts the sessions alive at once).
    ``broken``: the errors of the sessions that cannot be replayed — those known before the
    batch starts (a ``--session`` in no log), then the streams' as they meet them."""

    def __init__(
        self,
        streams: list[AsyncIterator[SessionLog | ReplayError]],
        broken: list[ReplayError],
        total: int,
        program_ids: Iterable[str],
        nothing: str = "no recorded session matched",
    ) -> None:
        self.nothing = nothing  # the error when no session at all comes
        self.broken = broken
        self.total = total  # sessions expected (progress; one session or a batch)
        self.program_ids = frozenset(program_ids)  # the programs they ran
        self.handed = self.alive = self.peak = 0
        self.met_broken = 0  # errors the streams handed on
        self._streams = streams

    def _track(self, g: SessionLog) -> SessionLog:
        self.alive += 1
        self.peak = max(self.peak, self.alive)
        weakref.finalize(g, self._dropped)
        return g

    def _dropped(self) -> None:
        self.alive -= 1

    def not_reached(self, done: int) -> int:
        """How many of the sessions expected were not reached, ``done`` of them replayed."""
        return max(self.total - done - self.met_broken, 0)

    async def sessions(
        self, console: Console, progress: _Ticker | None = None
    ) -> AsyncIterator[SessionLog]:
        """The sessions; the error of one that cannot be replayed is shown where the stream
        meets it, added to ``broken`` and counted as done."""
        for stream in self._streams:
            async for item in stream:
                self.handed += 1
                if isinstance(item, SessionLog):
                    yield self._track(item)
                    continue
                _show_broken(console, [item])
                self.broken.append(item)
                self.met_broken += 1
                if progress is not None:
                    progress.advance()
        if not self.handed and not self.broken:
            raise _Fail(self.nothing)
        log.debug("batch of %d sessions: at most %d in memory at once", self.handed, self.peak)


def _mongo_url(url: str | None) -> str | None:
    return url or os.environ.get("MONGO_URL") or None


def _db_name() -> str:
    return os.environ.get("DDTFLOW_MONGO_DB", "ddtflow")


class _Ctx:
    """Program stores, an optional MongoDB archive, and the program given on the command
    line."""

    def __init__(
        self,
        mongo: str | None,
        programs_dir: Path | None,
        db: str | None,
        archive: MongoArchive | None = None,
    ) -> None:
        stores: list[ProgramStore] = [LocalProgramStore(programs_dir)]
        if archive is None and mongo:
            archive = MongoArchive.from_url(mongo, db or _db_name())
        self.archive = archive
        if self.archive is not None:
            stores.append(MongoProgramStore(self.archive))
        self.programs = ProgramStores(stores)
        self.given: LoadedProgram | None = None
        self.graph: FlowGraph | None = None

    async def close(self) -> None:
        if self.archive is not None:
            await self.archive.close()


def _load_given(ctx: _Ctx, program: Path, console: Console) -> None:
    from runtime._cli_test import compile_or_exit

    loaded, graph = compile_or_exit(program, console)
    ctx.given = ctx.programs.add(loaded.program)
    ctx.graph = graph if graph.nodes else None


async def _batch(
    ctx: _Ctx,
    sources: Iterable[str],
    tenant: str | None,
    only: Iterable[str] | None = None,
    program_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    strict: bool = False,
) -> _Batch:
    """The recorded sessions to work on, as streams: JSONL logs (indexed here, so that a
    broken line stops the command before anything is replayed), sessions named by id (and
    ``only``, the ``--session`` ids, with no source), or (no source, MongoDB configured) a
    tenant's sessions filtered by program and start time. ``only`` keeps those sessions of
    the sources; one found nowhere is named. ``tenant``: the tenant of MongoDB's sessions
    (None: ``default``) and, when given, of the logs' (None: every tenant's). A session whose
    log cannot be replayed (a missing turn, two records for one turn …) is handed on as its
    error, so a batch goes on; ``strict`` raises it."""
    keep = _Filters(program_id, since, until)
    if since is not None and until is not None and since >= until:
        raise _Fail(
            f"--since {since.isoformat()} is not before --until {until.isoformat()}: "
            f"no session can match"
        )
    wanted = list(dict.fromkeys(only or ()))
    streams: list[AsyncIterator[SessionLog | ReplayError]] = []
    programs: set[str] = set()
    bad: list[ReplayError] = []
    ids: list[str] = []
    total = 0
    found: set[str] = set()
    files = False
    logs: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            raise _Fail(f"{s} is a directory: give the JSONL logs in it ({p / '*.jsonl'})")
        if p.is_file() or s.endswith(".jsonl"):
            files = True
            logs.append(p)
            jl = JsonlLog(p)
            keys = [
                k
                for k, e in jl.sessions.items()
                if (not wanted or e.session_id in wanted)
                and (tenant is None or e.tenant == tenant)
                and keep.may_keep(e)
            ]
            found.update(e.session_id for e in jl.sessions.values())
            total += len(keys)
            programs.update(i for k in keys if (i := jl.sessions[k].program_id) is not None)
            if keys:
                streams.append(_file_stream(jl, keys, keep, strict))
        else:
            ids.append(s)
    if wanted and (files or ids):
        ids = [i for i in ids if i in wanted]
        found.update(ids)
        among = "in the given logs" if files else "among the sessions named"
        for sid in wanted:
            if sid not in found:
                err = ReplayError(
                    _erased(sid, tenant, logs) or f"no session {sid!r} {among}", session_id=sid
                )
                if strict:
                    raise err
                bad.append(err)
    elif wanted:  # no source: the sessions named with --session, from MongoDB
        ids = wanted
    ids = list(dict.fromkeys(ids))
    if not files and not ids and ctx.archive is None:
        raise _Fail(
            "no session to replay: give JSONL logs or session ids (with --mongo URL), or "
            "--mongo URL (or set MONGO_URL) for the sessions of a tenant"
        )
    where = "in the given logs"
    if ids or (not files and ctx.archive is not None):
        if ctx.archive is None:
            raise _Fail(
                f"{ids[0]!r} is not a file; to read session {ids[0]!r} from MongoDB give "
                f"--mongo URL (or set MONGO_URL)"
            )
        mongo_tenant = tenant or "default"
        where = f"tenant {mongo_tenant!r} in {ctx.archive.where}"
        if ids:
            if ctx.given is not None:  # a verification or a what-if: the programs they ran
                counted = await ctx.archive.count_sessions(
                    mongo_tenant,
                    session_ids=ids,
                    program_id=program_id,
                    since=since,
                    until=until,
                )
                programs.update(counted)
            total += len(ids)
            streams.append(_named_stream(ctx.archive, mongo_tenant, ids, keep, strict))
        else:
            planned = await ctx.archive.count_sessions(
                mongo_tenant, program_id=program_id, since=since, until=until
            )
            programs.update(planned)
            total += sum(planned.values())
            streams.append(_mongo_stream(ctx.archive, mongo_tenant, keep, strict))
    elif tenant is not None:
        where = f"tenant {tenant!r} {where}"
    nothing = _nothing(where, keep)
    if not total and not bad:
        raise _Fail(nothing)
    return _Batch(streams, bad, total, programs, nothing)


def _erased(sid: str, tenant: str | None, logs: list[Path]) -> str | None:
    """ "session … was erased at …" when the tombstones next to the logs name it."""
    for p in logs:
        tombs = FileTombstones(tombstone_file_for(p))
        for t in [tenant] if tenant is not None else tombs.tenants_of(sid):
            at = tombs.get_sync(t, sid)
            if at is not None:
                return f"session {sid!r} of tenant {t!r} was erased at {at.isoformat()} ({p})"
    return None


def _nothing(where: str, keep: _Filters) -> str:
    """ "No recorded session matched", and what was asked for."""
    asked = [where]
    if keep.program_id is not None:
        asked.append(f"program {keep.program_id}")
    if keep.since is not None:
        asked.append(f"started at or after {keep.since.isoformat()}")
    if keep.until is not None:
        asked.append(f"started before {keep.until.isoformat()}")
    return f"no recorded session matched ({', '.join(asked)})"


def _started_within(log: SessionLog, since: datetime | None, until: datetime | None) -> bool:
    at = log.records[0].at
    if at.tzinfo is None:  # a hand-written log: read as UTC, as the exports do
        at = at.replace(tzinfo=UTC)
    return (since is None or at >= since) and (until is None or at < until)


def _show_broken(console: Console, broken: Iterable[RuntimeFault]) -> None:
    for e in broken:
        console.print(f"[red]cannot replay: {escape(e.message)}[/red]", highlight=False)


# --------------------------------------------------------------------------- rendering


def _event_text(ev: Event, masker: Masker, before: Any) -> str:
    m = masker.event(ev, before)
    if isinstance(ev, UserInputEvent):
        bits = [repr(m["text"])] if ev.text else []
        if ev.dtmf is not None:
            bits.append(f"DTMF {m['dtmf']}")
        return "user: " + (" ".join(bits) or "''")
    if ev.type == "start":
        v = m.get("variables") or {}
        return "start" + (f" {orjson.dumps(v).decode()}" if v else "")
    if ev.type == "backend_result":
        ok = "ok" if m.get("ok") else f"failed ({m.get('error')})"
        return f"backend_result {m.get('backend')}: {ok} {m.get('status') or ''}".rstrip()
    if ev.type == "extraction_result":
        return f"extraction_result {m.get('layer')}: {orjson.dumps(m.get('value')).decode()}"
    return ev.type


def _action_text(a: dict[str, Any]) -> str:
    t = a.get("type")
    if t == "say":
        return f"say {a.get('text')!r}"
    if t == "listen":
        return f"listen ({a.get('expect')})"
    if t == "call_backend":
        return f"call_backend {a.get('backend')} {a.get('method')} {a.get('url')}"
    if t == "transfer":
        return f"transfer → {a.get('target')} ({a.get('reason')})"
    if t == "end":
        return f"end ({a.get('reason')})"
    rest = {k: v for k, v in a.items() if k != "type"}
    return f"{t} {orjson.dumps(rest).decode()}"


def _timeline(console: Console, res: ReplayResult, masker: Masker) -> None:
    prev_mem: dict[str, Any] = {}
    for t in res.turns:
        ev = t.record.event
        console.print(
            f"[bold]turn {t.seq}[/bold] [dim]{ev.at.isoformat()}[/dim] "
            f"{escape(_event_text(ev, masker, t.before))}",
            highlight=False,
        )
        for a in t.actions:
            console.print(f"   bot  {escape(_action_text(masker.action(a, t.before)))}")
        d = t.after.ddt
        where = f"{t.after.status}" + (f"/{t.after.awaiting}" if t.after.awaiting else "")
        if d is not None:
            node = ".".join(d.node) or "main"
            where += f"  ddt {d.ddt}/{node} {d.state} (attempts {d.total})"
        console.print(f"   [cyan]state[/cyan] {escape(where)}")
        mem = _flat(masker.memory(t.after.memory))
        for k in sorted(mem.keys() | prev_mem.keys()):
            if mem.get(k) != prev_mem.get(k):
                console.print(f"   [green]memory[/green] {escape(k)} = {escape(_j(mem.get(k)))}")
        prev_mem = mem


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        p = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and v:
            out.update(_flat(v, p))
        else:
            out[p] = v
    return out


def _j(v: Any) -> str:
    return orjson.dumps(v).decode()


def _show_divergence(console: Console, res: ReplayResult, masker: Masker) -> None:
    d = res.divergence
    assert d is not None
    before = next((t.before for t in res.turns if t.seq == d.seq), None)
    console.print(
        f"[red]session {escape(res.log.session_id)}: diverged at turn {d.seq}[/red] "
        f"({escape(d.event)}): {escape(masker.text(d.message))}",
        highlight=False,
    )
    if d.recorded_actions != d.replayed_actions and d.kind != "error":
        console.print("   actions (- recorded, + replayed):")
        _diff_actions(console, list(d.recorded_actions), list(d.replayed_actions), masker, before)
    for path, a, b in d.state_changes:
        console.print(
            f"   state {escape(path)}: [red]- {escape(_j(masker.at_path(path, a)))}[/red] "
            f"[green]+ {escape(_j(masker.at_path(path, b)))}[/green]",
            highlight=False,
        )


def _diff_actions(
    console: Console, want: list[Any], got: list[Any], masker: Masker, before: Any
) -> None:
    def m(a: dict[str, Any]) -> str:
        if a.get("type") == "say" and masker.prompt_masked(a.get("prompt")):
            a = {**a, "text": "***"}
        return _action_text(masker.deep(a))

    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w == g and w is not None:
            console.print(f"       {escape(m(w))}", highlight=False)
            continue
        if w is not None:
            console.print(f"     [red]- {escape(m(w))}[/red]", highlight=False)
        if g is not None:
            console.print(f"     [green]+ {escape(m(g))}[/green]", highlight=False)


# --------------------------------------------------------------------------- commands


def _parse_time(v: str | None, what: str) -> datetime | None:
    if v is None:
        return None
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise _Fail(f"{what}: not an ISO date or date-time: {v!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def _resolve(ctx: _Ctx, log: SessionLog) -> LoadedProgram:
    return await ctx.programs.load(log.program_id, session_id=log.session_id)


async def _resolve_in_batch(
    ctx: _Ctx, log: SessionLog, batch: int, console: Console
) -> LoadedProgram | RuntimeFault:
    """The session's program; in a batch of several, a program in no store is the
    session's error (shown, returned) and the batch goes on; alone, it is raised. A store
    that is unavailable (MongoDB gone) is no session's fault: it stops the batch."""
    try:
        return await _resolve(ctx, log)
    except StoreUnavailableError:
        raise
    except RuntimeFault as e:
        if batch == 1:
            raise
        _show_broken(console, [e])
        return e


# What stops a batch midway: a server gone, a log that cannot be read any more, no session.
_STOPS = (RuntimeFault, OSError, _Fail)


@dataclass(frozen=True, slots=True)
class _Stop:
    """Why a batch stopped before its end, and how many sessions it did not reach (None:
    not known, the batch could not be counted)."""

    error: RuntimeFault | OSError | _Fail
    not_reached: int | None

    @property
    def reason(self) -> str:
        e = self.error
        return str(e) if isinstance(e, OSError) else e.message

    def as_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "sessions_not_reached": self.not_reached}

    def line(self) -> str:
        n = self.not_reached
        return "incomplete: " + ("the batch stopped" if n is None else f"{n} sessions not reached")


def _output(path: Path | None, option: str) -> None:
    """Check a file the command will write before any session is read (a batch must not
    replay for an hour, then find it cannot write its report); its directory is created,
    as ``--save-test``'s always was."""
    if path is None:
        return
    if path.is_dir():
        raise _Fail(f"{option} {path}: a directory, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _Fail(f"{option} {path}: cannot create its directory: {e.strerror}") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _Fail(f"{option} {path}: not writable")


def _write_report(path: Path | None, doc: dict[str, Any], stop: _Stop | None) -> None:
    """A JSON report, marked complete or not: a batch that stops (MongoDB gone midway)
    still writes what it did, so that no stale report of an earlier run is read instead."""
    if path is None:
        return
    doc = {**doc, "complete": stop is None}
    if stop is not None:
        doc["incomplete"] = stop.as_json()
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


async def _replay_cmd(
    console: Console,
    sources: list[str],
    *,
    mongo: str | None,
    mongo_db: str | None,
    tenant: str | None,
    at: int | None,
    program: Path | None,
    programs_dir: Path | None,
    only: list[str] | None,
    program_id: str | None,
    since: str | None,
    until: str | None,
    json_report: Path | None,
    save_test: Path | None,
    timeline: bool | None,
    archive: MongoArchive | None = None,
) -> int:
    since_t, until_t = _parse_time(since, "--since"), _parse_time(until, "--until")
    _output(json_report, "--json-report")
    _output(save_test, "--save-test")
    ctx = _Ctx(_mongo_url(mongo), programs_dir, mongo_db, archive)
    try:
        if program is not None:
            _load_given(ctx, program, console)
        try:
            batch = await _batch(ctx, sources, tenant, only, program_id, since_t, until_t)
        except _STOPS as e:
            _write_report(json_report, {"sessions": []}, _Stop(e, None))
            raise
        _show_broken(console, batch.broken)
        given = ctx.given
        if given is not None and any(p != given.id for p in batch.program_ids):
            if at is not None or save_test is not None:
                opt = "--at" if at is not None else "--save-test"
                raise _Fail(
                    f"{opt} applies to a verification (the recorded program); --program "
                    f"{given.id[:19]}… is another program, a what-if"
                )
            return await _what_if_all(console, ctx, given, batch, json_report)
        return await _verify_all(console, ctx, batch, at, json_report, save_test, timeline)
    finally:
        await ctx.close()


async def _verify_all(
    console: Console,
    ctx: _Ctx,
    batch: _Batch,
    at: int | None,
    json_report: Path | None,
    save_test: Path | None,
    timeline: bool | None,
) -> int:
    sessions = failed = unresolved = 0
    tests: list[dict[str, Any]] = []
    report: list[dict[str, Any]] = []  # per session: a few fields, masked
    show = timeline if timeline is not None else batch.total == 1
    maskers: dict[str, Masker] = {}  # per program: its rules, no values
    stop: _Stop | None = None
    try:
        with _Ticker("replay", batch.total) as progress:
            async for g in batch.sessions(console, progress):
                sessions += 1
                loaded = await _resolve_in_batch(ctx, g, batch.total, console)
                if isinstance(loaded, RuntimeFault):
                    report.append(_broken_entry(loaded, g.session_id))
                    unresolved += 1
                    progress.advance()
                    continue
                res = replay_session(loaded, g)
                masker = _blank(maskers, loaded.id, partial(Masker, loaded.program))
                masker.learn_all(res.turns)
                if show:
                    console.print(
                        f"[bold]session {escape(g.session_id)}[/bold] (tenant {escape(g.tenant)}, "
                        f"program {escape(g.program_id[:19])}…, {len(g.records)} turns)",
                        highlight=False,
                    )
                    _timeline(console, res, masker)
                if at is not None:
                    hit = next((t for t in res.turns if t.seq == at), None)
                    if hit is None:
                        console.print(
                            f"[red]session {escape(g.session_id)}: no turn {at} replayed "
                            f"(1..{len(res.turns)})[/red]"
                        )
                        failed += 1
                    else:
                        console.print(f"state after turn {at}:")
                        doc = masker.state(hit.after)
                        console.print_json(orjson.dumps(doc).decode())
                report.append(_verify_entry(res, masker))
                if res.ok:
                    console.print(
                        f"[green]session {escape(g.session_id)}: identical[/green] "
                        f"({len(res.turns)} turns replayed)",
                        highlight=False,
                    )
                    if save_test is not None:
                        tests.append(_with_voice(session_to_test(res), res))
                else:
                    failed += 1
                    _show_divergence(console, res, masker)
                progress.advance()
    except _STOPS as e:
        stop = _Stop(e, batch.not_reached(len(report)))
    broken = batch.broken
    unreadable = len(broken) + unresolved
    done = len(report) + len(broken)
    if done > 1 or (stop is not None and done):
        identical = len(report) - failed - unresolved
        line = f"{identical} identical, {failed} diverged"
        line += f", {unreadable} could not be replayed" if unreadable else ""
        console.print(line + (f"; {stop.line()}" if stop is not None else ""))
    report[:0] = [_broken_entry(e) for e in broken]
    _write_report(json_report, {"sessions": report}, stop)
    if stop is not None:
        raise stop.error
    if save_test is not None and tests:
        _write_tests(save_test, tests)
        console.print(f"conversation test written to {escape(str(save_test))}")
    elif save_test is not None:
        console.print(
            f"[red]no session replayed identical: {escape(str(save_test))} not written[/red]"
        )
    return 1 if failed or unreadable else 0


def _verify_entry(res: ReplayResult, masker: Masker) -> dict[str, Any]:
    """A verified session's line of the JSON report (masked)."""
    g, d = res.log, res.divergence
    return {
        "session_id": g.session_id,
        "tenant": g.tenant,
        "program_id": g.program_id,
        "turns": len(g.records),
        "identical": res.ok,
        "divergence": (
            None
            if d is None
            else {
                **d.as_json(),
                "message": masker.text(d.message),
                "recorded_actions": _mask_actions(masker, list(d.recorded_actions)),
                "replayed_actions": _mask_actions(masker, list(d.replayed_actions)),
                "state_diff": [
                    {
                        "path": p,
                        "recorded": masker.at_path(p, a),
                        "replayed": masker.at_path(p, b),
                    }
                    for p, a, b in d.state_changes
                ],
            }
        ),
    }


def _broken_entry(e: RuntimeFault, session_id: str | None = None) -> dict[str, Any]:
    """A report line for a session that could not be replayed at all."""
    return {
        "session_id": session_id or e.details.get("session_id"),
        "identical": False,
        "error": e.message,
    }


def _with_voice(test: dict[str, Any], res: ReplayResult) -> dict[str, Any]:
    """A voice session saved as a test also pins what the caller heard: ``ssml:`` on each
    turn in which a say had SSML (``~`` for its says without), and ``barge_in:`` on each
    turn in which a say set its own (``~`` for those that follow the listen), the turns
    grouped as ``session_to_test`` groups them (a backend or extraction result belongs to
    the turn before). Should the grouping ever differ, the test is left without them."""
    if test.get("channel") != "voice":
        return test
    heard: list[list[SayAction]] = []
    for t in res.turns:
        if t.record.event.type not in ("backend_result", "extraction_result"):
            heard.append([])
        if heard:
            heard[-1].extend(a for a in t.actions if isinstance(a, SayAction))
    turns = test.get("turns") or []
    if len(heard) != len(turns) or any(
        len(h) != len(turn.get("bot", ())) for h, turn in zip(heard, turns, strict=True)
    ):
        return test
    for turn, says in zip(turns, heard, strict=True):
        if any(a.ssml is not None for a in says):
            turn["ssml"] = [a.ssml for a in says]
        if any(a.barge_in is not None for a in says):
            turn["barge_in"] = [a.barge_in for a in says]
    return test


def _write_tests(path: Path, tests: list[dict[str, Any]]) -> None:
    body = yaml.safe_dump(
        {"tests": tests} if len(tests) > 1 else tests[0],
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )
    head = (
        "# A recorded session saved as a conversation test (ddtflow replay --save-test).\n"
        "# It holds the caller's real inputs: treat it as you treat the turn log.\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + body, encoding="utf-8")


async def _what_if_all(
    console: Console,
    ctx: _Ctx,
    new: LoadedProgram,
    batch: _Batch,
    json_report: Path | None,
) -> int:
    rows: list[tuple[str, str, str, str]] = []  # session, verdict, label, why
    entries: list[dict[str, Any]] = []  # the JSON report's, masked
    maskers: dict[str | None, Masker] = {}  # per recorded program: its rules and new's
    missing: set[str] = set()  # recorded programs in no store (said once)
    counts = {"same": 0, "diverged": 0, "cannot_continue": 0}
    stop: _Stop | None = None
    try:
        with _Ticker("what-if replay", batch.total) as progress:
            async for g in batch.sessions(console, progress):
                r, masker = await _what_if_one(ctx, new, g, maskers, console, missing)
                counts[r.verdict] += 1
                rows.append((r.session_id, r.verdict, r.label, r.reason))
                if r.verdict != "same":
                    _show_what_if(console, r, masker)
                if json_report is not None:
                    entries.append(_what_if_entry(r, masker))
                progress.advance()
    except _STOPS as e:
        stop = _Stop(e, batch.not_reached(len(rows)))
    broken = batch.broken
    table = Table(title=f"what-if against {new.id[:19]}…")
    table.add_column("session")
    table.add_column("verdict")
    table.add_column("why")
    for sid, verdict, label, why in rows:
        style = _STYLE[verdict]
        table.add_row(escape(sid), f"[{style}]{escape(label)}[/{style}]", escape(why))
    console.print(table)
    console.print(
        f"{counts['same']} same, {counts['diverged']} diverged, "
        f"{counts['cannot_continue']} cannot continue"
        + (f", {len(broken)} could not be read" if broken else "")
        + (f"; {stop.line()}" if stop is not None else "")
    )
    if json_report is not None:
        entries.extend(_broken_entry(e) for e in broken)
        summary = {**counts, "unreadable": len(broken)}
        doc = {"program": new.id, "summary": summary, "sessions": entries}
        _write_report(json_report, doc, stop)
    if stop is not None:
        raise stop.error
    return 0 if counts["same"] == len(rows) and not broken else 1


_STYLE = {"same": "green", "diverged": "yellow", "cannot_continue": "red"}


async def _what_if_one(
    ctx: _Ctx,
    new: LoadedProgram,
    g: SessionLog,
    maskers: dict[str | None, Masker],
    console: Console,
    missing: set[str],
) -> tuple[WhatIfResult, Masker]:
    """One session against ``new``, and the masker for what it shows: the new program's
    rules plus what the recorded program hides, and the values the session held on either
    side (the recorded states, the verified replay's, the new program's). Without the
    recorded program (in no store) its rules are unknown — the new program may no longer
    mark sensitive what it held — so every value the session held is hidden (said once per
    program)."""
    states = None
    try:
        old: LoadedProgram | None = await _resolve(ctx, g)
    except StoreUnavailableError:
        raise
    except RuntimeFault:
        old = None
        if g.program_id not in missing:
            missing.add(g.program_id)
            console.print(
                f"[yellow]warning: program {escape(g.program_id)} (of session "
                f"{escape(g.session_id)}) is in no program store: every value its sessions "
                f"held is shown as ***; give it with --programs-dir to see what it hides"
                f"[/yellow]",
                highlight=False,
            )

    def rules() -> Masker:
        m = Masker(new.program)
        if old is not None:
            m.merge(Masker(old.program))
        return m

    masker = _blank(maskers, None if old is None else old.id, rules)
    if old is None:
        masker.hide_everything()
    if old is not None:
        ver = replay_session(old, g)
        if ver.ok:
            states = [t.after for t in ver.turns]
        for t in ver.turns:
            masker.learn(t.after)
    r = what_if(new, g, recorded_states=states)
    for rec in g.records:
        if rec.state is not None:
            masker.learn(rec.state)
    for st in r.states:  # the new side's states: values the recording may never have held
        masker.learn(st)
    return r, masker


def _blank(cache: dict[K, Masker], key: K, make: Callable[[], Masker]) -> Masker:
    """A masker with the rules ``make`` gives, built once per ``key`` (walking a program's
    prompts costs several times a session's replay), and no value learnt yet: a session's
    output is masked by what that session held."""
    if key not in cache:
        cache[key] = make()
    return cache[key].blank()


def _show_what_if(console: Console, r: WhatIfResult, masker: Masker) -> None:
    style = _STYLE[r.verdict]
    console.print(
        f"[{style}]session {escape(r.session_id)}: {escape(r.label)}[/{style}] "
        f"({escape(r.event or '')}): {escape(masker.text(r.reason))}",
        highlight=False,
    )
    if r.recorded_actions is not None and r.new_actions is not None:
        console.print("   actions (- recorded, + new program):")
        _diff_actions(console, r.recorded_actions, r.new_actions, masker, None)
    for path, a, b in r.state_diff or []:
        console.print(
            f"   {escape(path)}: [red]- {escape(_j(masker.at_path(path, a)))}[/red] "
            f"[green]+ {escape(_j(masker.at_path(path, b)))}[/green]",
            highlight=False,
        )


def _what_if_entry(r: WhatIfResult, masker: Masker) -> dict[str, Any]:
    """A session's line of the what-if JSON report (masked)."""
    d = r.as_json()
    d["reason"] = masker.text(r.reason)
    d["recorded_actions"] = _mask_actions(masker, r.recorded_actions)
    d["new_actions"] = _mask_actions(masker, r.new_actions)
    if r.state_diff is not None:
        d["state_diff"] = [
            {"path": p, "recorded": masker.at_path(p, a), "new": masker.at_path(p, b)}
            for p, a, b in r.state_diff
        ]
    return d


def _mask_actions(masker: Masker, actions: list[Any] | None) -> list[Any] | None:
    if actions is None:
        return None
    out = []
    for a in actions:
        if a.get("type") == "say" and masker.prompt_masked(a.get("prompt")):
            a = {**a, "text": "***", "ssml": None}
        out.append(masker.deep(a))
    return out


@dataclass(slots=True)
class _Measured:
    """A program's coverage in a batch, added session by session."""

    loaded: LoadedProgram
    graph: FlowGraph | None
    coverage: Coverage
    sessions: int = 0


async def _coverage_cmd(
    console: Console,
    files: list[str],
    *,
    mongo: str | None,
    mongo_db: str | None,
    tenant: str | None,
    program: Path | None,
    programs_dir: Path | None,
    as_json: bool,
    archive: MongoArchive | None = None,
) -> int:
    from runtime._cli_test import coverage_table

    ctx = _Ctx(_mongo_url(mongo), programs_dir, mongo_db, archive)
    try:
        if program is not None:
            _load_given(ctx, program, console)
        try:
            batch = await _batch(ctx, files, tenant)
        except _STOPS as e:
            if as_json:  # a JSON document still, saying why it holds nothing
                _echo_json({"sessions": 0, "programs": []}, _Stop(e, None))
            raise
        _show_broken(console, batch.broken)
        by_program: dict[str, _Measured] = {}  # in order of first appearance
        sessions = bad = 0
        stop: _Stop | None = None
        try:
            with _Ticker("coverage", batch.total) as progress:
                async for g in batch.sessions(console, progress):
                    progress.advance()
                    loaded = await _resolve_in_batch(ctx, g, batch.total, console)
                    sessions += 1
                    if isinstance(loaded, RuntimeFault):
                        bad += 1
                        continue
                    res = replay_session(loaded, g, trace=True)
                    if not res.ok:
                        bad += 1
                        console.print(
                            f"[red]session {escape(g.session_id)} does not replay "
                            f"({escape(res.divergence.message if res.divergence else '')}); "
                            f"its turns up to the divergence are counted[/red]"
                        )
                    m = by_program.get(loaded.id)
                    if m is None:
                        given = ctx.given is not None and ctx.given.id == loaded.id
                        graph, lp = (ctx.graph if given else None), loaded.program
                        cov = Coverage(loaded.program, graph or FlowGraph.from_program(lp))
                        m = by_program[loaded.id] = _Measured(loaded, graph, cov)
                    m.coverage.add([t.record for t in res.turns], [t.trace for t in res.turns])
                    m.sessions += 1
        except _STOPS as e:
            stop = _Stop(e, batch.not_reached(sessions))
        doc: dict[str, Any] = {"sessions": sessions, "programs": []}
        for pid, m in by_program.items():
            rep = m.coverage.report()
            if as_json:
                doc["programs"].append(
                    {"program_id": pid, "sessions": m.sessions, "coverage": rep.as_json()}
                )
            else:
                console.print(
                    f"program {escape(pid)} ({escape(m.loaded.program.project)}): "
                    f"{m.sessions} session(s)"
                )
                if m.graph is None:
                    console.print(
                        "[dim]edges need the project's graph: give --program PROJECT_DIR[/dim]"
                    )
                console.print(coverage_table(rep))
        if as_json:
            _echo_json(doc, stop)
        elif stop is not None:
            console.print(f"coverage {stop.line()}")
        if stop is not None:
            raise stop.error
        return 1 if bad or batch.broken else 0
    finally:
        await ctx.close()


def _echo_json(doc: dict[str, Any], stop: _Stop | None) -> None:
    """The JSON document of a command on stdout, marked complete or not (as a report)."""
    doc = {**doc, "complete": stop is None}
    if stop is not None:
        doc["incomplete"] = stop.as_json()
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


async def _export_cmd(
    console: Console,
    source: str,
    *,
    fmt: ExportFormat,
    mongo: str | None,
    mongo_db: str | None,
    tenant: str | None,
    program: Path | None,
    programs_dir: Path | None,
    only: list[str] | None,
    output: Path | None,
) -> int:
    _output(output, "--output")
    ctx = _Ctx(_mongo_url(mongo), programs_dir, mongo_db)
    try:
        if program is not None:
            _load_given(ctx, program, console)
        batch = await _batch(ctx, [source], tenant, only, strict=True)
        parts: list[str] = []
        docs: list[Any] = []
        async for g in batch.sessions(console):
            loaded = await _resolve(ctx, g)
            res = replay_session(loaded, g)
            if not res.ok and res.divergence is not None:
                console.print(
                    f"[yellow]warning: session {escape(g.session_id)} does not replay "
                    f"identically from turn {res.divergence.seq}; exported up to there[/yellow]"
                )
            if fmt == "text":
                parts.append(export_session(res, loaded.program, "text"))
            elif fmt == "json":
                docs.append(export_json(res, loaded.program))
            else:
                docs.append(export_vcon(res, loaded.program))
        if fmt == "text":
            out = "\n".join(parts)
        else:
            body = docs[0] if len(docs) == 1 else docs
            out = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n"
        if output is not None:
            output.write_text(out, encoding="utf-8")
        else:
            typer.echo(out, nl=False)
        return 0
    finally:
        await ctx.close()


def _run(console: Console, coro: Any) -> None:
    try:
        code = asyncio.run(coro)
    except (_Fail, RuntimeFault) as e:
        console.print(f"[red]error:[/red] {escape(e.message)}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(1) from None
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_cmd(
        sources: Annotated[
            list[str] | None,
            typer.Argument(help="JSONL turn logs and/or session ids (MongoDB)"),
        ] = None,
        mongo: MongoOpt = None,
        mongo_db: DbOpt = None,
        tenant: TenantOpt = None,
        at: Annotated[
            int | None, typer.Option("--at", min=1, help="print the state after turn N")
        ] = None,
        program: ProgramOpt = None,
        programs_dir: StoreOpt = None,
        session: SessionOpt = None,
        program_id: Annotated[
            str | None, typer.Option("--program-id", help="only sessions of this program")
        ] = None,
        since: Annotated[
            str | None, typer.Option("--since", help="sessions started at or after (ISO)")
        ] = None,
        until: Annotated[
            str | None, typer.Option("--until", help="sessions started before (ISO)")
        ] = None,
        json_report: Annotated[
            Path | None, typer.Option("--json-report", help="write a JSON report here")
        ] = None,
        save_test: Annotated[
            Path | None,
            typer.Option("--save-test", help="write the session(s) as a conversation test"),
        ] = None,
        timeline: Annotated[
            bool | None,
            typer.Option("--timeline/--no-timeline", help="print each turn (default: 1 session)"),
        ] = None,
    ) -> None:
        """Replay recorded sessions and verify them (exit 1 naming the first diverging turn);
        with --program of another version, a what-if report (exit 1 if any session changed)."""
        console = Console(highlight=False, soft_wrap=True)
        _run(
            console,
            _replay_cmd(
                console,
                list(sources or []),
                mongo=mongo,
                mongo_db=mongo_db,
                tenant=tenant,
                at=at,
                program=program,
                programs_dir=programs_dir,
                only=session,
                program_id=program_id,
                since=since,
                until=until,
                json_report=json_report,
                save_test=save_test,
                timeline=timeline,
            ),
        )

    @app.command("coverage")
    def coverage_cmd(
        files: Annotated[list[str] | None, typer.Argument(help="JSONL turn logs")] = None,
        mongo: MongoOpt = None,
        mongo_db: DbOpt = None,
        tenant: TenantOpt = None,
        program: ProgramOpt = None,
        programs_dir: StoreOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
    ) -> None:
        """Flow coverage of real sessions (nodes, edges, DDT states, escalation levels)."""
        console = Console(stderr=as_json, highlight=False, soft_wrap=True)
        _run(
            console,
            _coverage_cmd(
                console,
                list(files or []),
                mongo=mongo,
                mongo_db=mongo_db,
                tenant=tenant,
                program=program,
                programs_dir=programs_dir,
                as_json=as_json,
            ),
        )

    @app.command("export")
    def export_cmd(
        source: Annotated[str, typer.Argument(help="a JSONL turn log or a session id")],
        fmt: Annotated[str, typer.Option("--format", "-f", help="text, json or vcon")] = "text",
        mongo: MongoOpt = None,
        mongo_db: DbOpt = None,
        tenant: TenantOpt = None,
        program: ProgramOpt = None,
        programs_dir: StoreOpt = None,
        session: SessionOpt = None,
        output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    ) -> None:
        """Export a session: a transcript, JSON, or a vCon; sensitive values masked."""
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        if fmt not in ("text", "json", "vcon"):
            console.print(f"[red]error:[/red] --format is text, json or vcon, not {fmt!r}")
            raise typer.Exit(1)
        _run(
            console,
            _export_cmd(
                console,
                source,
                fmt=fmt,  # type: ignore[arg-type]
                mongo=mongo,
                mongo_db=mongo_db,
                tenant=tenant,
                program=program,
                programs_dir=programs_dir,
                only=session,
                output=output,
            ),
        )


__all__ = ["register"]
