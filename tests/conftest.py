"""Root fixtures: the real servers (Redis, RabbitMQ, MongoDB-wire), started lazily.

A server starts the first time a test asks for its URL and stays up for the session, so
the fast unit tests never pay for it. A missing binary fails loudly under ``CI=true`` and
skips (with the reason) locally.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import ServerError, ServerMissingError, Servers, in_ci  # noqa: E402

T = TypeVar("T")


def _need(start: Callable[[], T]) -> T:
    try:
        return start()
    except ServerMissingError as exc:
        if in_ci():
            pytest.fail(f"CI=true and a test server is missing: {exc}", pytrace=False)
        pytest.skip(f"test server not available: {exc}")
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """The session's set of servers; each starts on first use and stops at the end."""
    s = Servers()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def redis_url(servers: Servers) -> str:
    return _need(servers.redis).url


@pytest.fixture(scope="session")
def amqp_url(servers: Servers) -> str:
    return _need(servers.rabbitmq).url


@pytest.fixture(scope="session")
def mongo_url(servers: Servers) -> str:
    return _need(servers.mongo).url


SERVER_FIXTURES = frozenset({"servers", "redis_url", "amqp_url", "mongo_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real server, so ``-m 'not servers'`` runs the fast rest."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)
