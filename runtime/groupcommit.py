"""Group commit: one round trip in flight per connection; what comes meanwhile goes out as
one batch when it is over.

A unit sent on its own pays a write, a wake-up of the server and the client library's
per-call machinery. When the load is low each unit goes out at once, exactly as without
this class. As the load rises, the units of concurrent turns gather while a round trip is
in flight and the cost per unit falls. The price is at most one round trip of waiting.
Used for Redis commands (one pipeline) and for turn-log messages (one AMQP message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

SendOne = Callable[[T], Awaitable[R]]
SendMany = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]
"""Sends a batch; one result or exception per unit, in order. An exception it raises
itself is every unit's."""


class GroupCommit(Generic[T, R]):
    """``submit(unit)`` returns that unit's result (or raises its error)."""

    def __init__(
        self, send_one: SendOne[T, R], send_many: SendMany[T, R], max_batch: int = 256
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.send_one = send_one
        self.send_many = send_many
        self.max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._busy = False
        self._task: asyncio.Task[None] | None = None  # the batch in flight
        self.round_trips = 0  # units sent alone and batches sent, since creation
        self.largest_batch = 0

    @property
    def waiting(self) -> int:
        """Units queued behind the round trip in flight."""
        return len(self._queue)

    async def submit(self, unit: T) -> R:
        if self._busy:
            fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            self._queue.append((unit, fut))
            return await fut
        self._busy = True
        self.round_trips += 1
        try:
            return await self.send_one(unit)
        finally:
            self._next()

    def _next(self) -> None:
        """The round trip in flight is over: send what queued meanwhile, or go idle."""
        if not self._queue:
            self._busy = False
            return
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        self.round_trips += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        self._task = asyncio.ensure_future(self._send(batch))

    async def _send(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        results: Sequence[R | BaseException]
        try:
            results = await self.send_many([unit for unit, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except asyncio.CancelledError:  # shutting down: nobody waits forever
            for _, fut in batch:
                fut.cancel()
            raise
        except Exception as exc:  # the round trip failed: every unit of the batch did
            results = [exc] * len(batch)
        finally:
            self._next()
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():  # its caller was cancelled
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)
