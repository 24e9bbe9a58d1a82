"""Redis session store: one hash per session, compare-and-set on ``seq`` in Lua.

Key ``ddtflow:{<tenant>:<session_id>}`` — the braces are a hash tag, so every command of a
session touches one slot and the store works on Redis Cluster. Fields: ``seq``, ``state``
(compact JSON), ``resp`` and ``ikey`` (the last turn's response and idempotency key),
``unconf`` (the request's turn records until the sink confirms them). The key's TTL is
refreshed by every save. An erased session (runtime/erasure.py) is a hash holding only
``erased`` (the ISO time) for the session TTL: a save fails, a load raises
``SessionErasedError``. Any Redis error is a ``StoreUnavailableError``: never a silent
fallback to memory.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import hiredis
import orjson
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.commands.core import AsyncScript
from redis.exceptions import DataError, NoScriptError, RedisError

from runtime.erasure import SessionErasedError
from runtime.groupcommit import GroupCommit
from runtime.ports import (
    ConflictError,
    RuntimeFault,
    SessionNotFoundError,
    StoredSession,
    StoreUnavailableError,
)
from schemas.session import SessionState

log = logging.getLogger("ddtflow.store.redis")
T = TypeVar("T")

KEY_PREFIX = "ddtflow"

# KEYS[1] session key. ARGV[1] expected seq ('' = must not exist), ARGV[2] new seq,
# ARGV[3] TTL in ms, ARGV[4..] field/value pairs to store besides seq.
# Returns {1, new seq} on success, {0, current seq} on a conflict, {-1, 0} when missing,
# {-2, 0} when the session was erased.
# A save already applied (the new seq is there with every field this save writes, turn
# records included: a client that sent it twice) succeeds without writing again.
_CAS = """
if redis.call('HEXISTS', KEYS[1], 'erased') == 1 then return {-2, 0} end
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur == ARGV[2] and redis.call('HLEN', KEYS[1]) == (#ARGV - 3) / 2 + 1 then
  local same = true
  local records = false
  for i = 4, #ARGV - 1, 2 do
    if ARGV[i] == 'unconf' then records = true end
    if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then
      same = false
      break
    end
  end
  if same and records then return {1, tonumber(cur)} end
end
if ARGV[1] == '' then
  if cur then return {0, tonumber(cur)} end
else
  if not cur then return {-1, 0} end
  if cur ~= ARGV[1] then return {0, tonumber(cur)} end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', ARGV[2], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, tonumber(ARGV[2])}
"""

# KEYS[1] session key, ARGV[1] seq whose records the sink confirmed.
_CONFIRM = """
if redis.call('HGET', KEYS[1], 'seq') == ARGV[1] then
  return redis.call('HDEL', KEYS[1], 'unconf')
end
return 0
"""


# KEYS[1] session key, ARGV[1] erased_at (ISO), ARGV[2] TTL in ms. The state that was
# there (or false); the hash becomes the erased marker.
_ERASE = """
local state = redis.call('HGET', KEYS[1], 'state')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'erased', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return state
"""


class HiredisPacking:
    """Mixed into the pool's connection class: commands packed by ``hiredis.pack_command``.

    redis-py's asyncio connections pack every command in Python (its sync ones use hiredis
    when it is installed): ≈ 20 µs for a session save against ≈ 3 µs, measured here.
    Arguments are bytes, str (UTF-8, as redis-py's default encoder) or numbers.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0]
        if isinstance(first, str):  # "CONFIG GET": the server wants separate arguments
            args = (*first.encode().split(), *args[1:])
        elif b" " in first:
            args = (*first.split(), *args[1:])
        args = tuple(bytes(a) if isinstance(a, bytearray | memoryview) else a for a in args)
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:
            raise DataError(str(exc)) from exc

    def pack_commands(self, commands: Any) -> list[bytes]:
        return [b"".join(self.pack_command(*cmd)[0] for cmd in commands)]


def use_hiredis_packing(client: aioredis.Redis) -> None:
    """Make ``client``'s pool create connections that pack with hiredis."""
    pool = client.connection_pool
    base = pool.connection_class
    if issubclass(base, HiredisPacking):
        return
    pool.connection_class = type(f"Hiredis{base.__name__}", (HiredisPacking, base), {})


class AutoPipeline:
    """Redis commands under group commit (``runtime.groupcommit``): one command or one
    pipeline in flight per client; what comes meanwhile is sent as one pipeline.

    Measured on our machines: a command sent on its own costs ≈ 100 µs of CPU in redis-py,
    one in a pipeline of 16 ≈ 20 µs. Pipelines are not transactions: each command keeps its
    own result or error.
    """

    def __init__(self, client: aioredis.Redis, max_batch: int = 256) -> None:
        self.client = client
        self.group: GroupCommit[tuple[Any, ...], Any] = GroupCommit(
            self._one, self._many, max_batch
        )

    async def execute(self, *args: Any) -> Any:
        return await self.group.submit(args)

    async def _one(self, args: tuple[Any, ...]) -> Any:
        return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    async def _many(self, batch: list[tuple[Any, ...]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for args in batch:
            pipe.execute_command(*args)
        return await pipe.execute(raise_on_error=False)


class _Cluster(RedisCluster):
    """A RedisCluster that learns the slot map before it sends any command.

    redis-py 8.1 decides where a command goes before it loads the slot map: the commands
    sent while a client has none (its first ones, or any after it dropped its map on a
    topology error) go to a random primary whatever their key and are redirected (MOVED);
    every fifth redirection drops all connections, and the commands in flight on them are
    sent again although they may have run: a save ran twice and reported a conflict with
    itself (tests/runtime/test_store_redis_ha.py, three nodes). Loading the map first (once,
    under redis-py's lock) routes every command by its key's slot.
    """

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        await self.initialize()  # at once when the map is loaded
        return await super().execute_command(*args, **kwargs)


def session_key(tenant: str, session_id: str) -> str:
    """The Redis key of one session (hash-tagged: one Cluster slot per session)."""
    return f"{KEY_PREFIX}:{{{tenant}:{session_id}}}"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


class RedisStore:
    """``SessionStore`` on Redis (single server, Sentinel or Cluster)."""

    def __init__(
        self, client: aioredis.Redis | RedisCluster, *, ttl_s: float = 3600.0, where: str = ""
    ) -> None:
        self.client = client
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.where = where or "redis"
        self._also_close: list[aioredis.Redis] = []  # a Sentinel's own connections
        self._cas = client.register_script(_CAS)
        self._confirm = client.register_script(_CONFIRM)
        self._erase = client.register_script(_ERASE)
        # a Cluster routes each command to its node itself: no batching across sessions
        self._pipe = AutoPipeline(client) if isinstance(client, aioredis.Redis) else None
        if isinstance(client, aioredis.Redis):
            use_hiredis_packing(client)

    async def _command(self, *args: Any) -> Any:
        if self._pipe is None:
            return await self.client.execute_command(*args)
        return await self._pipe.execute(*args)

    async def _run_script(self, script: AsyncScript, key: str, args: list[Any]) -> Any:
        """EVALSHA through the batch; the script is loaded again if the server lost it (a
        restart, a failover to a replica that never saw it)."""
        if self._pipe is None:
            return await script(keys=[key], args=args)
        try:
            return await self._pipe.execute("EVALSHA", script.sha, 1, key, *args)
        except NoScriptError:
            await self.client.script_load(script.script)
            return await self._pipe.execute("EVALSHA", script.sha, 1, key, *args)

    @classmethod
    def from_url(
        cls, url: str, *, ttl_s: float = 3600.0, cluster: bool = False, timeout_s: float = 2.0
    ) -> RedisStore:
        """redis://, rediss://, unix://; redis+sentinel://[:pw@]h:p[,h:p]/service[/db];
        a Cluster with ``cluster=True`` (or a redis+cluster:// URL)."""
        opts: dict[str, Any] = {
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
        }
        scheme = url.split("://", 1)[0].lower()
        client: aioredis.Redis | RedisCluster
        sentinels: list[aioredis.Redis] = []
        if scheme in {"redis+sentinel", "rediss+sentinel"}:
            client, sentinels = _sentinel_client(url, opts)
        elif cluster or scheme in {"redis+cluster", "rediss+cluster"}:
            real = url.replace("+cluster://", "://", 1)
            client = _Cluster.from_url(real, **opts)
        else:
            client = aioredis.Redis.from_url(url, health_check_interval=30, **opts)
        store = cls(client, ttl_s=ttl_s, where=_redact(url))
        store._also_close = sentinels
        return store

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        try:
            return await op()
        except RuntimeFault:
            raise
        except (RedisError, OSError) as exc:
            log.warning("redis %s failed on %s: %s", what, self.where, exc)
            raise StoreUnavailableError(
                f"session store unavailable ({self.where}): {type(exc).__name__}: {exc}",
                server="redis",
            ) from exc
        except Exception as exc:  # the client library's own failure (seen in redis-py's
            # cluster client during a topology change): retryable too, with its traceback
            # in our log, never in the answer
            log.exception("redis %s failed on %s in the client library", what, self.where)
            raise StoreUnavailableError(
                f"session store unavailable ({self.where}): the Redis client failed: "
                f"{type(exc).__name__}: {exc}",
                server="redis",
            ) from exc

    async def load(self, tenant: str, session_id: str) -> StoredSession | None:
        key = session_key(tenant, session_id)
        raw: dict[bytes, bytes] = await self._call("load", lambda: self._command("HGETALL", key))
        if not raw or b"state" not in raw:
            if raw and b"erased" in raw:
                at = datetime.fromisoformat(raw[b"erased"].decode())
                raise SessionErasedError(tenant, session_id, at)
            return None
        try:
            state = SessionState.model_validate_json(raw[b"state"])
        except ValidationError as exc:
            raise StoreUnavailableError(
                f"session {session_id!r} of tenant {tenant!r} holds a state that does not "
                f"validate: {exc.errors()[0]['msg']}",
                server="redis",
            ) from exc
        ikey = raw.get(b"ikey")
        return StoredSession(
            state=state,
            last_response=raw.get(b"resp"),
            idempotency_key=ikey.decode() if ikey is not None else None,
            unconfirmed=raw.get(b"unconf"),
        )

    async def save(
        self,
        state: SessionState,
        *,
        expected_seq: int | None,
        response: bytes | None = None,
        idempotency_key: str | None = None,
        record: bytes | None = None,
    ) -> None:
        key = session_key(state.tenant, state.session_id)
        args: list[bytes | str | int] = [
            "" if expected_seq is None else str(expected_seq),
            str(state.seq),
            self.ttl_ms,
            "state",
            orjson.dumps(state.model_dump(mode="json", exclude_defaults=True)),
        ]
        if response is not None:
            args += ["resp", response]
        if idempotency_key is not None:
            args += ["ikey", idempotency_key]
        if record is not None:
            args += ["unconf", record]
        ok, seq = await self._call("save", lambda: self._run_script(self._cas, key, args))
        if ok == 1:
            return
        if ok == -2:
            raw = await self._call("load", lambda: self._command("HGET", key, "erased"))
            at = datetime.fromisoformat(raw.decode()) if raw else datetime.now(UTC)
            raise SessionErasedError(state.tenant, state.session_id, at)
        if ok == -1:
            raise SessionNotFoundError(
                f"session {state.session_id!r} of tenant {state.tenant!r} is not in the store "
                f"(expired or lost); load it again to recover it",
                tenant=state.tenant,
                session_id=state.session_id,
            )
        if expected_seq is None:
            msg = f"session {state.session_id!r} already exists (seq {seq})"
        else:
            msg = f"session {state.session_id!r} is at seq {seq}, not {expected_seq}"
        raise ConflictError(msg, current_seq=int(seq))

    async def claim_effects(self, tenant: str, session_id: str, seq: int, ttl_s: float) -> bool:
        """``SET …:effects:SEQ NX PX``: one claim across every API process (same slot as
        the session in a Cluster: the key keeps its hash tag)."""
        key = f"{session_key(tenant, session_id)}:effects:{seq}"
        ms = max(1, int(ttl_s * 1000))
        got = await self._call("claim", lambda: self._command("SET", key, "1", "NX", "PX", ms))
        return got is not None

    async def mark_confirmed(self, tenant: str, session_id: str, seq: int) -> None:
        key = session_key(tenant, session_id)
        await self._call("mark_confirmed", lambda: self._run_script(self._confirm, key, [str(seq)]))

    async def erase(self, tenant: str, session_id: str, erased_at: datetime) -> SessionState | None:
        """Replace the session by the erased marker (for the session TTL); the state that
        was there, if any (``runtime.erasure.ErasableStore``)."""
        key = session_key(tenant, session_id)
        args = [erased_at.isoformat(), self.ttl_ms]
        raw = await self._call("erase", lambda: self._run_script(self._erase, key, args))
        if not raw:
            return None
        try:
            return SessionState.model_validate_json(raw)
        except ValidationError:
            return None  # removed all the same

    async def ttl_remaining(self, tenant: str, session_id: str) -> float | None:
        """Seconds before the session expires (None when absent)."""
        key = session_key(tenant, session_id)
        ms: int = await self._call("pttl", lambda: self.client.pttl(key))
        return None if ms < 0 else ms / 1000

    async def delete(self, tenant: str, session_id: str) -> None:
        key = session_key(tenant, session_id)
        await self._call("delete", lambda: self.client.delete(key))

    async def ping(self) -> None:
        await self._call("ping", lambda: self.client.ping())

    async def close(self) -> None:
        for c in [self.client, *self._also_close]:
            try:
                await c.aclose()
            except (RedisError, OSError) as exc:  # closing a dead connection is not an error
                log.debug("redis close: %s", exc)


def _sentinel_client(url: str, opts: dict[str, Any]) -> tuple[aioredis.Redis, list[aioredis.Redis]]:
    parts = urlsplit(url)
    hosts = []
    for item in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = item.rpartition(":")
        hosts.append((host or item, int(port) if host else 26379))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError(f"{_redact(url)}: a Sentinel URL names the service: .../<service>[/db]")
    service = path[0]
    db = int(path[1]) if len(path) > 1 else 0
    password = unquote(parts.password) if parts.password else None
    if parts.scheme.startswith("rediss"):
        opts = {**opts, "ssl": True}
    sentinel = Sentinel(hosts, sentinel_kwargs=opts, password=password, db=db, **opts)  # type: ignore[no-untyped-call]
    client: aioredis.Redis = sentinel.master_for(service)
    return client, list(sentinel.sentinels)
