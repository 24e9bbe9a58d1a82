"""Erasure of one session on request (GDPR art. 17): everywhere it is held, with proof.

Order of the steps (``erase_session``), each idempotent, so that running it again finishes
what a failure left undone:

1. a **tombstone** ``(tenant, session_id, erased_at)`` — in MongoDB's ``erasures``
   collection, or in ``erasures.jsonl`` next to the JSONL turn log — written first. It holds
   no caller data. Every MongoDB write of turn records (the worker, the critical writes
   before an answer, the broker fallback, the MongoDB-only sink) checks for tombstones
   *after* writing and removes again what it wrote of an erased session (the worker also
   checks before, so records still in the queue are dropped, acknowledged and counted):
   whatever the interleaving, either the writer sees the tombstone or the erasure's own
   delete comes after the write. Other sessions are untouched, so their idempotent
   redelivery is unchanged;
2. the **live state** in the session store is replaced by an ``erased`` marker (for the
   session TTL): a turn in flight that saves after it fails, a start that reuses the id
   fails, and a turn after the erasure gets ``SessionErasedError`` (410) instead of a new
   or recovered session; after the marker expires the tombstone answers the same;
3. the **archive**: MongoDB turn documents and snapshot deleted (counted);
4. the **JSONL log** (embedded default) rewritten atomically without the session's lines,
   the rest byte-identical (counted).

A step that fails raises ``ErasureIncompleteError`` naming what was done and what was not;
nothing half-done is reported as done.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson
from prometheus_client import Counter

from runtime.ports import RuntimeFault, SessionNotFoundError, StoreUnavailableError
from schemas.session import SessionState

__all__ = [
    "ERASED",
    "ErasableStore",
    "ErasureIncompleteError",
    "ErasureReport",
    "FileTombstones",
    "LogBusyError",
    "LogEraser",
    "Removal",
    "SessionErasedError",
    "Tombstones",
    "count_in_log",
    "erase_session",
    "rewrite_log_without",
    "tombstone_file_for",
]

log = logging.getLogger("ddtflow.erasure")

ERASED = Counter(
    "ddtflow_sessions_erased",
    "Session erasure requests by outcome (erased, already_erased, not_found, failed)",
    ["outcome"],
)
TOMBSTONE_FILE = "erasures.jsonl"


class SessionErasedError(SessionNotFoundError):
    """The session was erased on request: it is gone for good (HTTP 410)."""

    code = "session_erased"

    def __init__(self, tenant: str, session_id: str, erased_at: datetime) -> None:
        super().__init__(
            f"session {session_id!r} was erased at {erased_at.isoformat()}",
            tenant=tenant,
            session_id=session_id,
            erased_at=erased_at.isoformat(),
        )
        self.erased_at = erased_at


class ErasureIncompleteError(StoreUnavailableError):
    """A server failed during an erasure: ``done`` says what was removed, the message what
    was not. Retry: every step is idempotent."""

    code = "erasure_incomplete"

    def __init__(self, message: str, *, done: list[Removal], **details: object) -> None:
        super().__init__(message, **details)
        self.done = done


class LogBusyError(RuntimeFault):
    """The JSONL log is open for writing by another process: rewriting it now would lose
    that process's next lines."""

    code = "log_busy"


# -- tombstones -----------------------------------------------------------------------


class Tombstones(Protocol):
    """Where erasures are recorded: ``(tenant, session_id) → erased_at``."""

    where: str

    async def get(self, tenant: str, session_id: str) -> datetime | None: ...

    async def put(self, tenant: str, session_id: str, at: datetime) -> tuple[datetime, bool]:
        """Record the erasure (if not recorded yet): (erased_at, whether it was new)."""
        ...


def tombstone_file_for(log_path: Path) -> Path:
    """The tombstone file of a JSONL turn log: ``erasures.jsonl`` in its directory."""
    return log_path.parent / TOMBSTONE_FILE


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class FileTombstones:
    """Tombstones in a JSONL file (one ``{"tenant", "session_id", "erased_at"}`` a line,
    fsync'd): the embedded default's, and ``ddtflow erase --log``'s."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._known: dict[tuple[str, str], datetime] | None = None
        self._lock = asyncio.Lock()

    def _load(self) -> dict[tuple[str, str], datetime]:
        if self._known is not None:
            return self._known
        known: dict[tuple[str, str], datetime] = {}
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise StoreUnavailableError(
                f"{self.path}: cannot read the erasure tombstones: {exc.strerror}"
            ) from exc
        for line in data.splitlines():
            try:
                d = orjson.loads(line)
                key = (str(d["tenant"]), str(d["session_id"]))
                known.setdefault(key, _utc(datetime.fromisoformat(d["erased_at"])))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("%s: skipping a line that is not a tombstone", self.path)
        self._known = known
        return known

    def get_sync(self, tenant: str, session_id: str) -> datetime | None:
        return self._load().get((tenant, session_id))

    def tenants_of(self, session_id: str) -> list[str]:
        """The tenants whose session ``session_id`` was erased."""
        return sorted(t for t, s in self._load() if s == session_id)

    async def get(self, tenant: str, session_id: str) -> datetime | None:
        if self._known is None:
            await asyncio.to_thread(self._load)
        return self.get_sync(tenant, session_id)

    def put_sync(self, tenant: str, session_id: str, at: datetime) -> tuple[datetime, bool]:
        known = self._load()
        have = known.get((tenant, session_id))
        if have is not None:
            return have, False
        line = orjson.dumps(
            {"tenant": tenant, "session_id": session_id, "erased_at": at.isoformat()}
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as f:
                f.write(line + b"\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise StoreUnavailableError(
                f"{self.path}: cannot write the erasure tombstone: {exc.strerror}"
            ) from exc
        known[(tenant, session_id)] = at
        return at, True

    async def put(self, tenant: str, session_id: str, at: datetime) -> tuple[datetime, bool]:
        async with self._lock:
            return await asyncio.to_thread(self.put_sync, tenant, session_id, at)


# -- the JSONL log ----------------------------------------------------------------------


def _belongs(line: bytes, tenant: str, session_id: str, needle: bytes) -> bool:
    if needle not in line:  # most lines: no parse
        return False
    try:
        d = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(d, dict)
        and d.get("session_id") == session_id
        and d.get("tenant", "default") == tenant
    )


def _open_log(path: Path) -> BinaryIO | None:
    """The JSONL log opened for reading; None when there is none."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreUnavailableError(f"{path}: cannot read the turn log: {exc.strerror}") from exc


def count_in_log(path: Path, tenant: str, session_id: str) -> int:
    """How many lines of the JSONL log hold a turn record of the session (0: no file)."""
    needle = orjson.dumps(session_id)
    f = _open_log(path)
    if f is None:
        return 0
    with f:
        return sum(1 for line in f if _belongs(line, tenant, session_id, needle))


def rewrite_log_without(path: Path, tenant: str, session_id: str) -> int:
    """Rewrite the JSONL log without the session's lines; the number of lines removed.

    Atomic: a temporary file in the same directory, fsync'd, renamed over the log (the
    directory fsync'd too); every other byte is kept as it was (lines that are not turn
    records, a partial last line included). Nothing is written when no line matches.
    ``LogBusyError`` when another process holds the log open for writing (a running
    ``ddtflow serve`` or ``chat``: its sink holds a shared lock on it)."""
    needle = orjson.dumps(session_id)
    src = _open_log(path)
    if src is None:
        return 0
    tmp = path.with_name(f".{path.name}.erase-{os.getpid()}")
    with src:
        try:
            fcntl.flock(src.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LogBusyError(
                f"{path} is open for writing by a running process (ddtflow serve or chat): "
                f"erase through that server (DELETE /v1/sessions/{{id}}) or stop it first",
                path=str(path),
            ) from None
        removed = 0
        try:
            with tmp.open("wb") as out:
                for line in src:
                    if _belongs(line, tenant, session_id, needle):
                        removed += 1
                    else:
                        out.write(line)
                if removed:
                    out.flush()
                    os.fsync(out.fileno())
            if removed:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
                os.replace(tmp, path)
                dir_fd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            raise StoreUnavailableError(
                f"{path}: cannot rewrite the turn log: {exc.strerror}", path=str(path)
            ) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return removed


class LogEraser(Protocol):
    """A JSONL turn log that can drop a session's lines (``JsonlSink``, or a plain file)."""

    path: Path

    async def count_session(self, tenant: str, session_id: str) -> int: ...

    async def erase_session(self, tenant: str, session_id: str) -> int: ...


class LogFile:
    """A JSONL log no process of ours holds open (``ddtflow erase --log FILE``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def count_session(self, tenant: str, session_id: str) -> int:
        return await asyncio.to_thread(count_in_log, self.path, tenant, session_id)

    async def erase_session(self, tenant: str, session_id: str) -> int:
        return await asyncio.to_thread(rewrite_log_without, self.path, tenant, session_id)


# -- the live store and the archive -------------------------------------------------------


class ErasableStore(Protocol):
    """A session store that can erase a session: its state replaced by an ``erased``
    marker kept for the session TTL (saves fail, loads raise ``SessionErasedError``)."""

    where: str

    async def erase(self, tenant: str, session_id: str, erased_at: datetime) -> SessionState | None:
        """Remove the live state; the state that was there (None: none)."""
        ...

    async def load(self, tenant: str, session_id: str) -> Any: ...


class ArchiveEraser(Protocol):
    """MongoDB: the session's turn documents and snapshot."""

    where: str

    async def max_seq(self, tenant: str, session_id: str) -> int | None: ...

    async def erase_session(self, tenant: str, session_id: str) -> tuple[int, int]:
        """Delete the session's turns and snapshot: (turns, snapshots) removed."""
        ...


# -- the report ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Removal:
    """``count`` items of ``what`` removed from ``store`` (its kind: redis, memory, mongodb,
    jsonl); ``where`` names the server or file (for operators, not for API clients)."""

    what: str
    store: str
    where: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "store": self.store, "count": self.count}


@dataclass
class ErasureReport:
    tenant: str
    session_id: str
    erased_at: datetime
    already_erased: bool
    tombstone: str  # where the tombstone is
    removed: list[Removal] = field(default_factory=list)
    live_status: str | None = None  # the status of the live state removed, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "tenant": self.tenant,
            "erased": True,
            "already_erased": self.already_erased,
            "erased_at": self.erased_at.isoformat(),
            "removed": [r.to_json() for r in self.removed],
            "total_removed": sum(r.count for r in self.removed),
        }


def _to_ms(at: datetime) -> datetime:
    """MongoDB keeps milliseconds: the time reported is the time stored."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _store_kind(where: str) -> str:
    return "memory" if where == "memory" else "redis"


async def erase_session(
    tenant: str,
    session_id: str,
    *,
    tombstones: Tombstones,
    store: ErasableStore | None,
    archive: ArchiveEraser | None = None,
    turn_log: LogEraser | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ErasureReport:
    """Erase one session everywhere it is held (see the module's docstring).

    ``SessionNotFoundError`` when no store, archive or log knows the session and it was
    never erased (another tenant's included: everything is looked up by tenant).
    ``ErasureIncompleteError`` when a server fails midway (``done``: what was removed)."""
    done: list[Removal] = []
    stamped = False  # the tombstone is written

    async def step(what: str, op: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await op()
        except SessionErasedError:
            raise
        except (RuntimeFault, OSError) as exc:
            ERASED.labels("failed").inc()
            reason = exc.message if isinstance(exc, RuntimeFault) else str(exc)
            did = ", ".join(f"{r.count} {r.what} from {r.where}" for r in done) or "nothing"
            tomb = f"the tombstone is written ({tombstones.where}); " if stamped else ""
            raise ErasureIncompleteError(
                f"erasure of session {session_id!r} incomplete: {what} failed ({reason}); "
                f"{tomb}removed so far: {did}; run the erasure again to finish it",
                done=list(done),
                session_id=session_id,
            ) from exc

    prior = await step(
        f"reading the tombstone ({tombstones.where})", lambda: tombstones.get(tenant, session_id)
    )
    if prior is None:  # does anything hold it? (the archive first: it outlives the store)
        known = False
        if archive is not None:
            seq = await step(
                f"reading the archive ({archive.where})",
                lambda: archive.max_seq(tenant, session_id),
            )
            known = seq is not None
        if not known and turn_log is not None:
            n = await step(
                f"reading the log {turn_log.path}",
                lambda: turn_log.count_session(tenant, session_id),
            )
            known = n > 0
        if not known and store is not None:
            live = await step(
                f"reading the live state ({store.where})", lambda: store.load(tenant, session_id)
            )
            known = live is not None
        if not known:
            ERASED.labels("not_found").inc()
            raise SessionNotFoundError(
                f"no session {session_id!r} for tenant {tenant!r}",
                tenant=tenant,
                session_id=session_id,
            )
    erased_at, created = await step(
        f"writing the tombstone ({tombstones.where})",
        lambda: tombstones.put(tenant, session_id, _to_ms(now())),
    )
    stamped = True
    report = ErasureReport(tenant, session_id, erased_at, not created, tombstones.where, done)
    if store is not None:
        old: SessionState | None = await step(
            f"removing the live state ({store.where})",
            lambda: store.erase(tenant, session_id, erased_at),
        )
        done.append(
            Removal("live state", _store_kind(store.where), store.where, int(old is not None))
        )
        report.live_status = old.status if old is not None else None
    if archive is not None:
        turns, snaps = await step(
            f"deleting from the archive ({archive.where})",
            lambda: archive.erase_session(tenant, session_id),
        )
        done.append(Removal("turns", "mongodb", archive.where, turns))
        done.append(Removal("snapshots", "mongodb", archive.where, snaps))
    if turn_log is not None:
        lines = await step(
            f"rewriting the log {turn_log.path}",
            lambda: turn_log.erase_session(tenant, session_id),
        )
        done.append(Removal("log lines", "jsonl", str(turn_log.path), lines))
    ERASED.labels("already_erased" if report.already_erased else "erased").inc()
    return report
