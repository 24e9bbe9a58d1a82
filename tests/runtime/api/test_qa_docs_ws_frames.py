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


def test_the_documented_exchange_happens_as_written(
    embedded: ApiServer, programs: dict[str, dict[str, Any]]
) -> None:
    """docs/api.md's WebSocket exchange, message by message: each → line is sent as
    written (the session's seq put in), each ← line's type, seq, status and error code
    is what comes back."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    section = text[text.index("### WebSocket (chat channels)") :]
    (exchange,) = re.findall(r"^```\n(→ \(connect.*?)^```$", section, flags=re.S | re.M)
    lines = [ln for ln in exchange.splitlines() if ln.startswith(("→ {", "← {"))]
    assert lines and lines[0].startswith("← "), exchange
    with client(embedded) as http:
        pid = upload(http, programs["bank_card_block"])
        start = http.post("/v1/sessions", json={"program": pid, "language": "it"}).json()
    url = embedded.url.replace("http://", "ws://") + f"/v1/sessions/{start['session_id']}/ws"
    with connect(url) as ws:
        for line in lines:
            body = line[2:]
            if line.startswith("→ "):
                ws.send(json.dumps(json.loads(body)))
                continue
            got = json.loads(ws.recv(timeout=10))
            for field in ("type", "status", "awaiting"):
                m = re.search(rf'"{field}": ("[a-z_]+"|\d+)', body)
                if m:
                    assert got[field] == json.loads(m.group(1)), (line, got)
            m = re.search(r'"seq": (\d+)', body)
            if m:
                assert got["seq"] == int(m.group(1)), (line, got)
            m = re.search(r'"code": "([a-z_]+)"', body)
            if m:
                assert got["error"]["code"] == m.group(1), (line, got)
            m = re.search(r'"current_seq": (\d+)', body)
            if m:
                assert got["error"]["details"]["current_seq"] == int(m.group(1)), (line, got)
