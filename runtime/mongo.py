"""MongoDB archive of sessions: turn records, session snapshots and programs (PyMongo async).

Collections (all tenant-scoped):
- ``turns``: one document per turn record, ``_id`` = ``<tenant>:<session_id>:<seq>`` and a
  unique index on ``(tenant, session_id, seq)``; writes are unordered bulk inserts where a
  duplicate key (11000) means "already there" — so publishing or consuming twice is harmless.
  A record BSON cannot hold field by field (a key with a NUL character, say, from a
  backend's JSON answer) is stored with its queried fields and the record as JSON text
  (``record_json``; a snapshot likewise: ``state_json``), and read back as it was.
  An index on ``(tenant, seq, session_id)`` lists a tenant's sessions by their turn 1 (the
  batch reads of ``ddtflow replay`` / ``coverage``).
- ``sessions``: the latest snapshot per session, replaced only by a greater ``seq`` (version
  guard). Ended sessions get ``expire_at`` and a TTL index removes them after the retention.
- ``programs``: compiled programs by id, for recovery and replay.
- ``erasures``: one tombstone per erased session, ``_id`` = ``<tenant>:<session_id>``, with
  ``tenant``, ``session_id`` and ``erased_at`` only (no caller data; kept, as the proof of
  the erasure). ``write_batch`` checks it after every write, and the worker before too, so
  turn records still in flight never re-create an erased session (runtime/erasure.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import bson
import orjson
from bson.errors import InvalidDocument
from pymongo import ASCENDING, AsyncMongoClient, InsertOne, UpdateMany, UpdateOne, WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from runtime.ports import RuntimeFault, StoreUnavailableError
from schemas.program import Program
from schemas.session import SessionState
from schemas.turns import TurnRecord

log = logging.getLogger("ddtflow.mongo")
T = TypeVar("T")
Doc = dict[str, Any]

DUPLICATE_KEY = 11000
TERMINAL = frozenset({"ended", "transferred", "failed"})
SESSION_PAGE = 100  # sessions per pair of queries in a batch read (session_turns)
COUNT_PAGE = 1000  # session ids per aggregate when counting sessions named by id
TURN_BATCH = 1000  # turn documents per cursor batch in a batch read
TURN_KEY = [("tenant", ASCENDING), ("session_id", ASCENDING), ("seq", ASCENDING)]
START_KEY = [("tenant", ASCENDING), ("seq", ASCENDING), ("session_id", ASCENDING)]


def turn_id(tenant: str, session_id: str, seq: int) -> str:
    return f"{tenant}:{session_id}:{seq}"


def session_doc_id(tenant: str, session_id: str) -> str:
    return f"{tenant}:{session_id}"


def turn_doc(record: TurnRecord) -> Doc:
    """The stored form of a turn record. Snapshots hold the states, so a turn keeps its state
    only for the start event: the origin (language, channel) a full replay starts from."""
    keep_state = record.event.type == "start"
    body = record.model_dump(mode="json", exclude=None if keep_state else {"state"})
    body["_id"] = turn_id(record.tenant, record.session_id, record.seq)
    body["at_date"] = record.at
    return body


RECORD_JSON = "record_json"
"""A turn document holding its record as JSON text: one BSON cannot hold field by field."""
STATE_JSON = "state_json"
"""A snapshot holding its state as JSON text, for the same reason."""
NOT_BSON = (InvalidDocument, OverflowError)
"""What PyMongo raises, before sending anything, for a document BSON cannot hold: a key
with a NUL character (valid JSON, e.g. in a backend's answer), an integer beyond 64 bits."""


def _bson_ok(doc: Doc) -> bool:
    try:
        bson.encode(doc)
    except NOT_BSON:
        return False
    return True


def opaque_turn_doc(record: TurnRecord) -> Doc:
    """``turn_doc`` for a record BSON cannot hold field by field: the fields the archive
    queries on (tenant, session, seq, program, time) plus the record as JSON text, read
    back by ``record_from_doc`` exactly as it was published."""
    keep_state = record.event.type == "start"
    return {
        "_id": turn_id(record.tenant, record.session_id, record.seq),
        "tenant": record.tenant,
        "session_id": record.session_id,
        "seq": record.seq,
        "program_id": record.program_id,
        "critical": record.critical,
        "at_date": record.at,
        RECORD_JSON: record.model_dump_json(exclude=None if keep_state else {"state"}),
    }


def storable_turn_doc(record: TurnRecord) -> Doc:
    """``turn_doc``, or ``opaque_turn_doc`` when BSON cannot hold that (checked by encoding)."""
    doc = turn_doc(record)
    if _bson_ok(doc):
        return doc
    log.warning(
        "turn %s holds what BSON cannot (a key with a NUL character, an integer beyond "
        "64 bits): stored as JSON text",
        doc["_id"],
    )
    return opaque_turn_doc(record)


def record_from_doc(doc: Doc) -> TurnRecord:
    if RECORD_JSON in doc:
        return TurnRecord.model_validate_json(doc[RECORD_JSON])
    body = {k: v for k, v in doc.items() if k not in {"_id", "at_date", "expire_at"}}
    return TurnRecord.model_validate(body)


class MongoUrlError(RuntimeFault, ValueError):
    """``MONGO_URL`` (or ``--mongo``) is not a MongoDB URL PyMongo accepts: a configuration
    error, not retryable. The message never shows the URL's password."""

    code = "bad_configuration"


def _url_error(url: str, exc: Exception) -> MongoUrlError:
    reason = " ".join(str(exc).split())[:200]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        reason = reason.replace(password, "***")
    return MongoUrlError(f"not a usable MongoDB URL: {type(exc).__name__}: {reason}")


def check_url(url: str) -> None:
    """MongoUrlError when PyMongo would refuse ``url`` (scheme, port, unescaped password,
    unknown option), without opening anything: ``ddtflow serve`` checks it before it
    starts. A bare ``host[:port]`` is taken as PyMongo takes it; a ``mongodb+srv://`` seed
    list is left to the client (parsing it resolves DNS)."""
    if url.startswith("mongodb+srv://"):
        return
    from pymongo.uri_parser import parse_uri

    try:
        parse_uri(url if "://" in url or url.startswith("mongodb") else f"mongodb://{url}")
    except (PyMongoError, ValueError, TypeError) as exc:
        raise _url_error(url, exc) from None


class MongoArchive:
    """Idempotent writes and recovery reads over one MongoDB database."""

    def __init__(
        self,
        client: AsyncMongoClient[Doc],
        db: str = "ddtflow",
        *,
        retention_days: float = 30.0,
        where: str = "mongodb",
    ) -> None:
        self.client = client
        # Journaled writes: an acknowledged turn survives a crash of the server (w stays the
        # server's default: majority on a replica set).
        self.db = client.get_database(db, write_concern=WriteConcern(j=True))
        self.turns: AsyncCollection[Doc] = self.db["turns"]
        self.sessions: AsyncCollection[Doc] = self.db["sessions"]
        self.programs: AsyncCollection[Doc] = self.db["programs"]
        self.erasures: AsyncCollection[Doc] = self.db["erasures"]
        self.retention = timedelta(days=retention_days)
        self.where = where
        self.session_page = SESSION_PAGE  # sessions per pair of queries in session_turns
        self._indexes_ready = False
        self._index_lock = asyncio.Lock()

    @classmethod
    def from_url(
        cls, url: str, db: str = "ddtflow", *, retention_days: float = 30.0, timeout_s: float = 3.0
    ) -> MongoArchive:
        """The archive on ``url``; MongoUrlError (a RuntimeFault and a ValueError, one line)
        when PyMongo refuses the URL — no connection is opened until the first operation."""
        ms = int(timeout_s * 1000)
        try:
            client: AsyncMongoClient[Doc] = AsyncMongoClient(
                url,
                serverSelectionTimeoutMS=ms,
                connectTimeoutMS=ms,
                socketTimeoutMS=max(ms, 10_000),
                tz_aware=True,
            )
        except (PyMongoError, ValueError, TypeError) as exc:
            raise _url_error(url, exc) from None
        host = urlsplit(url).netloc.rsplit("@", 1)[-1]
        return cls(client, db, retention_days=retention_days, where=f"mongodb {host}/{db}")

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        try:
            return await op()
        except PyMongoError as exc:
            # a server-selection error carries the whole topology: keep the first part
            reason = " ".join(str(exc).split(", Timeout:")[0][:300].split())
            # INFO, not WARNING: the error raised says it all and its caller reports it (the
            # worker's retry warning, the API's 5xx log, the CLI's one line); a WARNING here
            # was printed a second time by Python's last-resort handler in the CLIs
            log.info("mongo %s failed on %s: %s", what, self.where, reason)
            raise StoreUnavailableError(
                f"MongoDB unavailable ({self.where}) during {what}: {type(exc).__name__}: {reason}",
                server="mongodb",
            ) from exc

    async def ensure_indexes(self) -> None:
        """Create the indexes once per process (idempotent on the server too)."""
        if self._indexes_ready:
            return
        async with self._index_lock:
            if self._indexes_ready:
                return

            async def create() -> None:
                await self.turns.create_index(TURN_KEY, unique=True, name="tenant_session_seq")
                await self.turns.create_index(START_KEY, name="tenant_seq_session")
                await self.turns.create_index("expire_at", expireAfterSeconds=0, name="ttl")
                await self.sessions.create_index(
                    [("tenant", ASCENDING), ("status", ASCENDING)], name="tenant_status"
                )
                await self.sessions.create_index("expire_at", expireAfterSeconds=0, name="ttl")

            await self._call("create_index", create)
            self._indexes_ready = True

    # -- writes ---------------------------------------------------------------------------

    async def write_turns(self, records: Sequence[TurnRecord]) -> int:
        """Insert turn records; the ones already stored are skipped. Returns how many were new."""
        if not records:
            return 0
        await self.ensure_indexes()

        async def run() -> int:
            ops: list[InsertOne[Doc]] = [InsertOne(turn_doc(r)) for r in records]
            try:
                try:
                    result = await self.turns.bulk_write(ops, ordered=False)
                except NOT_BSON:
                    # raised while encoding, before anything was sent: the same batch with
                    # each record BSON cannot hold as JSON text (rare: checked only now)
                    ops = [InsertOne(storable_turn_doc(r)) for r in records]
                    result = await self.turns.bulk_write(ops, ordered=False)
                return result.inserted_count
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                other = [e for e in errors if e.get("code") != DUPLICATE_KEY]
                if other:
                    raise
                return int(exc.details.get("nInserted", 0))

        return await self._call("write_turns", run)

    async def write_snapshots(self, states: Iterable[SessionState]) -> None:
        """Keep the newest state per session: a snapshot is replaced only by a greater seq."""
        latest: dict[tuple[str, str], SessionState] = {}
        for s in states:
            k = (s.tenant, s.session_id)
            if k not in latest or latest[k].seq < s.seq:
                latest[k] = s
        if not latest:
            return
        await self.ensure_indexes()
        now = datetime.now(UTC)

        def snapshot_ops(check: bool) -> list[UpdateOne]:
            """``check``: a state BSON cannot hold is kept as JSON text (``STATE_JSON``)."""
            ops: list[UpdateOne] = []
            for s in latest.values():
                sid = session_doc_id(s.tenant, s.session_id)
                doc: Doc = {
                    "tenant": s.tenant,
                    "session_id": s.session_id,
                    "program_id": s.program_id,
                    "seq": s.seq,
                    "status": s.status,
                    "state": s.model_dump(mode="json"),
                    "updated_at": now,
                }
                unset: Doc = {STATE_JSON: ""}
                if check and not _bson_ok({"state": doc["state"]}):
                    log.warning(
                        "the state of session %s at seq %d holds what BSON cannot: "
                        "snapshot stored as JSON text",
                        sid,
                        s.seq,
                    )
                    del doc["state"]
                    doc[STATE_JSON] = s.model_dump_json()
                    unset = {"state": ""}
                if s.status in TERMINAL:
                    doc["expire_at"] = now + self.retention
                else:
                    unset["expire_at"] = ""
                update: Doc = {"$set": doc, "$unset": unset}
                # Matches only an older snapshot; if a newer one exists the upsert collides
                # on _id (11000) and nothing changes: the version guard.
                ops.append(UpdateOne({"_id": sid, "seq": {"$lt": s.seq}}, update, upsert=True))
            return ops

        turn_ops = [
            UpdateMany(
                {"tenant": s.tenant, "session_id": s.session_id},
                {"$set": {"expire_at": now + self.retention}},
            )
            for s in latest.values()
            if s.status in TERMINAL
        ]

        async def run() -> None:
            try:
                try:
                    await self.sessions.bulk_write(snapshot_ops(False), ordered=False)
                except NOT_BSON:  # raised while encoding, before anything was sent
                    await self.sessions.bulk_write(snapshot_ops(True), ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
            if turn_ops:
                await self.turns.bulk_write(turn_ops, ordered=False)

        await self._call("write_snapshots", run)

    async def write_batch(self, records: Sequence[TurnRecord]) -> int:
        """Turns first, then the snapshots they carry: a snapshot never runs ahead of its log.
        Then the tombstones: what was written of a session erased meanwhile is removed again
        (``write_checked``)."""
        inserted, _ = await self.write_checked(records, check_before=False)
        return inserted

    async def write_checked(
        self, records: Sequence[TurnRecord], *, check_before: bool = True
    ) -> tuple[int, int]:
        """``write_batch`` that leaves out the records of erased sessions: (records newly
        written, records dropped because their session was erased).

        ``check_before`` reads the tombstones first (the worker: records that waited in the
        queue). Whatever it finds, the tombstones are read again *after* the write, and a
        session erased meanwhile is deleted again: the erasure writes its tombstone before
        it deletes, so either this read sees it or that delete comes after this write."""
        keys = {(r.tenant, r.session_id) for r in records}
        dropped = 0
        if check_before and keys:
            erased = await self.erased_among(keys)
            if erased:
                kept = [r for r in records if (r.tenant, r.session_id) not in erased]
                dropped = len(records) - len(kept)
                records, keys = kept, keys - erased
        inserted = await self.write_turns(records)
        await self.write_snapshots(r.state for r in records if r.state is not None)
        if check_before and inserted:
            await self.expire_late_turns(keys)
        if keys:
            for tenant, session_id in await self.erased_among(keys):
                turns, _ = await self.erase_session(tenant, session_id)
                log.warning(
                    "session %s/%s was erased while %d of its turn records were written: "
                    "removed again",
                    tenant,
                    session_id,
                    turns,
                )
        return inserted, dropped

    async def expire_late_turns(self, keys: Iterable[tuple[str, str]]) -> None:
        """Give the turns of ``keys``' ended sessions that have no ``expire_at`` their
        session's (one read; a write only for such a session).

        The end of a session is critical: written before its answer, its terminal snapshot
        puts ``expire_at`` on the turns that are there. Earlier turns the worker writes
        afterwards (it was behind, another worker held them, a redelivery) would never
        expire. Read after the insert, like the tombstones: either this read sees the
        terminal snapshot, or the insert came before the end's update of the turns."""
        ids = [session_doc_id(t, s) for t, s in keys]
        if not ids:
            return

        async def run() -> None:
            cursor = self.sessions.find(
                {"_id": {"$in": ids}, "expire_at": {"$exists": True}},
                {"tenant": 1, "session_id": 1, "expire_at": 1},
            )
            ended = await cursor.to_list(None)
            if ended:
                await self.turns.bulk_write(
                    [
                        UpdateMany(
                            {
                                "tenant": d["tenant"],
                                "session_id": d["session_id"],
                                "expire_at": {"$exists": False},
                            },
                            {"$set": {"expire_at": d["expire_at"]}},
                        )
                        for d in ended
                    ],
                    ordered=False,
                )

        await self._call("the retention of ended sessions", run)

    async def save_program(self, program: Program) -> None:
        """Store a compiled program by id (idempotent: ids are content hashes)."""
        body = program.canonical_bytes().decode()

        async def run() -> None:
            try:
                await self.programs.insert_one({"_id": program.id, "json": body})
            except DuplicateKeyError:
                pass

        await self._call("save_program", run)

    # -- reads ----------------------------------------------------------------------------

    async def get_program(self, program_id: str) -> Program | None:
        doc = await self._call("get_program", lambda: self.programs.find_one({"_id": program_id}))
        return None if doc is None else Program.model_validate_json(doc["json"])

    async def snapshot(self, tenant: str, session_id: str) -> SessionState | None:
        sid = session_doc_id(tenant, session_id)
        doc = await self._call("snapshot", lambda: self.sessions.find_one({"_id": sid}))
        if doc is None:
            return None
        if STATE_JSON in doc:
            return SessionState.model_validate_json(doc[STATE_JSON])
        return SessionState.model_validate(doc["state"])

    async def turns_after(self, tenant: str, session_id: str, seq: int) -> list[TurnRecord]:
        """Turn records of a session with a seq greater than ``seq``, in order."""

        async def run() -> list[Doc]:
            cursor = self.turns.find(
                {"tenant": tenant, "session_id": session_id, "seq": {"$gt": seq}}
            ).sort("seq", ASCENDING)
            return await cursor.to_list(None)

        return [record_from_doc(d) for d in await self._call("turns_after", run)]

    async def max_seq(self, tenant: str, session_id: str) -> int | None:
        """The highest seq MongoDB knows for a session (snapshot or turn), None if unknown."""

        async def run() -> int | None:
            best: int | None = None
            snap = await self.sessions.find_one(
                {"_id": session_doc_id(tenant, session_id)}, {"seq": 1}
            )
            if snap is not None:
                best = int(snap["seq"])
            last = await self.turns.find_one(
                {"tenant": tenant, "session_id": session_id},
                {"seq": 1},
                sort=[("seq", -1)],
            )
            if last is not None and (best is None or int(last["seq"]) > best):
                best = int(last["seq"])
            return best

        return await self._call("max_seq", run)

    async def count_turns(self, tenant: str, session_id: str | None = None) -> int:
        query: Doc = {"tenant": tenant}
        if session_id is not None:
            query["session_id"] = session_id
        return await self._call("count", lambda: self.turns.count_documents(query))

    async def count_sessions(
        self,
        tenant: str,
        *,
        session_id: str | None = None,
        session_ids: Sequence[str] | None = None,
        program_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, int]:
        """How many sessions of ``tenant`` ``session_turns`` will read with these filters,
        per program id (one aggregate over the turn-1 records); with ``session_ids``, how
        many of those sessions (one aggregate per ``COUNT_PAGE`` ids)."""
        chunks: list[Sequence[str] | None] = [None]
        if session_ids is not None:
            ids = list(dict.fromkeys(session_ids))
            chunks = [ids[i : i + COUNT_PAGE] for i in range(0, len(ids), COUNT_PAGE)]
        counts: dict[str, int] = {}
        for chunk in chunks:
            match = _starts(tenant, session_id, program_id, since, until)
            if chunk is not None:
                match["session_id"] = {"$in": list(chunk)}
            pipeline: list[Doc] = [
                {"$match": match},
                {"$group": {"_id": "$program_id", "n": {"$sum": 1}}},
            ]

            async def run(pipeline: list[Doc] = pipeline) -> list[Doc]:
                cursor = await self.turns.aggregate(pipeline)
                return await cursor.to_list(None)

            docs = await self._call(f"the count of the sessions of tenant {tenant!r}", run)
            for d in docs:
                counts[str(d["_id"])] = counts.get(str(d["_id"]), 0) + int(d["n"])
        return counts

    async def session_turns(
        self,
        tenant: str,
        *,
        session_id: str | None = None,
        program_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int | None = None,
    ) -> AsyncIterator[tuple[str, list[Doc]]]:
        """The stored turns of every session of ``tenant`` whose turn 1 matches the filters
        (its program; its time, ``since`` included, ``until`` not), one session at a time
        in session-id order, each with its documents in seq order — read as a stream.

        Two queries per ``page`` sessions (default ``session_page``): the next page of
        session ids (index ``tenant_seq_session``, after the last id of the previous page),
        then their turns sorted by ``(tenant, session_id, seq)`` (the unique index), grouped
        as they arrive.
        Memory holds one cursor batch and the session being grouped, whatever the number of
        sessions. A session with no turn 1 is not listed (it has no start time to filter
        on). A failing server raises StoreUnavailableError naming how far the read got."""
        query = _starts(tenant, session_id, program_id, since, until)
        page = page or self.session_page
        done = 0

        def what() -> str:
            return f"the batch read of the sessions of tenant {tenant!r} (after {done} sessions)"

        while sids := await self._call(what(), partial(self._session_ids, dict(query), page)):
            cursor = (
                self.turns.find({"tenant": tenant, "session_id": {"$in": sids}})
                .sort(TURN_KEY)
                .batch_size(TURN_BATCH)
            )
            try:
                current: str | None = None
                docs: list[Doc] = []
                while batch := await self._call(what(), partial(cursor.to_list, TURN_BATCH)):
                    for d in batch:
                        if d["session_id"] != current:
                            if current is not None:
                                yield current, docs
                                done += 1
                            current, docs = d["session_id"], []
                        docs.append(d)
                if current is not None:
                    yield current, docs
                    done += 1
            finally:
                with contextlib.suppress(PyMongoError):
                    await cursor.close()
            if len(sids) < page:
                return
            query["session_id"] = {**query.get("session_id", {}), "$gt": sids[-1]}

    async def named_sessions(
        self, tenant: str, session_ids: Sequence[str], *, page: int | None = None
    ) -> AsyncIterator[tuple[str, list[Doc]]]:
        """The stored turns of the sessions ``session_ids`` of ``tenant``, in the order given
        (an id named twice, once), each with its documents in seq order; a session that has
        no stored turn comes with none (the caller names it).

        One query per ``page`` ids (default ``session_page``): their turns in one ``$in``
        sorted by ``(tenant, session_id, seq)`` (the unique index), grouped as they arrive.
        A session is handed on as soon as those named before it have been; memory holds at
        most a page of sessions (one, when the ids are given sorted) and one cursor batch.
        A failing server raises StoreUnavailableError naming how far the read got."""
        ids = list(dict.fromkeys(session_ids))
        page = page or self.session_page
        done = 0

        def what() -> str:
            return (
                f"the read of the sessions named for tenant {tenant!r} "
                f"(after {done} of {len(ids)} sessions)"
            )

        for start in range(0, len(ids), page):
            chunk = ids[start : start + page]
            cursor = (
                self.turns.find({"tenant": tenant, "session_id": {"$in": chunk}})
                .sort(TURN_KEY)
                .batch_size(TURN_BATCH)
            )
            ready: dict[str, list[Doc]] = {}  # grouped, waiting for the ones named before
            nxt = 0  # the next of ``chunk`` to hand on
            try:
                current: str | None = None
                docs: list[Doc] = []
                while batch := await self._call(what(), partial(cursor.to_list, TURN_BATCH)):
                    for d in batch:
                        if d["session_id"] != current:
                            if current is not None:
                                ready[current] = docs
                                while nxt < len(chunk) and chunk[nxt] in ready:
                                    yield chunk[nxt], ready.pop(chunk[nxt])
                                    nxt += 1
                                    done += 1
                            current, docs = d["session_id"], []
                        docs.append(d)
                if current is not None:
                    ready[current] = docs
            finally:
                with contextlib.suppress(PyMongoError):
                    await cursor.close()
            for sid in chunk[nxt:]:  # the rest of the page, and the ids with no turn
                yield sid, ready.pop(sid, [])
                done += 1

    async def _session_ids(self, query: Doc, page: int) -> list[str]:
        cursor = self.turns.find(query, {"session_id": 1, "_id": 0}).sort(START_KEY).limit(page)
        return [str(d["session_id"]) for d in await cursor.to_list(None)]

    # -- erasure --------------------------------------------------------------------------

    async def put_tombstone(
        self, tenant: str, session_id: str, at: datetime
    ) -> tuple[datetime, bool]:
        """Record the erasure of a session (once): (erased_at, whether it is new)."""
        sid = session_doc_id(tenant, session_id)

        async def run() -> tuple[datetime, bool]:
            try:
                await self.erasures.insert_one(
                    {"_id": sid, "tenant": tenant, "session_id": session_id, "erased_at": at}
                )
                return at, True
            except DuplicateKeyError:
                doc = await self.erasures.find_one({"_id": sid})
                if doc is None:  # cannot happen: tombstones are never deleted
                    raise
                return _aware(doc["erased_at"]), False

        return await self._call("the erasure tombstone", run)

    async def tombstone(self, tenant: str, session_id: str) -> datetime | None:
        """When the session was erased (None: it was not)."""
        sid = session_doc_id(tenant, session_id)
        doc = await self._call("tombstone", lambda: self.erasures.find_one({"_id": sid}))
        return None if doc is None else _aware(doc["erased_at"])

    async def erased_among(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The ``(tenant, session_id)`` of ``keys`` that were erased (one query)."""
        ids = [session_doc_id(t, s) for t, s in keys]
        if not ids:
            return set()

        async def run() -> list[Doc]:
            cursor = self.erasures.find({"_id": {"$in": ids}}, {"tenant": 1, "session_id": 1})
            return await cursor.to_list(None)

        docs = await self._call("tombstones", run)
        return {(str(d["tenant"]), str(d["session_id"])) for d in docs}

    async def erase_session(self, tenant: str, session_id: str) -> tuple[int, int]:
        """Delete the session's turn documents and snapshot: (turns, snapshots) deleted."""

        async def run() -> tuple[int, int]:
            turns = await self.turns.delete_many({"tenant": tenant, "session_id": session_id})
            snap = await self.sessions.delete_one({"_id": session_doc_id(tenant, session_id)})
            return turns.deleted_count, snap.deleted_count

        return await self._call("erase_session", run)

    async def ping(self) -> None:
        await self._call("ping", lambda: self.client.admin.command("ping"))

    async def close(self) -> None:
        await self.client.close()


def _starts(
    tenant: str,
    session_id: str | None,
    program_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Doc:
    """The turn-1 records of a tenant's sessions, filtered: what a batch selects."""
    query: Doc = {"tenant": tenant, "seq": 1}
    if session_id is not None:
        query["session_id"] = {"$eq": session_id}
    if program_id:
        query["program_id"] = program_id
    rng: Doc = {}
    if since is not None:
        rng["$gte"] = since
    if until is not None:
        rng["$lt"] = until
    if rng:
        query["at_date"] = rng
    return query


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class MongoTombstones:
    """``runtime.erasure.Tombstones`` in MongoDB's ``erasures`` collection."""

    def __init__(self, archive: MongoArchive) -> None:
        self.archive = archive
        self.where = archive.where

    async def get(self, tenant: str, session_id: str) -> datetime | None:
        return await self.archive.tombstone(tenant, session_id)

    async def put(self, tenant: str, session_id: str, at: datetime) -> tuple[datetime, bool]:
        return await self.archive.put_tombstone(tenant, session_id, at)


def dumps(record: TurnRecord) -> bytes:
    """The wire form of a turn record (compact JSON), as published and consumed."""
    return orjson.dumps(record.model_dump(mode="json"))
