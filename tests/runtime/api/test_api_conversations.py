"""Every example's conversation tests, through HTTP and through the WebSocket, on the
embedded default and on Redis + RabbitMQ + the MongoDB-wire server."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.convtest import ConvTest
from tests.runtime.api.conftest import CASES, KEY_A, auth, case_id, upload
from tests.runtime.api.conv import run_conversation
from tests.runtime.api.harness import ApiServer, client


@pytest.mark.parametrize("transport", ["http", "ws"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_conversation_embedded(
    embedded: ApiServer,
    programs: dict[str, dict[str, Any]],
    case: tuple[str, ConvTest],
    transport: str,
) -> None:
    example, test = case
    with client(embedded) as http:
        pid = upload(http, programs[example])
        fails = run_conversation(embedded, http, pid, test, websocket=transport == "ws")
    assert not fails, "\n".join(fails)


@pytest.mark.servers
@pytest.mark.parametrize("transport", ["http", "ws"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_conversation_with_servers(
    with_servers: ApiServer,
    programs: dict[str, dict[str, Any]],
    case: tuple[str, ConvTest],
    transport: str,
) -> None:
    example, test = case
    with client(with_servers, KEY_A) as http:
        pid = upload(http, programs[example])
        fails = run_conversation(
            with_servers, http, pid, test, websocket=transport == "ws", headers=auth(KEY_A)
        )
    assert not fails, "\n".join(fails)


def test_there_are_conversation_tests() -> None:
    assert len({example for example, _ in CASES}) >= 2
    assert len(CASES) >= 10
