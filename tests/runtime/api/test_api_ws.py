"""The WebSocket's own edges: errors as JSON messages on an open socket, and every close
with a code and a reason."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.runtime.api.conftest import KEY_A, KEY_B, auth, upload
from tests.runtime.api.harness import ApiServer, client


def ws_url(server: ApiServer, sid: str) -> str:
    return server.url.replace("http://", "ws://") + f"/v1/sessions/{sid}/ws"


def recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(orjson.loads(ws.recv(timeout=10)))


def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=10)
    rcvd = info.value.rcvd
    assert rcvd is not None, "closed without a close frame"
    return rcvd.code, rcvd.reason


@pytest.fixture(scope="module")
def session(keyed: ApiServer, programs: dict[str, dict[str, Any]]) -> Any:
    with client(keyed, KEY_A) as http:
        pid = upload(http, programs["bank_card_block"])

        def new() -> dict[str, Any]:
            r = http.post("/v1/sessions", json={"program": pid, "language": "en"})
            assert r.status_code == 201
            return dict(r.json())

        yield new


def test_errors_are_messages_and_the_socket_stays_open(keyed: ApiServer, session: Any) -> None:
    sid = session()["session_id"]
    with connect(ws_url(keyed, sid), additional_headers=auth(KEY_A)) as ws:
        assert recv(ws)["seq"] == 1
        ws.send("{not json")
        assert recv(ws)["error"]["code"] == "malformed_json"
        ws.send(orjson.dumps({"event": "user_input", "text": 3, "seq": 1}).decode())
        assert recv(ws)["error"]["code"] == "validation_error"
        ws.send(orjson.dumps({"event": "user_input", "text": "x" * 5000, "seq": 1}).decode())
        assert recv(ws)["error"]["code"] == "text_too_long"
        ws.send(orjson.dumps({"event": "no_input", "seq": 7}).decode())
        err = recv(ws)
        assert err["status"] == 409 and err["error"]["details"]["current_seq"] == 1
        ws.send(orjson.dumps({"event": "no_input", "seq": 1, "idempotency_key": "n1"}).decode())
        first = recv(ws)
        assert first["type"] == "turn" and first["seq"] == 2
        ws.send(orjson.dumps({"event": "no_input", "seq": 1, "idempotency_key": "n1"}).decode())
        assert recv(ws) == first
        ws.send(orjson.dumps({"event": "hangup", "seq": 2}).decode())
        last = recv(ws)
        assert last["type"] == "turn" and last["status"] != "waiting_input"
        code, reason = closed_with(ws)
        assert code == 1000 and reason and reason.startswith("session")


def test_missing_key_closes_1008(keyed: ApiServer, session: Any) -> None:
    sid = session()["session_id"]
    with connect(ws_url(keyed, sid)) as ws:
        assert recv(ws)["error"]["code"] == "unauthorized"
        assert closed_with(ws)[0] == 1008


def test_another_tenants_session_closes_4404(keyed: ApiServer, session: Any) -> None:
    sid = session()["session_id"]
    with connect(ws_url(keyed, sid), additional_headers=auth(KEY_B)) as ws:
        assert recv(ws)["error"]["code"] == "session_not_found"
        code, reason = closed_with(ws)
        assert code == 4404 and reason


def test_oversized_message_closes_1009(keyed: ApiServer, session: Any) -> None:
    sid = session()["session_id"]
    with connect(ws_url(keyed, sid), additional_headers=auth(KEY_A), max_size=None) as ws:
        recv(ws)
        ws.send("x" * (65 * 1024))
        assert recv(ws)["error"]["code"] == "body_too_large"
        assert closed_with(ws)[0] == 1009


def test_a_finished_session_closes_at_once(keyed: ApiServer, session: Any) -> None:
    s = session()
    with client(keyed, KEY_A) as http:
        r = http.post(f"/v1/sessions/{s['session_id']}/events", json={"event": "hangup", "seq": 1})
        assert r.status_code == 200
    with connect(ws_url(keyed, s["session_id"]), additional_headers=auth(KEY_A)) as ws:
        hello = recv(ws)
        assert hello["type"] == "session" and hello["status"] != "waiting_input"
        assert closed_with(ws)[0] == 1000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"event": st.sampled_from(["user_input", "dtmf", "no_input", "shout"])},
        optional={
            "seq": st.one_of(st.integers(-2, 5), st.text(max_size=3)),
            "text": st.one_of(st.text(max_size=30), st.integers()),
            "dtmf": st.text(alphabet="0123456789*#xA", max_size=5),
            "idempotency_key": st.one_of(st.text(max_size=5), st.integers()),
            "nbest": json_values,
        },
    ),
)


def test_any_json_message_gets_a_turn_or_an_error(keyed: ApiServer, session: Any) -> None:
    """Whatever a chat client sends, the reply is a turn or a JSON error (never a 500, never
    a dropped socket); a session that ends closes with 1000 and the next one is opened."""
    with contextlib.ExitStack() as stack:

        def open_one() -> ClientConnection:
            ws = stack.enter_context(
                connect(ws_url(keyed, session()["session_id"]), additional_headers=auth(KEY_A))
            )
            recv(ws)
            return ws

        current = [open_one()]

        @given(message=messages)
        @settings(max_examples=150, deadline=None, derandomize=True, database=None)
        def check(message: Any) -> None:
            ws = current[0]
            ws.send(json.dumps(message))
            reply = recv(ws)
            if reply["type"] == "error":
                assert reply["status"] in (400, 409, 413, 422), reply
                assert set(reply["error"]) == {"code", "message", "details"}
                return
            assert reply["type"] == "turn", reply
            if reply["status"] != "waiting_input":
                assert closed_with(ws)[0] == 1000
                current[0] = open_one()

        check()
