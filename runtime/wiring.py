"""Wiring: build the session driver and its friends from ``Settings``.

Embedded default (no server URL set): MemoryStore + JsonlSink. With ``REDIS_URL`` /
``AMQP_URL`` / ``MONGO_URL``: RedisStore, AmqpSink (critical turns also to MongoDB), and a
MongoDB archive that holds programs, aliases and recovers sessions the store has lost.

Two wrappers live here rather than in the driver:

- ``RecoveringStore``: a store whose ``load`` falls back to ``runtime.recovery`` for a
  session MongoDB knows when the store has lost it, or holds an older seq than the channel
  saw (it lost its last writes), writing the state back; the channel's ``seq`` reaches it
  through the ``CHANNEL_SEQ`` context variable so recovery waits for MongoDB to catch up.
- ``TombstoneStore``: a store whose ``load`` answers ``SessionErasedError`` for a session
  erased on request (runtime/erasure.py) that the store no longer holds, instead of
  "unknown" — or, with MongoDB, instead of recovering it.
- ``ProgramCatalog``: programs and aliases namespaced by tenant (an id another tenant
  uploaded is "unknown" to this one), persisted to MongoDB when configured so every API
  instance sees the same programs and the same alias targets.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pymongo.errors import PyMongoError

from runtime.driver import SessionDriver, TurnResponse, utc_now
from runtime.effects import Clock, EffectExecutor, Effects, SmsGateway, SmtpSettings
from runtime.erasure import (
    ErasableStore,
    ErasureReport,
    FileTombstones,
    SessionErasedError,
    Tombstones,
    erase_session,
    tombstone_file_for,
)
from runtime.mongo import MongoArchive, MongoTombstones
from runtime.ports import (
    ConflictError,
    SessionStore,
    StoredSession,
    StoreUnavailableError,
    TurnSink,
)
from runtime.programs import LoadedProgram, ProgramNotFoundError, ProgramRegistry
from runtime.recovery import recover_into_store
from runtime.settings import Settings
from runtime.sinks import open_sink
from runtime.sinks.jsonl import JsonlSink, read_turns
from runtime.stores import open_store
from schemas.events import Event
from schemas.program import Program
from schemas.session import Channel, SessionState
from schemas.turns import TurnRecord

__all__ = [
    "CHANNEL_SEQ",
    "ProgramCatalog",
    "ProgramInfo",
    "RecoveringStore",
    "Runtime",
    "TombstoneStore",
    "build_runtime",
]

log = logging.getLogger("ddtflow.wiring")

CHANNEL_SEQ: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "ddtflow_channel_seq", default=None
)
"""The ``seq`` the channel last saw, for the request being served (recovery's ``min_seq``)."""

TERMINAL = frozenset({"ended", "transferred", "failed"})


class _WrappedStore:
    """A SessionStore around another: everything but ``load`` goes to ``inner`` as is."""

    inner: SessionStore

    async def save(
        self,
        state: SessionState,
        *,
        expected_seq: int | None,
        response: bytes | None = None,
        idempotency_key: str | None = None,
        record: bytes | None = None,
    ) -> None:
        await self.inner.save(
            state,
            expected_seq=expected_seq,
            response=response,
            idempotency_key=idempotency_key,
            record=record,
        )

    async def claim_effects(self, tenant: str, session_id: str, seq: int, ttl_s: float) -> bool:
        return await self.inner.claim_effects(tenant, session_id, seq, ttl_s)

    async def mark_confirmed(self, tenant: str, session_id: str, seq: int) -> None:
        await self.inner.mark_confirmed(tenant, session_id, seq)

    async def delete(self, tenant: str, session_id: str) -> None:
        await self.inner.delete(tenant, session_id)

    async def close(self) -> None:
        await self.inner.close()


class TombstoneStore(_WrappedStore):
    """A SessionStore whose ``load`` raises ``SessionErasedError`` for a session the store
    does not hold and the tombstones name (a miss costs one tombstone read)."""

    def __init__(self, inner: SessionStore, tombstones: Tombstones) -> None:
        self.inner = inner
        self.tombstones = tombstones

    async def load(self, tenant: str, session_id: str) -> StoredSession | None:
        stored = await self.inner.load(tenant, session_id)
        if stored is None:
            at = await self.tombstones.get(tenant, session_id)
            if at is not None:
                raise SessionErasedError(tenant, session_id, at)
        return stored


class RecoveringStore(_WrappedStore):
    """A SessionStore whose ``load`` rebuilds a missing session from MongoDB."""

    def __init__(
        self,
        inner: SessionStore,
        mongo: MongoArchive,
        programs: ProgramRegistry,
        *,
        wait_s: float = 2.0,
    ) -> None:
        self.inner = inner
        self.mongo = mongo
        self.programs = programs
        self.wait_s = wait_s

    async def load(self, tenant: str, session_id: str) -> StoredSession | None:
        stored = await self.inner.load(tenant, session_id)
        seen = CHANNEL_SEQ.get()
        if stored is not None:
            if seen is None or stored.state.seq >= seen:
                return stored
            # The channel was answered ``seen`` but the store holds less: it lost its last
            # writes (a failover to a replica that lagged). Going on from there would fork
            # the session from what was acknowledged; those turns are in the turn log, so
            # roll forward from MongoDB (or answer 503 while they are still on their way).
            log.warning(
                "session %s/%s: the store holds seq %d, the channel saw seq %d: recovering",
                tenant,
                session_id,
                stored.state.seq,
                seen,
            )
            return await recover_into_store(
                self.inner,
                tenant,
                session_id,
                min_seq=seen,
                mongo=self.mongo,
                programs=self.programs,
                wait_s=self.wait_s,
                stale_seq=stored.state.seq,
            )
        wait_s = self.wait_s
        if await self.mongo.max_seq(tenant, session_id) is None:
            # Never heard of (or another tenant's): not found — unless the channel names a
            # seq it was answered. Then the session may well exist with every turn still in
            # the queue (the worker behind or down when Redis lost it): wait for the worker
            # as recovery does for a later turn, and answer 404 only if MongoDB still has
            # nothing of it after that bound. Without a seq (a state read): 404 at once.
            if seen is None:
                return None
            started = time.monotonic()
            if not await self._appears(tenant, session_id):
                return None
            wait_s = max(0.0, wait_s - (time.monotonic() - started))
        return await recover_into_store(
            self.inner,
            tenant,
            session_id,
            min_seq=seen,
            mongo=self.mongo,
            programs=self.programs,
            wait_s=wait_s,
        )

    async def _appears(self, tenant: str, session_id: str, poll_s: float = 0.05) -> bool:
        """Whether MongoDB hears of the session within ``wait_s`` (polling)."""
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            await asyncio.sleep(poll_s)
            if await self.mongo.max_seq(tenant, session_id) is not None:
                return True
        return False


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    id: str
    project: str
    languages: tuple[str, ...]
    default_language: str
    uploaded_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "languages": list(self.languages),
            "default_language": self.default_language,
            "uploaded_at": self.uploaded_at.isoformat(),
        }


def _info(program: Program, at: datetime) -> ProgramInfo:
    return ProgramInfo(
        program.id, program.project, tuple(program.languages), program.default_language, at
    )


class ProgramCatalog:
    """Programs and aliases per tenant, over the process-wide ProgramRegistry (which holds
    each program's DDT engine once, whoever uploaded it: ids are content hashes)."""

    def __init__(self, registry: ProgramRegistry, mongo: MongoArchive | None = None) -> None:
        self.registry = registry
        self.mongo = mongo
        self._owned: dict[str, dict[str, ProgramInfo]] = {}
        self._aliases: dict[str, dict[str, str]] = {}

    async def _db(self, what: str, op: Callable[[], Any]) -> Any:
        try:
            return await op()
        except PyMongoError as exc:
            raise StoreUnavailableError(
                f"MongoDB unavailable during {what}: {type(exc).__name__}", server="mongodb"
            ) from exc

    def _owned_coll(self) -> Any:
        assert self.mongo is not None
        return self.mongo.db["api_programs"]

    def _alias_coll(self) -> Any:
        assert self.mongo is not None
        return self.mongo.db["api_aliases"]

    async def add(self, tenant: str, program: Program) -> tuple[LoadedProgram, bool]:
        """Load ``program`` for ``tenant``; (loaded, created) — False when it was there."""
        loaded = self.registry.add(program)
        pid = loaded.id
        created = pid not in self._owned.get(tenant, {})
        info = _info(loaded.program, datetime.now(UTC))
        if self.mongo is not None:
            mongo = self.mongo
            await mongo.save_program(loaded.program)
            coll = self._owned_coll()
            res = await self._db(
                "program upload",
                lambda: coll.update_one(
                    {"_id": f"{tenant}:{pid}"},
                    {
                        "$setOnInsert": {
                            "tenant": tenant,
                            "program_id": pid,
                            "project": info.project,
                            "languages": list(info.languages),
                            "default_language": info.default_language,
                            "uploaded_at": info.uploaded_at,
                        }
                    },
                    upsert=True,
                ),
            )
            created = res.upserted_id is not None
        self._owned.setdefault(tenant, {}).setdefault(pid, info)
        return loaded, created

    async def _owns(self, tenant: str, pid: str) -> bool:
        if pid in self._owned.get(tenant, {}):
            return True
        if self.mongo is None:
            return False
        coll = self._owned_coll()
        doc = await self._db("program lookup", lambda: coll.find_one({"_id": f"{tenant}:{pid}"}))
        if doc is None:
            return False
        self._remember(tenant, doc)
        return True

    def _remember(self, tenant: str, doc: Mapping[str, Any]) -> None:
        pid = str(doc["program_id"])
        self._owned.setdefault(tenant, {})[pid] = ProgramInfo(
            pid,
            str(doc.get("project", "")),
            tuple(doc.get("languages", ())),
            str(doc.get("default_language", "")),
            doc.get("uploaded_at") or datetime.now(UTC),
        )

    async def resolve(self, tenant: str, name_or_id: str) -> str:
        """The program id ``name_or_id`` names for ``tenant`` (an alias, or an id it owns)."""
        if self.mongo is not None:
            coll = self._alias_coll()
            doc = await self._db(
                "alias lookup", lambda: coll.find_one({"_id": f"{tenant}:{name_or_id}"})
            )
            if doc is not None:
                return str(doc["program_id"])
        else:
            hit = self._aliases.get(tenant, {}).get(name_or_id)
            if hit is not None:
                return hit
        if await self._owns(tenant, name_or_id):
            return name_or_id
        raise ProgramNotFoundError(
            f"unknown program or alias {name_or_id!r}", program_id=name_or_id
        )

    async def load(self, program_id: str) -> LoadedProgram:
        """The loaded program by id (fetched from MongoDB when this process lacks it)."""
        try:
            return self.registry.get(program_id)
        except ProgramNotFoundError:
            if self.mongo is None:
                raise
        program = await self.mongo.get_program(program_id)
        if program is None:
            raise ProgramNotFoundError(f"unknown program {program_id!r}", program_id=program_id)
        return self.registry.add(program)

    async def get(self, tenant: str, name_or_id: str) -> LoadedProgram:
        return await self.load(await self.resolve(tenant, name_or_id))

    async def info(self, tenant: str, program_id: str) -> ProgramInfo:
        if not await self._owns(tenant, program_id):
            raise ProgramNotFoundError(f"unknown program {program_id!r}", program_id=program_id)
        return self._owned[tenant][program_id]

    async def list(self, tenant: str) -> list[ProgramInfo]:
        if self.mongo is not None:
            coll = self._owned_coll()

            async def run() -> list[dict[str, Any]]:
                cursor = coll.find({"tenant": tenant}).sort("uploaded_at", 1).limit(1000)
                docs: list[dict[str, Any]] = await cursor.to_list(None)
                return docs

            for doc in await self._db("program list", run):
                self._remember(tenant, doc)
        items = self._owned.get(tenant, {}).values()
        return sorted(items, key=lambda i: (i.uploaded_at, i.id))

    async def set_alias(self, tenant: str, name: str, program_id: str) -> str | None:
        """Point ``name`` at ``program_id`` (one atomic write); the previous target."""
        if not await self._owns(tenant, program_id):
            raise ProgramNotFoundError(f"unknown program {program_id!r}", program_id=program_id)
        if self.mongo is not None:
            coll = self._alias_coll()
            doc = await self._db(
                "alias move",
                lambda: coll.find_one_and_update(
                    {"_id": f"{tenant}:{name}"},
                    {
                        "$set": {
                            "tenant": tenant,
                            "name": name,
                            "program_id": program_id,
                            "updated_at": datetime.now(UTC),
                        }
                    },
                    upsert=True,
                ),
            )
            return None if doc is None else str(doc["program_id"])
        aliases = self._aliases.setdefault(tenant, {})
        previous = aliases.get(name)
        aliases[name] = program_id
        return previous

    async def aliases(self, tenant: str) -> dict[str, str]:
        if self.mongo is not None:
            coll = self._alias_coll()

            async def run() -> list[dict[str, Any]]:
                docs: list[dict[str, Any]] = await coll.find({"tenant": tenant}).to_list(1000)
                return docs

            return {str(d["name"]): str(d["program_id"]) for d in await self._db("aliases", run)}
        return dict(self._aliases.get(tenant, {}))


def _tcp_probe(url: str, default_port: int, timeout_s: float = 1.0) -> None:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or default_port
    with socket.create_connection((host, port), timeout=timeout_s) as s:
        s.settimeout(timeout_s)
        s.sendall(b"AMQP\x00\x00\x09\x01")
        first = s.recv(1)
        if first != b"\x01":
            raise OSError("the broker did not answer the AMQP handshake")


@dataclass
class Runtime:
    """Everything an API process runs on. ``aclose`` closes every client."""

    settings: Settings
    driver: SessionDriver
    registry: ProgramRegistry
    catalog: ProgramCatalog
    store: SessionStore
    base_store: SessionStore
    sink: TurnSink
    mongo: MongoArchive | None
    turn_log: Path | None
    tombstones: Tombstones | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def redis_client(self) -> Any | None:
        return getattr(self.base_store, "client", None) if self.settings.redis_url else None

    async def warm_up(self) -> None:
        """Open the broker connection and MongoDB indexes now rather than on the first turn;
        a server that is down is logged (``/readyz`` reports it), not fatal."""
        connect = getattr(self.sink, "connect", None)
        if connect is not None:
            try:
                await connect()
            except Exception as exc:  # noqa: BLE001 - reported by /readyz
                log.warning("broker not reachable at startup: %s", exc)
        if self.mongo is not None:
            try:
                await self.mongo.ensure_indexes()
            except Exception as exc:  # noqa: BLE001
                log.warning("MongoDB not reachable at startup: %s", exc)

    async def readiness(self) -> dict[str, str]:
        """``{server: "ok" | "down: why"}`` for every configured server."""
        checks: dict[str, str] = {}

        async def run(name: str, op: Callable[[], Any]) -> None:
            try:
                await asyncio.wait_for(op(), timeout=2.0)
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means "down"
                checks[name] = f"down: {type(exc).__name__}"

        jobs = []
        if self.settings.redis_url:
            ping = getattr(self.base_store, "ping", None)
            if ping is not None:
                jobs.append(run("redis", ping))
        if self.settings.amqp_url:
            url = self.settings.amqp_url
            jobs.append(run("rabbitmq", lambda: asyncio.to_thread(_tcp_probe, url, 5672)))
        if self.mongo is not None:
            jobs.append(run("mongodb", self.mongo.ping))
        await asyncio.gather(*jobs)
        return checks

    # -- sessions -----------------------------------------------------------------------

    async def start(
        self,
        tenant: str,
        program: str,
        *,
        language: str | None,
        channel: Channel,
        variables: Mapping[str, Any],
        session_id: str | None,
        idempotency_key: str | None,
    ) -> TurnResponse:
        loaded = await self.catalog.get(tenant, program)
        return await self.driver.start(
            tenant,
            loaded,
            language=language,
            channel=channel,
            variables=variables,
            session_id=session_id,
            idempotency_key=idempotency_key,
            program_ref=program,
        )

    async def turn(
        self,
        tenant: str,
        session_id: str,
        event: Event,
        *,
        seq: int,
        idempotency_key: str | None,
    ) -> TurnResponse:
        """One channel event. A lost race with the same Idempotency-Key answers the winner's
        response; a program this process has not loaded yet is fetched and the turn re-run."""
        token = CHANNEL_SEQ.set(seq)
        try:
            for attempt in range(3):
                try:
                    return await self.driver.turn(
                        tenant,
                        session_id,
                        event,
                        expected_seq=seq,
                        idempotency_key=idempotency_key,
                    )
                except ConflictError:
                    if idempotency_key is None or attempt > 0:
                        raise
                except ProgramNotFoundError:
                    if attempt > 0:
                        raise
                    state = await self.driver.state(tenant, session_id)
                    await self.catalog.load(state.program_id)
            raise AssertionError("unreachable")
        finally:
            CHANNEL_SEQ.reset(token)

    async def state(self, tenant: str, session_id: str) -> SessionState:
        return await self.driver.state(tenant, session_id)

    async def turns(self, tenant: str, session_id: str) -> list[TurnRecord]:
        """The session's turn records (MongoDB, or the JSONL log of the embedded default)."""
        if self.mongo is not None:
            records = await self.mongo.turns_after(tenant, session_id, 0)
        elif self.turn_log is not None:
            path = self.turn_log

            def scan() -> list[TurnRecord]:
                if not path.exists():
                    return []
                return [
                    r for r in read_turns(path) if r.session_id == session_id and r.tenant == tenant
                ]

            records = await asyncio.to_thread(scan)
        else:
            raise StoreUnavailableError(
                "no turn archive configured (set MONGO_URL): turns are only in the queue",
                server="mongodb",
            )
        if not records:
            await self.driver.state(tenant, session_id)  # 404 when the session is unknown
        return records

    async def erase(self, tenant: str, session_id: str) -> ErasureReport:
        """Erase the session everywhere this runtime holds it (runtime/erasure.py): the live
        state, MongoDB's turns and snapshot, the JSONL log's lines; a tombstone first."""
        if self.tombstones is None:
            raise StoreUnavailableError(
                "erasure needs the archive the worker writes to: set MONGO_URL (the turn "
                "records are only in the queue)",
                server="mongodb",
            )
        store = self.base_store
        erasable: ErasableStore | None = store if hasattr(store, "erase") else None  # type: ignore[assignment]
        return await erase_session(
            tenant,
            session_id,
            tombstones=self.tombstones,
            store=erasable,
            archive=self.mongo,
            turn_log=self.sink if isinstance(self.sink, JsonlSink) else None,
        )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.driver.aclose()


def build_effects(settings: Settings) -> EffectExecutor:
    """The effect executor the settings describe: SMTP and SMS gateway when configured,
    backend hosts restricted to ``DDTFLOW_BACKEND_HOSTS`` when set."""
    smtp = None
    if settings.smtp_host:
        smtp = SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    sms = SmsGateway(url=settings.sms_url, sender=settings.sms_sender) if settings.sms_url else None
    return EffectExecutor(smtp=smtp, sms=sms, allowed_hosts=settings.backend_host_patterns)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    effects: Effects | None = None,
    registry: ProgramRegistry | None = None,
) -> Runtime:
    """The runtime the settings describe (clients are created, connections open lazily)."""
    registry = registry or ProgramRegistry(max_programs=256)
    base_store = open_store(settings)
    sink = open_sink(settings)
    mongo: MongoArchive | None = None
    if settings.mongo_url:
        mongo = getattr(sink, "mongo", None)
        if mongo is None:
            mongo = MongoArchive.from_url(
                settings.mongo_url, settings.mongo_db, retention_days=settings.retention_days
            )
    store: SessionStore = base_store
    tombstones: Tombstones | None = None
    if mongo is not None:
        tombstones = MongoTombstones(mongo)
    elif isinstance(sink, JsonlSink):
        tombstones = FileTombstones(tombstone_file_for(sink.path))
    if tombstones is not None:
        store = TombstoneStore(store, tombstones)
    if mongo is not None:
        store = RecoveringStore(store, mongo, registry, wait_s=settings.recovery_wait_s)
    driver = SessionDriver(
        store,
        sink,
        registry,
        effects if effects is not None else build_effects(settings),
        clock=clock,
    )
    turn_log = sink.path if isinstance(sink, JsonlSink) else None
    return Runtime(
        settings=settings,
        driver=driver,
        registry=registry,
        catalog=ProgramCatalog(registry, mongo),
        store=store,
        base_store=base_store,
        sink=sink,
        mongo=mongo,
        turn_log=turn_log,
        tombstones=tombstones,
    )
