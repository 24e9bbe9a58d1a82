"""Root fixtures: the real servers (Redis, RabbitMQ, MongoDB-wire), started lazily.

A server starts the first time a test asks for its URL and stays up for the session, so
the fast unit tests never pay for it. A missing binary fails loudly under ``CI=true`` and
skips (with the reason) locally.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import Servers, need  # noqa: E402


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
    return need(servers.redis).url


@pytest.fixture(scope="session")
def amqp_url(servers: Servers) -> str:
    return need(servers.rabbitmq).url


@pytest.fixture(scope="session")
def mongo_url(servers: Servers) -> str:
    return need(servers.mongo).url


SERVER_FIXTURES = frozenset({"servers", "redis_url", "amqp_url", "mongo_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real server, so ``-m 'not servers'`` runs the fast rest."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(scope="session", autouse=True)
def _private_data_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The embedded default writes under ``.ddtflow/`` of the working directory (turn log,
    program store): point both at a temporary directory so tests never touch the tree."""
    root = tmp_path_factory.mktemp("ddtflow-data")
    keys = ("DDTFLOW_DATA_DIR", "DDTFLOW_PROGRAM_STORE")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["DDTFLOW_DATA_DIR"] = str(root / "data")
    os.environ["DDTFLOW_PROGRAM_STORE"] = str(root / "programs")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
