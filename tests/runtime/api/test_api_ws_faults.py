"""What a production chat channel does to its WebSocket: the client vanishes mid-turn (a
closed tab, a dropped connection), and two sockets on one session race (two tabs, a reconnect
while the old socket lives). Real server on loopback, real sockets; the only stand-in is the
bank's identity backend, held at a gate so that the fault happens while the turn is running.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect as aconnect
from websockets.sync.client import ClientConnection, connect

from runtime.effects import Clock, StubEffects, StubResponse
from schemas.actions import Action, CallBackendAction
from schemas.events import BackendResultEvent, ExtractionResultEvent
from tests.runtime.api.conftest import KEY_A, auth, upload
from tests.runtime.api.harness import ApiServer, client
from tests.runtime.api.test_api_ws import recv, ws_url

VERIFIED = StubResponse(
    body={
        "match": True,
        "customer": {"first_name": "Mario"},
        "card": {"id": "c-1", "masked": "**** 1234"},
    }
)


class GatedBackends(StubEffects):
    """The canned backends, with ``verify_identity`` held until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__({"verify_identity": [VERIFIED]})
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self.verify_calls = 0

    async def execute(
        self, action: Action, *, clock: Clock
    ) -> BackendResultEvent | ExtractionResultEvent | None:
        if isinstance(action, CallBackendAction) and action.backend == "verify_identity":
            self.verify_calls += 1
            self.entered.release()
            opened = await asyncio.to_thread(self.gate.wait, 30)
            assert opened, "the test never opened the gate"
        return await super().execute(action, clock=clock)

    def wait_entered(self, times: int = 1) -> None:
        for _ in range(times):
            assert self.entered.acquire(timeout=20), "the turn never reached the backend"


@pytest.fixture
def backends(keyed: ApiServer) -> Iterator[GatedBackends]:
    gated = GatedBackends()
    before = keyed.controls.stubs
    keyed.controls.stubs = gated
    try:
        yield gated
    finally:
        gated.gate.set()
        keyed.controls.stubs = before


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The server's log records: ours (root) and uvicorn's (which does not propagate)."""
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        uvicorn_log.removeHandler(caplog.handler)


def assert_no_traceback(log: pytest.LogCaptureFixture) -> None:
    for rec in log.records:
        assert rec.exc_info is None, log.text
        assert rec.levelno < logging.ERROR, log.text
    assert "Traceback" not in log.text, log.text


def drain(server: ApiServer) -> None:
    """Wait until every connection handler the server is running has returned."""

    async def wait() -> None:
        tasks = set(server.server.server_state.tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=20)
        assert not (tasks & server.server.server_state.tasks), "a handler is still running"

    server.run_in_server(wait())


def wait_for_seq(server: ApiServer, sid: str, seq: int) -> dict[str, Any]:
    with client(server, KEY_A) as http:
        deadline = time.monotonic() + 20
        while True:
            state = http.get(f"/v1/sessions/{sid}").json()["state"]
            if state["seq"] >= seq or time.monotonic() > deadline:
                return dict(state)
            time.sleep(0.02)


@pytest.fixture
def at_last4(keyed: ApiServer, programs: dict[str, dict[str, Any]]) -> Any:
    """A new session past the date of birth: seq 2, the next user_input (the card's last
    digits) calls verify_identity."""

    def new() -> str:
        with client(keyed, KEY_A) as http:
            pid = upload(http, programs["bank_card_block"])
            r = http.post("/v1/sessions", json={"program": pid, "language": "en"})
            assert r.status_code == 201, r.text
            sid = str(r.json()["session_id"])
            r = http.post(
                f"/v1/sessions/{sid}/events",
                json={"event": "user_input", "text": "12 March 1980", "seq": 1},
            )
            assert r.status_code == 200 and r.json()["seq"] == 2, r.text
            return sid

    return new


def message(**fields: Any) -> str:
    return orjson.dumps(fields).decode()


async def vanish_mid_turn(url: str, how: str, backends: GatedBackends, event: str) -> None:
    """Send the event, wait until the server is inside the turn, then go away."""
    async with aconnect(url, additional_headers=auth(KEY_A)) as ws:
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["seq"] == 2
        await ws.send(event)
        await asyncio.to_thread(backends.wait_entered)
        if how == "abort":  # a TCP reset, no close frame
            sock = ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            ws.transport.abort()
        else:  # a close frame, the answer never read
            await ws.close()


@pytest.mark.parametrize("how", ["close", "abort"])
def test_a_client_gone_mid_turn_commits_once_and_the_retry_gets_the_answer(
    keyed: ApiServer,
    at_last4: Any,
    backends: GatedBackends,
    server_log: pytest.LogCaptureFixture,
    how: str,
) -> None:
    sid = at_last4()
    event = message(event="user_input", text="1 2 3 4", seq=2, idempotency_key=f"gone-{how}")
    asyncio.run(vanish_mid_turn(ws_url(keyed, sid), how, backends, event))
    backends.gate.set()

    # the turn commits without anyone to read its answer (a user_input that calls a backend
    # advances seq by 2: the input, then the backend's result)
    committed = wait_for_seq(keyed, sid, 3)
    assert committed["seq"] > 2 and committed["memory"]["identity_ok"] is True, committed
    drain(keyed)  # the vanished socket's handler has returned
    with client(keyed, KEY_A) as http:
        turns_before = http.get(f"/v1/sessions/{sid}/turns").json()["turns"]

    with connect(ws_url(keyed, sid), additional_headers=auth(KEY_A)) as ws:
        assert recv(ws)["seq"] == committed["seq"]
        ws.send(event)
        retried = recv(ws)
    assert retried["type"] == "turn" and retried["seq"] == committed["seq"], retried
    assert any("Mario" in str(a) for a in retried["actions"]), retried
    with client(keyed, KEY_A) as http:
        r = http.post(
            f"/v1/sessions/{sid}/events",
            json={"event": "user_input", "text": "1 2 3 4", "seq": 2},
            headers={"Idempotency-Key": f"gone-{how}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["seq"] == retried["seq"] and r.json()["actions"] == retried["actions"]
        state = http.get(f"/v1/sessions/{sid}").json()["state"]
        turns = http.get(f"/v1/sessions/{sid}/turns").json()["turns"]
    assert state["seq"] == committed["seq"], state  # advanced once, not once per retry
    assert turns == turns_before  # the retries recorded nothing
    seqs = [t["seq"] for t in turns]
    assert len(seqs) == len(set(seqs)) and max(seqs) == committed["seq"], seqs
    assert backends.verify_calls == 1  # the retries were answered, not re-run
    drain(keyed)
    assert_no_traceback(server_log)


@pytest.mark.parametrize("with_keys", [True, False], ids=["idempotency-keys", "no-keys"])
def test_two_sockets_racing_on_one_seq_one_turn_one_conflict(
    keyed: ApiServer,
    at_last4: Any,
    backends: GatedBackends,
    server_log: pytest.LogCaptureFixture,
    with_keys: bool,
) -> None:
    sid = at_last4()
    keys: list[dict[str, str]] = (
        [{"idempotency_key": "tab1"}, {"idempotency_key": "tab2"}] if with_keys else [{}, {}]
    )
    url = ws_url(keyed, sid)
    with (
        connect(url, additional_headers=auth(KEY_A)) as tab1,
        connect(url, additional_headers=auth(KEY_A)) as tab2,
    ):
        assert recv(tab1)["seq"] == 2 and recv(tab2)["seq"] == 2
        tab1.send(message(event="user_input", text="1 2 3 4", seq=2, **keys[0]))
        tab2.send(message(event="user_input", text="5 6 7 8", seq=2, **keys[1]))
        backends.wait_entered(1)  # one turn runs on seq 2; the other waits its turn
        backends.gate.set()
        replies = {"tab1": recv(tab1), "tab2": recv(tab2)}
        assert backends.verify_calls == 1, "the losing turn called the backend too"

        winners = [k for k, r in replies.items() if r["type"] == "turn"]
        losers = [k for k, r in replies.items() if r["type"] == "error"]
        assert len(winners) == 1 and len(losers) == 1, replies
        won, lost = replies[winners[0]], replies[losers[0]]
        assert won["seq"] > 2
        assert lost["status"] == 409 and lost["error"]["code"] == "seq_conflict", lost
        assert lost["error"]["details"]["current_seq"] == won["seq"], lost

        # both sockets stay usable: the loser resyncs on the new seq and gets a turn
        loser: ClientConnection = tab1 if losers[0] == "tab1" else tab2
        winner: ClientConnection = tab2 if losers[0] == "tab1" else tab1
        loser.send(message(event="no_input", seq=won["seq"]))
        again = recv(loser)
        assert again["type"] == "turn" and again["seq"] > won["seq"], again
        winner.send(message(event="no_input", seq=won["seq"]))  # the winner is now behind
        behind = recv(winner)
        assert behind["error"]["code"] == "seq_conflict", behind
        assert behind["error"]["details"]["current_seq"] == again["seq"]
        winner.send(message(event="no_input", seq=again["seq"]))
        last = recv(winner)
        assert last["type"] == "turn" and last["seq"] > again["seq"], last

    with client(keyed, KEY_A) as http:
        assert http.get(f"/v1/sessions/{sid}").json()["state"]["seq"] == last["seq"]
    drain(keyed)
    assert_no_traceback(server_log)
