"""RabbitMQ turn sink: persistent messages, publisher confirms, a durable queue with a DLX.

One persistent message per request holds its records (a JSON array); while a message waits
for its confirm, the requests that come meanwhile go out together as one message when it
is confirmed (group commit, ``runtime.groupcommit``). ``publish`` returns only after the
broker's confirm of the message holding its records; a critical record is also written to
MongoDB before it returns. When the broker cannot be reached the turn fails with a
retryable ``StoreUnavailableError`` — or, with ``fallback="mongo"``, the record goes
straight to MongoDB. The connection is robust: it reconnects by itself, logged and counted.
``confirm_timeout_s`` bounds a publish from the moment it is sent: the wait for a connection
that is being re-established and the wait for the broker's confirm (which never comes while
a resource alarm blocks publishers) both count. A queue that exists with other arguments
(another queue type) is a ``QueueMismatchError``: a configuration error, not retryable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractQueue, AbstractRobustConnection
from pamqp import commands as spec
from prometheus_client import Counter, Histogram

from runtime.groupcommit import GroupCommit
from runtime.mongo import MongoArchive, turn_id
from runtime.ports import RuntimeFault, StoreUnavailableError, encode_records
from schemas.turns import TurnRecord

log = logging.getLogger("ddtflow.sink.amqp")

RECONNECTS = Counter("ddtflow_amqp_reconnects", "Reconnections of the RabbitMQ connection")
PUBLISHED = Counter("ddtflow_turns_published", "Turn records confirmed by the broker")
FALLBACKS = Counter("ddtflow_turns_broker_fallback", "Turn records written to MongoDB directly")
PUBLISH_FAILURES = Counter("ddtflow_turn_publish_failures", "Publishes that failed retryably")
BATCHED = Histogram(
    "ddtflow_amqp_batched_requests",
    "Requests whose records went out together in one message (group commit)",
    buckets=(2, 4, 8, 16, 32, 64),
)

_Unit = tuple[Sequence[TurnRecord], bytes, float]
"""One request's records, their JSON array, and the loop time its publish must be
confirmed by (``confirm_timeout_s`` after the request asked: a request queued behind a
message in flight is not given the whole bound again when its batch goes out)."""


def join_arrays(bodies: Sequence[bytes]) -> bytes:
    """One JSON array of the records of several: each body is a JSON array of records (or,
    from a store written before batching, one record object)."""
    parts = []
    for body in bodies:
        b = body.strip()
        parts.append(b[1:-1] if b.startswith(b"[") else b)
    return b"[" + b",".join(p for p in parts if p.strip()) + b"]"


QueueType = Literal["classic", "quorum"]

# What a broken connection or channel raises while it is down or being re-established.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aio_pika.exceptions.AMQPError,
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,  # a RuntimeError: the channel is closed
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


def _retrieved(task: asyncio.Future[None]) -> None:
    """A connect nobody waited for to the end: its error is reported by the next publish."""
    if not task.cancelled():
        task.exception()


def dlx_name(queue: str) -> str:
    return f"{queue}.dlx"


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


def check_amqp_url(url: str) -> None:
    """ValueError unless ``url`` is amqp:// or amqps://. aio-pika's reconnecting client
    retries a URL of another scheme forever (a KeyError inside each attempt), so it is
    refused before any connection is tried. The message never shows the URL: it may hold
    a password."""
    scheme = urlsplit(url).scheme
    if scheme not in ("amqp", "amqps"):
        got = f"{scheme}://" if scheme else "no scheme"
        raise ValueError(f"AMQP_URL: expected amqp:// or amqps:// (got {got})")


class QueueMismatchError(RuntimeFault):
    """A turn queue exists on the broker with other arguments than ddtflow declares (most
    often another queue type: classic vs quorum). Not retryable: the broker refuses every
    declaration until the configuration or the queue changes."""

    code = "broker_queue_mismatch"


async def _declare_queue(
    channel: AbstractChannel,
    name: str,
    arguments: dict[str, Any],
    queue_type: QueueType,
    what: str,
) -> AbstractQueue:
    try:
        return await channel.declare_queue(name, durable=True, arguments=arguments)
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        raise QueueMismatchError(
            f"RabbitMQ queue {name!r} ({what}) exists with other arguments than ddtflow "
            f"declares for queue type {queue_type!r}; the broker says: {exc}. A queue's "
            f"type cannot be changed in place: configure the queue type it has, or another "
            f"queue name (and move the consumers once the old queue is drained)",
            queue=name,
            queue_type=queue_type,
        ) from exc


async def declare_topology(
    channel: AbstractChannel, queue: str, queue_type: QueueType = "classic"
) -> AbstractQueue:
    """The durable turn queue, its dead-letter exchange and dead-letter queue (idempotent).
    A queue that exists with other arguments raises QueueMismatchError."""
    dlx = await channel.declare_exchange(
        dlx_name(queue), aio_pika.ExchangeType.DIRECT, durable=True
    )
    args: dict[str, Any] = {"x-queue-type": queue_type}
    dlq = await _declare_queue(
        channel, dlq_name(queue), args, queue_type, f"the dead-letter queue of {queue!r}"
    )
    await dlq.bind(dlx, routing_key=queue)
    main_args = {
        **args,
        "x-dead-letter-exchange": dlx_name(queue),
        "x-dead-letter-routing-key": queue,
    }
    return await _declare_queue(channel, queue, main_args, queue_type, "the turn queue")


class AmqpSink:
    """``TurnSink`` publishing to RabbitMQ; a worker moves the records to MongoDB."""

    def __init__(
        self,
        url: str,
        *,
        queue: str = "ddtflow.turns",
        queue_type: QueueType = "classic",
        confirm_timeout_s: float = 5.0,
        mongo: MongoArchive | None = None,
        fallback: Literal["none", "mongo"] = "none",
        connect_timeout_s: float = 5.0,
        close_mongo: bool = False,
        max_batch: int = 64,
    ) -> None:
        if fallback == "mongo" and mongo is None:
            raise ValueError("broker fallback 'mongo' needs a MongoDB archive (MONGO_URL)")
        check_amqp_url(url)
        self.url = url
        self.where = "amqp " + url.split("@")[-1]
        self.queue = queue
        self.queue_type: QueueType = queue_type
        self.confirm_timeout_s = confirm_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.mongo = mongo
        self.fallback = fallback
        self.close_mongo = close_mongo
        self._conn: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()
        self._connecting: asyncio.Future[None] | None = None  # the connect publishes wait on
        self._opening: aio_pika.RobustConnection | None = None  # the connection it opens
        self._group: GroupCommit[_Unit, None] = GroupCommit(
            self._send_one, self._send_many, max_batch
        )

    async def connect(self) -> None:
        """Open the connection and declare the topology (done by the first publish too)."""
        async with self._lock:
            if self._channel is not None:
                return
            try:
                conn = await aio_pika.connect_robust(
                    self.url,
                    timeout=self.connect_timeout_s,
                    reconnect_interval=1.0,
                    connection_class=self._new_connection,
                )
            except BROKER_ERRORS as exc:
                raise StoreUnavailableError(
                    f"RabbitMQ unreachable ({self.where}): {type(exc).__name__}: {exc}",
                    server="rabbitmq",
                ) from exc
            conn.reconnect_callbacks.add(self._on_reconnect)
            conn.close_callbacks.add(self._on_close)
            try:
                channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
                await declare_topology(channel, self.queue, self.queue_type)
            except QueueMismatchError:
                await conn.close()
                raise
            except BROKER_ERRORS as exc:
                await conn.close()
                raise StoreUnavailableError(
                    f"RabbitMQ channel setup failed ({self.where}): {exc}", server="rabbitmq"
                ) from exc
            self._conn, self._channel = conn, channel
            log.info("connected to %s, queue %s (%s)", self.where, self.queue, self.queue_type)

    def _new_connection(self, *args: Any, **kwargs: Any) -> aio_pika.RobustConnection:
        """aio-pika's robust connection, kept while it connects: ``close`` must close it
        then — cancelling its ``connect`` alone leaves its reconnection loop running."""
        conn = aio_pika.RobustConnection(*args, **kwargs)
        self._opening = conn
        return conn

    def _on_reconnect(self, *_: Any) -> None:
        RECONNECTS.inc()
        log.warning("reconnected to %s", self.where)

    def _on_close(self, _conn: Any, exc: BaseException | None = None) -> None:
        if exc is not None and self._conn is not None:
            log.warning("connection to %s lost: %s (reconnecting)", self.where, exc)

    async def _send(self, records: Sequence[TurnRecord], body: bytes, deadline: float) -> None:
        """One persistent message; returns once the broker confirmed it, by ``deadline``
        (loop time; raises what the connection raised otherwise)."""
        loop = asyncio.get_running_loop()
        if self._channel is None:
            await self._connect_by(deadline)
        assert self._channel is not None
        last = records[-1]
        # properties built directly on the underlying aiormq channel: aio-pika's Message
        # would cost about as much again as the publish itself on the hot path
        props = spec.Basic.Properties(
            delivery_mode=2,  # persistent
            content_type="application/json",
            message_id=turn_id(last.tenant, last.session_id, last.seq),
            headers={
                "tenant": last.tenant,
                "session_id": last.session_id,
                "seq": last.seq,
                "records": len(records),
            },
        )
        try:
            # while the connection is being re-established aio-pika waits for it without
            # a bound: a publish would hang for as long as the broker is down
            async with asyncio.timeout_at(deadline):
                channel = await self._channel.get_underlay_channel()
        except TimeoutError:
            raise ConnectionError(
                f"no connection within {self.confirm_timeout_s:g} s (reconnecting)"
            ) from None
        result = await channel.basic_publish(
            body,
            routing_key=self.queue,
            properties=props,
            mandatory=True,
            timeout=max(deadline - loop.time(), 0.001),
        )
        # a nack or a return (unroutable) is raised by aiormq; anything else but an ack
        # (no confirms on this channel?) must not pass for one
        if not isinstance(result, spec.Basic.Ack):
            raise aiormq.exceptions.DeliveryError(None, result)  # type: ignore[arg-type]
        PUBLISHED.inc(len(records))

    async def _connect_by(self, deadline: float) -> None:
        """``connect``, waited for until ``deadline`` at most. One attempt is in flight at a
        time, shared by the publishes that need it (shielded: a publish giving up does not
        cancel it). A broker host that does not answer (down, a network partition) used
        to hold each publish for the whole connect timeout, twice for the requests
        queued behind it, beyond ``confirm_timeout_s``."""
        task = self._connecting
        if task is None or task.done():
            task = self._connecting = asyncio.ensure_future(self.connect())
            task.add_done_callback(_retrieved)
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(task)
        except TimeoutError:
            failed = task.exception() if task.done() else None
            if failed is not None:  # it failed just as the time was up: that is the answer
                raise failed from None
            raise ConnectionError(
                f"no connection within {self.confirm_timeout_s:g} s (connecting)"
            ) from None

    async def _send_one(self, unit: _Unit) -> None:
        await self._send(*unit)

    async def _send_many(self, units: list[_Unit]) -> list[None]:
        """The requests that queued behind the message in flight: one message for all."""
        records = [r for recs, _, _ in units for r in recs]
        deadline = min(d for _, _, d in units)  # the first to have queued: nobody waits longer
        await self._send(records, join_arrays([body for _, body, _ in units]), deadline)
        BATCHED.observe(len(units))
        return [None] * len(units)

    async def _publish_to_broker(self, records: Sequence[TurnRecord], body: bytes) -> None:
        last = records[-1]
        deadline = asyncio.get_running_loop().time() + self.confirm_timeout_s
        try:
            await self._group.submit((records, body, deadline))
        except BROKER_ERRORS as exc:
            raise StoreUnavailableError(
                f"RabbitMQ did not confirm turn {last.seq} of session {last.session_id!r} "
                f"({self.where}): {type(exc).__name__}: {exc or 'timeout'}",
                server="rabbitmq",
                session_id=last.session_id,
                seq=last.seq,
            ) from exc

    async def publish(self, *records: TurnRecord, payload: bytes | None = None) -> None:
        """The request's records in one persistent message (a JSON array), or, while
        another message is waiting for its confirm, in one message with the other requests
        that queued meanwhile (group commit). Returns once the broker confirmed."""
        if not records:
            return
        body = payload if payload is not None else encode_records(records)
        try:
            await self._publish_to_broker(records, body)
        except StoreUnavailableError as exc:
            if self.fallback != "mongo" or self.mongo is None:
                PUBLISH_FAILURES.inc()
                raise
            log.warning("%s; writing the turns to MongoDB directly", exc.message)
            await self.mongo.write_batch(list(records))
            FALLBACKS.inc(len(records))
            return
        critical = [r for r in records if r.critical]
        if critical and self.mongo is not None:
            await self.mongo.write_batch(critical)

    async def close(self) -> None:
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            # a connect still trying (a host that does not answer): close its connection
            # first (which stops its reconnection loop), then the wait for it
            opening = self._opening
            if opening is not None:
                with contextlib.suppress(*BROKER_ERRORS):
                    await opening.close()
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
        self._opening = None
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                await conn.close()
            except BROKER_ERRORS as exc:
                log.debug("closing %s: %s", self.where, exc)
        if self.close_mongo and self.mongo is not None:
            await self.mongo.close()
