"""Operator QA: the API's publishes when the RabbitMQ host does not answer at all.

A stopped broker refuses connections at once; a host that went dark (a network partition,
a hung VM) accepts nothing and answers nothing — here a real listening socket that never
speaks AMQP. ``DDTFLOW_CONFIRM_TIMEOUT_S`` is "how long a publish may take, from the wait
for a connection being re-established to the broker's confirm": each turn must get its
retryable error within it, also the turns queued behind another (group commit)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from runtime.ports import StoreUnavailableError
from runtime.sinks.amqp import AmqpSink
from tests.runtime.contract.helpers import counter_session


@pytest.fixture
def dark_host() -> Iterator[str]:
    """An AMQP URL whose host accepts TCP connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        yield f"amqp://guest:guest@127.0.0.1:{port}/"


async def test_a_broker_host_that_does_not_answer_fails_each_turn_within_the_bound(
    dark_host: str,
) -> None:
    # the connect timeout is the library's own and much longer: it must not be what a
    # channel waits for
    sink = AmqpSink(dark_host, queue="qa.dark", confirm_timeout_s=1.0, connect_timeout_s=20.0)
    _, records = counter_session(6, tenant="dark")

    async def turn(i: int) -> BaseException | None:
        try:
            await sink.publish(records[i])
        except StoreUnavailableError as exc:
            return exc
        return None

    try:
        # a bound for the test only (far above the 1 s each turn is allowed)
        errors = await asyncio.wait_for(asyncio.gather(*(turn(i) for i in range(len(records)))), 15)
    finally:
        await sink.close()
    assert all(isinstance(e, StoreUnavailableError) for e in errors), errors
    for e in errors:
        assert isinstance(e, StoreUnavailableError) and e.retryable
        assert "no connection within 1 s" in e.message, e.message
