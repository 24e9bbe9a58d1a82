"""The WebSocket's messages are JSON *text* frames, as a browser chat widget reads them.

docs/api.md, "WebSocket (chat channels)": "Messages are JSON objects". The server sent
every message — ``session``, ``turn``, ``error`` — as a binary frame: in a browser
``event.data`` is then a Blob, and the widget's ``JSON.parse(event.data)`` fails on
``[object Blob]``. A JSON message belongs in a text frame (RFC 6455 §5.6: UTF-8 text).
"""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import connect

from tests.runtime.api.conftest import upload
from tests.runtime.api.harness import ApiServer, client


def test_every_message_is_a_text_frame(
    embedded: ApiServer, programs: dict[str, dict[str, Any]]
) -> None:
    with client(embedded) as http:
        pid = upload(http, programs["bank_card_block"])
        start = http.post("/v1/sessions", json={"program": pid, "language": "it"}).json()
    url = embedded.url.replace("http://", "ws://") + f"/v1/sessions/{start['session_id']}/ws"
    got: list[str | bytes] = []
    with connect(url) as ws:
        got.append(ws.recv(timeout=10))  # session
        ws.send(json.dumps({"event": "user_input", "text": "ciao", "seq": 1}))
        got.append(ws.recv(timeout=10))  # turn
        ws.send(json.dumps({"event": "user_input", "text": "ciao", "seq": 1}))
        got.append(ws.recv(timeout=10))  # error: seq_conflict
        ws.send("not json")
        got.append(ws.recv(timeout=10))  # error: malformed_json
    kinds = [json.loads(m)["type"] for m in got]
    assert kinds == ["session", "turn", "error", "error"], kinds
    assert [type(m).__name__ for m in got] == ["str"] * 4, [m[:60] for m in got]
