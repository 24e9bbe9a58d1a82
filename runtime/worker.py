"""Persistence worker: RabbitMQ turn queue → MongoDB, idempotently, in batches.

Messages are acknowledged only after their batch is in MongoDB (turns, then the session
snapshots under a version guard), so a worker killed at any point loses nothing: the broker
redelivers what was not acknowledged and duplicate keys are skipped. A message holds the
turn records of one request, or of several sent together under load (a JSON array; a
single record object is accepted too). A message that is neither is published to the
dead-letter exchange with the reason in the ``x-ddtflow-error`` header, then acknowledged.
Records of a session erased on request (a tombstone in MongoDB, runtime/erasure.py) are
not written: they are acknowledged and counted as ``erased``; one erased while its batch is
being written is removed again after the write. Several workers may consume the same queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from prometheus_client import Counter

from runtime.mongo import MongoArchive
from runtime.ports import StoreUnavailableError, decode_records
from runtime.sinks.amqp import (
    BROKER_ERRORS,
    QueueType,
    check_amqp_url,
    declare_topology,
    dlx_name,
)
from schemas.turns import TurnRecord

log = logging.getLogger("ddtflow.worker")

WRITTEN = Counter("ddtflow_worker_turns_written", "Turn records newly written to MongoDB")
DUPLICATES = Counter("ddtflow_worker_turns_duplicate", "Turn records already in MongoDB")
POISON = Counter("ddtflow_worker_poison", "Messages dead-lettered as not a turn record")
RETRIES = Counter("ddtflow_worker_retries", "MongoDB batch writes retried")
ERASED_RECORDS = Counter(
    "ddtflow_worker_turns_erased", "Turn records not written: their session was erased"
)

ERROR_HEADER = "x-ddtflow-error"


@dataclass
class WorkerStats:
    written: int = 0
    duplicates: int = 0
    poison: int = 0
    batches: int = 0
    retries: int = 0
    erased: int = 0


class Worker:
    """Consume the turn queue until ``stop()``; then finish the batch in hand and ack it."""

    def __init__(
        self,
        amqp_url: str,
        mongo: MongoArchive,
        *,
        queue: str = "ddtflow.turns",
        queue_type: QueueType = "classic",
        prefetch: int = 200,
        batch: int = 100,
        linger_s: float = 0.02,
        max_backoff_s: float = 5.0,
        close_timeout_s: float = 5.0,
    ) -> None:
        check_amqp_url(amqp_url)
        self.amqp_url = amqp_url
        self.where = "amqp " + amqp_url.split("@")[-1]
        self.mongo = mongo
        self.queue = queue
        self.queue_type: QueueType = queue_type
        self.prefetch = prefetch
        self.batch = max(1, min(batch, prefetch))
        self.linger_s = linger_s
        self.max_backoff_s = max_backoff_s
        self.close_timeout_s = close_timeout_s  # bounds the consumer's cancel and the close
        self.stats = WorkerStats()
        self._pending: list[AbstractIncomingMessage] = []
        self._arrived = asyncio.Event()
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()

    def stop(self) -> None:
        """Ask the worker to stop: no new messages; the batch in hand is finished and acked."""
        self._stopping.set()
        self._arrived.set()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._pending.append(message)
        if len(self._pending) >= self.batch:
            self._arrived.set()
        elif len(self._pending) == 1:
            asyncio.get_running_loop().call_later(self.linger_s, self._arrived.set)

    async def run(self) -> WorkerStats:
        """Consume until ``stop()``. Raises StoreUnavailableError if the broker is unreachable."""
        try:
            conn = await aio_pika.connect_robust(self.amqp_url, timeout=10, reconnect_interval=1.0)
        except BROKER_ERRORS as exc:
            raise StoreUnavailableError(
                f"worker: RabbitMQ unreachable ({self.where}): {type(exc).__name__}: {exc}",
                server="rabbitmq",
            ) from exc
        conn.reconnect_callbacks.add(lambda *_: log.warning("worker reconnected to %s", self.where))
        try:
            channel = await conn.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=self.prefetch)
            queue = await declare_topology(channel, self.queue, self.queue_type)
            dlx = await channel.get_exchange(dlx_name(self.queue))
            await self.mongo.ensure_indexes()  # MongoDB reachable before taking messages
            tag = await queue.consume(self._on_message, no_ack=False)
            log.info("worker consuming %s on %s → %s", self.queue, self.where, self.mongo.where)
            self.ready.set()
            while not self._stopping.is_set():
                await self._arrived.wait()
                self._arrived.clear()
                await self._flush(dlx)
            try:
                # bounded: with the broker down, aio-pika waits for the reconnection first
                # (without a bound): a SIGTERM would never finish
                async with asyncio.timeout(self.close_timeout_s):
                    await queue.cancel(tag)
            except BROKER_ERRORS as exc:
                log.warning("worker: cancelling the consumer failed (%r); stopping anyway", exc)
            await asyncio.sleep(0)  # deliveries already received by the callback
            await self._flush(dlx)
        finally:
            try:
                async with asyncio.timeout(self.close_timeout_s):
                    await conn.close()
            except BROKER_ERRORS as exc:
                log.warning("worker: closing the connection to %s failed: %r", self.where, exc)
        log.info("worker stopped: %s", self.stats)
        return self.stats

    async def _flush(self, dlx: aio_pika.abc.AbstractExchange) -> None:
        while self._pending:
            taken, self._pending = self._pending[: self.batch], self._pending[self.batch :]
            await self._process(taken, dlx)

    async def _process(
        self, messages: list[AbstractIncomingMessage], dlx: aio_pika.abc.AbstractExchange
    ) -> None:
        good: list[tuple[AbstractIncomingMessage, list[TurnRecord]]] = []
        for m in messages:
            try:
                good.append((m, decode_records(m.body)))
            except ValueError as exc:
                await self._dead_letter(m, str(exc), dlx)
        if good:
            records = [r for _, rs in good for r in rs]
            result = await self._write_with_retry(records)
            if result is None:
                return
            inserted, erased = result
            duplicates = len(records) - inserted - erased
            self.stats.written += inserted
            self.stats.duplicates += duplicates
            self.stats.erased += erased
            WRITTEN.inc(inserted)
            DUPLICATES.inc(duplicates)
            ERASED_RECORDS.inc(erased)
            for m, _ in good:
                await self._ack(m)
        self.stats.batches += 1

    async def _write_with_retry(self, records: list[TurnRecord]) -> tuple[int, int] | None:
        """(new records, records of erased sessions left out); None when stopping while
        MongoDB is still down (the batch is left unacknowledged: the broker redelivers it
        to the next worker)."""
        delay = 0.05
        while True:
            try:
                return await self.mongo.write_checked(records)
            except StoreUnavailableError as exc:
                if self._stopping.is_set():
                    log.warning("worker: stopping with %d records unwritten: %s", len(records), exc)
                    return None
                RETRIES.inc()
                self.stats.retries += 1
                log.warning("worker: %s; retrying in %.2f s", exc.message, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, dlx: aio_pika.abc.AbstractExchange
    ) -> None:
        POISON.inc()
        self.stats.poison += 1
        log.error("worker: poison message %s dead-lettered: %s", message.message_id, reason)
        headers = dict(message.headers or {})
        headers[ERROR_HEADER] = reason[:500]
        headers["x-ddtflow-failed-at"] = int(time.time())
        try:
            await dlx.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                    content_type=message.content_type,
                ),
                routing_key=self.queue,
            )
        except BROKER_ERRORS as exc:
            # Not acknowledged either: it comes back and is dead-lettered again later.
            log.warning("worker: dead-lettering failed (%s); message left unacked", exc)
            return
        await self._ack(message)

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.ack()
        except BROKER_ERRORS as exc:
            # The channel died: the broker redelivers it and the write is idempotent.
            log.warning("worker: ack failed (%s); it will be redelivered", exc)
