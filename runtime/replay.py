"""Replay: re-run a recorded session's events through ``step`` and verify every turn.

A session's turn records (from a JSONL log or MongoDB) are checked for shape first (one
session, seq 1, 2, 3 … without a hole, a start event first), then replayed from the
session's initial state with the recorded program. Each replayed turn must give the
recorded state digest and the recorded actions; the first turn that does not is the
divergence, reported with a diff of state and actions (as Temporal's replayer names the
event where a workflow stopped being deterministic).
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson
from pydantic import ValidationError

from runtime.orchestrator import new_session, run_step
from runtime.ports import RuntimeFault, first_error
from runtime.programs import LoadedProgram
from schemas.actions import Action
from schemas.session import DdtState, SessionState
from schemas.turns import TurnRecord

__all__ = [
    "Divergence",
    "JsonlLog",
    "LogSession",
    "ReplayError",
    "ReplayResult",
    "SessionLog",
    "TurnView",
    "action_json",
    "flatten",
    "group_sessions",
    "load_jsonl",
    "origin_state",
    "replay_session",
    "state_diff",
]


class ReplayError(RuntimeFault):
    """A recorded session that cannot be replayed: a broken log (missing seq, not JSON,
    truncated line), or a program that is not in the program store. Names the turn."""

    code = "replay_invalid"


@dataclass(frozen=True, slots=True, weakref_slot=True)
class SessionLog:
    """The turn records of one session, in seq order, and where they came from. (Weakly
    referable: a batch counts how many sessions are alive at once.)"""

    tenant: str
    session_id: str
    program_id: str
    records: tuple[TurnRecord, ...]
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.tenant}/{self.session_id}"


@dataclass(slots=True)
class TurnView:
    """One replayed turn: the event, the state before and after, the replayed actions."""

    record: TurnRecord
    before: SessionState
    after: SessionState
    actions: list[Action]
    trace: list[int] = field(default_factory=list)

    @property
    def seq(self) -> int:
        return self.record.seq


DivergenceKind = Literal["digest", "actions", "error", "seq"]


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first turn where the replay does not reproduce the record."""

    seq: int
    event: str
    kind: DivergenceKind
    message: str
    recorded_actions: tuple[Any, ...] = ()
    replayed_actions: tuple[Any, ...] = ()
    state_changes: tuple[tuple[str, Any, Any], ...] = ()  # (path, recorded, replayed)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "event": self.event,
            "kind": self.kind,
            "message": self.message,
            "recorded_actions": list(self.recorded_actions),
            "replayed_actions": list(self.replayed_actions),
            "state_diff": [
                {"path": p, "recorded": a, "replayed": b} for p, a, b in self.state_changes
            ],
        }


@dataclass(slots=True)
class ReplayResult:
    log: SessionLog
    program_id: str
    turns: list[TurnView] = field(default_factory=list)
    divergence: Divergence | None = None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    @property
    def final(self) -> SessionState | None:
        return self.turns[-1].after if self.turns else None


# --------------------------------------------------------------------------- reading


def group_sessions(
    records: Iterable[TurnRecord], source: str = "", *, broken: list[ReplayError] | None = None
) -> list[SessionLog]:
    """Split records into sessions (in order of first appearance) and check each one: seq
    1, 2, 3 … with no hole, one program, a start event first. Identical duplicates (a sink
    that published twice) are dropped; a different record with the same seq is an error.

    Without ``broken`` the first session that fails a check raises its ReplayError; with
    it, that session is left out and its error appended (a batch goes on without it)."""
    by_key: dict[tuple[str, str], dict[int, TurnRecord]] = {}
    errors: dict[tuple[str, str], ReplayError] = {}
    for rec in records:
        key = (rec.tenant, rec.session_id)
        seqs = by_key.setdefault(key, {})
        old = seqs.get(rec.seq)
        if old is not None and old != rec:
            errors.setdefault(
                key,
                ReplayError(
                    f"{_where(source)}session {rec.session_id!r}: two different records for "
                    f"turn {rec.seq}",
                    session_id=rec.session_id,
                    seq=rec.seq,
                ),
            )
        seqs[rec.seq] = rec
    out: list[SessionLog] = []
    for (tenant, sid), seqs in by_key.items():
        recs = [seqs[s] for s in sorted(seqs)]
        err = errors.get((tenant, sid)) or _check_session(sid, recs, source)
        if err is not None:
            if broken is None:
                raise err
            broken.append(err)
            continue
        out.append(SessionLog(tenant, sid, recs[0].program_id, tuple(recs), source))
    return out


def _check_session(sid: str, recs: list[TurnRecord], source: str) -> ReplayError | None:
    expected = 1
    for r in recs:
        if r.seq != expected:
            what = (
                f"turn {expected} is missing (turn {expected - 1} is followed by turn {r.seq})"
                if r.seq > expected
                else f"turn {r.seq} is out of range"
            )
            return ReplayError(
                f"{_where(source)}session {sid!r}: {what}; the log is incomplete",
                session_id=sid,
                seq=expected,
            )
        expected += 1
    if recs[0].event.type != "start":
        return ReplayError(
            f"{_where(source)}session {sid!r}: turn 1 is a {recs[0].event.type} event, not "
            f"the start of the session",
            session_id=sid,
            seq=1,
        )
    pids = {r.program_id for r in recs}
    if len(pids) > 1:
        bad = next(r for r in recs if r.program_id != recs[0].program_id)
        return ReplayError(
            f"{_where(source)}session {sid!r}: turn {bad.seq} names program "
            f"{bad.program_id}, turn 1 {recs[0].program_id}",
            session_id=sid,
            seq=bad.seq,
        )
    return None


def _where(source: str) -> str:
    return f"{source}: " if source else ""


# The layout the JSONL sink writes (``TurnRecord.model_dump``): a line's session and turn
# are read from its head without parsing the whole line; any other layout is parsed.
_HEAD = re.compile(
    rb'\{"tenant":"((?:[^"\\]|\\.)*)","session_id":"((?:[^"\\]|\\.)*)","seq":(-?\d+),'
    rb'"at":"([^"\\]*)","program_id":"([^"\\]*)"'
)
_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class LogSession:
    """Where one session's lines are in a JSONL log (byte offsets and line numbers, in file
    order), and its turn 1's program and time as written (for the filters of a batch)."""

    tenant: str
    session_id: str
    offsets: array[int] = field(default_factory=lambda: array("q"))
    lines: array[int] = field(default_factory=lambda: array("q"))
    program_id: str | None = None
    at: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.session_id)


class JsonlLog:
    """A JSONL turn log read in two passes, so that a batch holds one session at a time
    whatever the log's size and however its sessions interleave (``ddtflow serve`` writes
    the turns of concurrent calls as they happen).

    The first pass (on construction) reads every line once and keeps only where each
    session's lines are — 16 bytes a turn, not the records: a line cut short at the end of
    the file, a line that is not JSON or names no session stops it (``ReplayError`` naming
    the line) before anything is replayed. ``read`` then parses and checks one session at a
    time, in order of first appearance: its lines are read back by offset (in a log written
    session by session, sequentially). A line of a session that is not a valid turn record
    makes that session, alone, unreplayable."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.sessions: dict[tuple[str, str], LogSession] = {}
        self.lines = 0  # turn record lines
        self._index()

    def __len__(self) -> int:
        return len(self.sessions)

    def _fail(self, n: int, what: str) -> ReplayError:
        return ReplayError(f"{self.path}:{n}: {what}", path=str(self.path), line=n)

    def _index(self) -> None:
        p = self.path
        try:
            f = p.open("rb")
        except OSError as exc:
            raise ReplayError(
                f"{p}: cannot read the turn log: {exc.strerror}", path=str(p)
            ) from None
        sessions = self.sessions
        pos = 0
        with f:
            for n, line in enumerate(f, start=1):
                off, pos = pos, pos + len(line)
                if n == 1 and line.startswith(_BOM):
                    line, off = line[3:], off + 3  # an editor's byte order mark
                if not line.strip():
                    continue
                if not line.endswith(b"\n"):
                    raise self._fail(
                        n,
                        "truncated line (no newline at the end of the file): the process "
                        "stopped while writing it",
                    )
                m = _HEAD.match(line)
                head = None if m is None else _head(m)
                tenant, sid, seq, at, pid = head or self._parse_head(line, n)
                s = sessions.get((tenant, sid))
                if s is None:
                    s = sessions[(tenant, sid)] = LogSession(tenant, sid)
                s.offsets.append(off)
                s.lines.append(n)
                if seq == 1 and s.at is None:
                    s.program_id, s.at = pid, at
                self.lines += 1
        if not sessions:
            raise ReplayError(f"{p}: the turn log holds no turn record", path=str(p))

    def _parse_head(self, line: bytes, n: int) -> tuple[str, str, int, str | None, str | None]:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise self._fail(n, f"not JSON: {exc}") from None
        if isinstance(data, dict):
            tenant, sid = data.get("tenant", "default"), data.get("session_id")
            seq = data.get("seq")
            if isinstance(tenant, str) and isinstance(sid, str) and type(seq) is int:
                at, pid = data.get("at"), data.get("program_id")
                return (
                    tenant,
                    sid,
                    seq,
                    at if isinstance(at, str) else None,
                    pid if isinstance(pid, str) else None,
                )
        try:
            rec = TurnRecord.model_validate(data)
        except ValidationError as exc:
            raise self._fail(n, f"not a turn record: {first_error(exc)}") from None
        return rec.tenant, rec.session_id, rec.seq, rec.at.isoformat(), rec.program_id

    def read(
        self, keep: Iterable[tuple[str, str]] | None = None
    ) -> Iterator[SessionLog | ReplayError]:
        """Each session (of ``keep``, the keys to read, or all), checked as ``group_sessions``
        checks it, or the error that makes it unreplayable; one at a time."""
        keys = list(self.sessions) if keep is None else list(keep)
        with self.path.open("rb") as f:
            for key in keys:
                yield self._session(f, self.sessions[key])

    def _session(self, f: BinaryIO, s: LogSession) -> SessionLog | ReplayError:
        records: list[TurnRecord] = []
        pos = -1
        for off, n in zip(s.offsets, s.lines, strict=True):
            if off != pos:
                f.seek(off)
            line = f.readline()
            pos = off + len(line)
            try:
                rec = TurnRecord.model_validate(orjson.loads(line))
            except (orjson.JSONDecodeError, ValidationError) as exc:
                if not line.endswith(b"\n"):
                    raise self._fail(n, "the log changed while it was read") from None
                what = (
                    f"not a turn record: {first_error(exc)}"
                    if isinstance(exc, ValidationError)
                    else f"not JSON: {exc}"
                )
                err = self._fail(n, f"session {s.session_id!r}: {what}")
                err.details["session_id"] = s.session_id
                return err
            if (rec.tenant, rec.session_id) != s.key:
                raise self._fail(n, "the log changed while it was read")
            records.append(rec)
        bad: list[ReplayError] = []
        logs = group_sessions(records, str(self.path), broken=bad)
        return logs[0] if logs else bad[0]

    def logs(self, *, broken: list[ReplayError] | None = None) -> Iterator[SessionLog]:
        """The sessions; see ``group_sessions`` for ``broken``."""
        for item in self.read():
            if isinstance(item, SessionLog):
                yield item
            elif broken is None:
                raise item
            else:
                broken.append(item)


def _head(m: re.Match[bytes]) -> tuple[str, str, int, str | None, str | None] | None:
    try:
        tenant, sid = (
            orjson.loads(b'"' + v + b'"') if b"\\" in v else v.decode() for v in (m[1], m[2])
        )
        return tenant, sid, int(m[3]), m[4].decode(), m[5].decode()
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return None  # parsed whole, which names what is wrong


def load_jsonl(path: str | Path, *, broken: list[ReplayError] | None = None) -> list[SessionLog]:
    """Every session of a JSONL turn log (``JsonlLog``); ReplayError naming the line on a
    broken log. ``broken``: see ``group_sessions`` (a line that is not JSON or names no
    session still raises)."""
    return list(JsonlLog(path).logs(broken=broken))


# --------------------------------------------------------------------------- replaying


def action_json(actions: Iterable[Action]) -> list[Any]:
    return [a.model_dump(mode="json") for a in actions]


def origin_state(loaded: LoadedProgram, log: SessionLog) -> SessionState:
    """The session's state before its start event. The language and channel come from the
    start record's state; when it carries none, the (language, channel) whose replay of the
    start event gives the recorded digest is the one the session had."""
    first = log.records[0]
    if first.state is not None:
        return new_session(
            loaded.program,
            log.session_id,
            tenant=log.tenant,
            language=first.state.language,
            channel=first.state.channel,
        )
    program = loaded.program
    for lang in program.languages:
        for channel in ("chat", "voice"):
            st = new_session(
                program, log.session_id, tenant=log.tenant, language=lang, channel=channel
            )
            try:
                r = run_step(program, st, first.event, engine=loaded.engine, plugins=loaded.plugins)
            except RuntimeFault:
                continue
            if r.state.digest() == first.state_digest:
                return st
    return new_session(program, log.session_id, tenant=log.tenant)


def _same_actions(replayed: list[Action], recorded: tuple[Action, ...]) -> bool:
    if len(replayed) != len(recorded):
        return False
    for a, b in zip(replayed, recorded, strict=True):
        # the same class and field values: equal; anything else is settled by their JSON
        if a is not b and (type(a) is not type(b) or a.__dict__ != b.__dict__):
            return action_json(replayed) == action_json(recorded)
    return True


def _ddt_fields(value: Any) -> Any:
    if type(value) is DdtState:
        return value.__dict__
    raise TypeError(type(value).__name__)


def _quick_digest(state: SessionState) -> str:
    """sha256 of the state's fields serialised straight from the model's values. Equal to
    ``state.digest()`` whenever memory holds plain JSON values (always, in practice); used
    only to confirm a match — a mismatch is re-checked with the canonical ``digest()``."""
    try:
        data = orjson.dumps(state.__dict__, default=_ddt_fields, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return state.digest()
    return hashlib.sha256(data).hexdigest()


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaves (``memory.patient.cf``), for diffs and memory changes."""
    if isinstance(data, Mapping) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


def state_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(path, a's value, b's value) for every leaf that differs (a missing leaf is None)."""
    fa, fb = flatten(a), flatten(b)
    return [
        (k, fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)
    ]


def replay_session(
    loaded: LoadedProgram,
    log: SessionLog,
    *,
    trace: bool = False,
    keep_turns: bool = True,
) -> ReplayResult:
    """Replay ``log`` with ``loaded`` (which must be the recorded program) and verify it."""
    if loaded.id != log.program_id:
        raise ReplayError(
            f"session {log.session_id!r} ran program {log.program_id}, not {loaded.id}",
            session_id=log.session_id,
        )
    result = ReplayResult(log, loaded.id)
    state = origin_state(loaded, log)
    program, engine, plugins = loaded.program, loaded.engine, loaded.plugins
    for rec in log.records:
        tr: list[int] | None = [] if trace else None
        try:
            r = run_step(program, state, rec.event, engine=engine, plugins=plugins, trace=tr)
        except RuntimeFault as e:
            result.divergence = Divergence(
                rec.seq,
                rec.event.type,
                "error",
                f"turn {rec.seq} ({rec.event.type}): the replay refused the event: {e.message}",
                tuple(action_json(rec.actions)),
            )
            return result
        new = r.state
        if keep_turns or trace:
            result.turns.append(TurnView(rec, state, new, r.actions, tr or []))
        if _quick_digest(new) != rec.state_digest and new.digest() != rec.state_digest:
            changes: tuple[tuple[str, Any, Any], ...] = ()
            if rec.state is not None:
                changes = tuple(
                    state_diff(rec.state.model_dump(mode="json"), new.model_dump(mode="json"))
                )
            why = (
                "the state differs"
                if changes or rec.state is None
                else "the state digest differs from the recorded one (the record was altered)"
            )
            result.divergence = Divergence(
                rec.seq,
                rec.event.type,
                "digest",
                f"turn {rec.seq} ({rec.event.type}): {why}",
                tuple(action_json(rec.actions)),
                tuple(action_json(r.actions)),
                changes,
            )
            return result
        if not _same_actions(r.actions, rec.actions):
            result.divergence = Divergence(
                rec.seq,
                rec.event.type,
                "actions",
                f"turn {rec.seq} ({rec.event.type}): the actions differ",
                tuple(action_json(rec.actions)),
                tuple(action_json(r.actions)),
            )
            return result
        state = new
    return result


def iter_records_json(data: bytes) -> Iterator[TurnRecord]:
    """Turn records from a JSON array (the API's ``turns`` body); ReplayError when not."""
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ReplayError(f"not JSON: {e}") from None
    if isinstance(items, dict):
        items = items.get("turns", [])
    if not isinstance(items, list):
        raise ReplayError("expected a JSON array of turn records")
    for i, item in enumerate(items):
        try:
            yield TurnRecord.model_validate(item)
        except ValueError as e:
            raise ReplayError(
                f"item {i + 1} is not a turn record: {str(e).splitlines()[0]}"
            ) from None


# --------------------------------------------------------------------------- to a test


def session_to_test(result: ReplayResult) -> dict[str, Any]:
    """A conversation test (the ``ddtflow test`` YAML format, as data) that plays the
    recorded session again: the caller's inputs, what the bot said after each, the backend
    results in call order, and the final status, reason and memory.

    NER/LLM results cannot be given to a conversation test (its effects answer "no match"),
    so a session that used them is saved with a ``# note`` and may not pass."""
    from schemas.actions import SayAction
    from schemas.events import BackendResultEvent, StartEvent, UserInputEvent

    log = result.log
    first = result.turns[0] if result.turns else None
    start = log.records[0].event
    origin = first.before if first is not None else None
    test: dict[str, Any] = {"name": f"recorded session {log.session_id}"}
    if origin is not None:
        test["language"] = origin.language
        test["channel"] = origin.channel
    test["at"] = start.at.isoformat()
    if isinstance(start, StartEvent) and start.variables:
        test["variables"] = dict(start.variables)
    backends: dict[str, list[Any]] = {}
    turns: list[dict[str, Any]] = []
    clock = start.at
    for t in result.turns:
        ev = t.record.event
        if isinstance(ev, BackendResultEvent):
            if ev.ok:
                resp: Any = {"status": ev.status or 200, "body": ev.body}
            elif ev.error == "error" and ev.status is not None and ev.status >= 400:
                resp = {"status": ev.status}
            else:
                resp = {"error": ev.error or "error"}
                if ev.detail:
                    resp["detail"] = ev.detail
            backends.setdefault(ev.backend, []).append(resp)
        elif ev.type != "extraction_result":
            turn: dict[str, Any] = {}
            if isinstance(ev, UserInputEvent):
                if ev.text or ev.dtmf is None:
                    turn["user"] = ev.text
                else:
                    turn["dtmf"] = ev.dtmf
            elif ev.type == "no_input":
                turn["noinput"] = True
            elif ev.type == "hangup":
                turn["hangup"] = True
            if ev.type != "start" and ev.at != clock:
                turn["at"] = ev.at.isoformat()
                clock = ev.at
            turn["bot"] = []
            turns.append(turn)
        if turns:
            turns[-1]["bot"].extend(a.text for a in t.actions if isinstance(a, SayAction))
    if backends:
        test["backends"] = backends
    test["turns"] = turns
    final = result.final
    if final is not None:
        expect: dict[str, Any] = {"status": final.status}
        if final.reason is not None:
            expect["reason"] = final.reason
        if final.memory:
            expect["memory"] = flatten(final.memory)
        test["expect"] = expect
    return test
