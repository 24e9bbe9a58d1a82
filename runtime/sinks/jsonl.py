"""JSONL turn log: the embedded default sink (one JSON line per turn record, fsync'd)."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson
from pydantic import ValidationError

from runtime.erasure import count_in_log, rewrite_log_without
from runtime.ports import RuntimeFault, StoreUnavailableError, first_error
from schemas.turns import TurnRecord

log = logging.getLogger("ddtflow.sink.jsonl")


class TurnLogError(RuntimeFault):
    """A turn log line is not a turn record (truncated, not JSON, wrong shape)."""

    code = "turn_log_invalid"


def read_turns(path: str | Path) -> Iterator[TurnRecord]:
    """The turn records of a JSONL log, in file order. Raises TurnLogError naming the line."""
    p = Path(path)
    try:
        f = p.open("rb")
    except OSError as exc:
        raise TurnLogError(f"{p}: cannot read the turn log: {exc.strerror}", path=str(p)) from exc
    with f:
        for n, line in enumerate(f, start=1):
            if n == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # a byte order mark, left by an editor: not part of line 1
            if not line.strip():
                continue
            if not line.endswith(b"\n"):
                raise TurnLogError(
                    f"{p}:{n}: truncated line (no newline at the end of the file): the "
                    f"process stopped while writing it",
                    path=str(p),
                    line=n,
                )
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise TurnLogError(f"{p}:{n}: not JSON: {exc}", path=str(p), line=n) from exc
            try:
                yield TurnRecord.model_validate(data)
            except ValidationError as exc:
                raise TurnLogError(
                    f"{p}:{n}: not a turn record: {first_error(exc)}", path=str(p), line=n
                ) from exc


class JsonlSink:
    """Appends each turn record as one line and fsyncs before ``publish`` returns (once per
    request).

    Idempotent on ``(tenant, session_id, seq)``: records already in the file (read when the
    sink opens it) or written by this process are skipped. A partial last line left by a
    crash is cut off when the file is opened (it was never acknowledged).

    While open, the file carries a shared ``flock``: ``ddtflow erase --log`` (which takes
    it exclusively) refuses to rewrite a log a running process appends to. A session
    erased through the sink (``erase_session``) has its lines removed, and its records
    published afterwards (a turn in flight at the erasure) are dropped.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._f: BinaryIO | None = None
        self._seen: set[tuple[str, str, int]] = set()
        self._erased: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()

    def _open(self) -> BinaryIO:
        if self._f is not None:
            return self._f
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.path.open("a+b")
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        f.seek(0)
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            log.warning("%s: dropping a partial last line (%d bytes)", self.path, len(data) - end)
            f.truncate(end)
        for line in data[:end].splitlines():
            try:
                d = orjson.loads(line)
                self._seen.add((d.get("tenant", "default"), d["session_id"], int(d["seq"])))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                log.warning("%s: skipping a line that is not a turn record", self.path)
        f.seek(0, os.SEEK_END)
        self._f = f
        return f

    def _write(self, lines: bytes) -> None:
        f = self._open()
        f.write(lines)
        f.flush()
        os.fsync(f.fileno())

    async def publish(self, *records: TurnRecord, payload: bytes | None = None) -> None:
        """Append the records not yet in the file, one line each, with one fsync."""
        async with self._lock:
            try:
                if self._f is None:
                    await asyncio.to_thread(self._open)
                keys = [(r.tenant, r.session_id, r.seq) for r in records]
                new = [
                    r
                    for r, k in zip(records, keys, strict=True)
                    if k not in self._seen and k[:2] not in self._erased
                ]
                if not new:
                    return
                lines = b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in new)
                await asyncio.to_thread(self._write, lines)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"turn log {self.path} cannot be written: {exc.strerror}", path=str(self.path)
                ) from exc
            self._seen.update(keys)

    async def count_session(self, tenant: str, session_id: str) -> int:
        """How many lines of the log hold the session's records."""
        async with self._lock:
            return await asyncio.to_thread(count_in_log, self.path, tenant, session_id)

    async def erase_session(self, tenant: str, session_id: str) -> int:
        """Rewrite the log without the session's lines (atomically, the rest byte-identical)
        and drop its records published from now on; the number of lines removed."""
        async with self._lock:
            self._erased.add((tenant, session_id))
            if self._f is not None:  # our own shared lock goes with it
                self._f.close()
                self._f = None
            removed = await asyncio.to_thread(rewrite_log_without, self.path, tenant, session_id)
            self._seen = {k for k in self._seen if k[:2] != (tenant, session_id)}
            return removed

    async def close(self) -> None:
        async with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None
