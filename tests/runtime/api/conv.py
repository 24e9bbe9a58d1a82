"""Run the examples' conversation tests (runtime.convtest's format and loader) through the
HTTP API and through the WebSocket, checking the same things ``ddtflow test`` checks."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from websockets.sync.client import connect

from ddt_engine.expressions import get_path
from runtime.convtest import ConvTest, Turn
from tests.runtime.api.harness import ApiServer


def _matches(expected: str, got: str) -> bool:
    if len(expected) >= 2 and expected.startswith("/") and expected.endswith("/"):
        return re.search(expected[1:-1], got, re.DOTALL) is not None
    return expected == got


def _texts(resp: Mapping[str, Any]) -> list[str]:
    return [a["text"] for a in resp["actions"] if a["type"] == "say"]


def _event(turn: Turn) -> dict[str, Any]:
    if turn.kind == "user":
        return {"event": "user_input", "text": turn.text}
    if turn.kind == "dtmf":
        return {"event": "dtmf", "dtmf": turn.dtmf}
    if turn.kind == "noinput":
        return {"event": "no_input"}
    return {"event": "hangup"}


def _check(
    fails: list[str], turn: Turn, resp: Mapping[str, Any], state: Mapping[str, Any], i: int
) -> None:
    where = f"turn {i + 1} ({turn.describe()}) line {turn.line}"
    texts = _texts(resp)
    if turn.bot is not None and not (
        len(turn.bot) == len(texts)
        and all(_matches(e, g) for e, g in zip(turn.bot, texts, strict=True))
    ):
        fails.append(f"{where}: bot said {texts!r}, expected {list(turn.bot)!r}")
    for var, want in (turn.memory or {}).items():
        got = get_path(state["memory"], tuple(var.split(".")))
        if got != want:
            fails.append(f"{where}: memory {var} = {got!r}, expected {want!r}")
    if turn.status is not None and state["status"] != turn.status:
        fails.append(f"{where}: status {state['status']}, expected {turn.status}")


def run_conversation(
    server: ApiServer,
    http: httpx.Client,
    program: str,
    test: ConvTest,
    *,
    websocket: bool = False,
    headers: Mapping[str, str] | None = None,
) -> list[str]:
    """Failures of ``test`` driven through the API (empty when it passes)."""
    server.controls.reset(test.at, test.backends)
    fails: list[str] = []
    body: dict[str, Any] = {"program": program, "channel": test.channel}
    if test.language:
        body["language"] = test.language
    if test.variables:
        body["variables"] = dict(test.variables)
    r = http.post("/v1/sessions", json=body)
    if r.status_code != 201:
        return [f"start: {r.status_code} {r.text}"]
    resp = r.json()
    sid = resp["session_id"]

    def state() -> dict[str, Any]:
        s = http.get(f"/v1/sessions/{sid}")
        assert s.status_code == 200, s.text
        return dict(s.json()["state"])

    turns = list(test.turns)
    if turns and turns[0].kind == "start":
        _check(fails, turns.pop(0), resp, state(), 0)
    first = len(test.turns) - len(turns)
    ws = None
    stack = contextlib.ExitStack()
    if websocket and turns:
        url = server.url.replace("http://", "ws://") + f"/v1/sessions/{sid}/ws"
        ws = stack.enter_context(connect(url, additional_headers=dict(headers or {})))
        hello = orjson.loads(ws.recv())
        assert hello["type"] == "session" and hello["seq"] == resp["seq"], hello
    with stack:
        for i, turn in enumerate(turns, start=first):
            if turn.at is not None:
                server.controls.now = turn.at
            msg = {**_event(turn), "seq": resp["seq"]}
            if ws is not None:
                ws.send(orjson.dumps(msg).decode())
                reply = orjson.loads(ws.recv())
                if reply["type"] != "turn":
                    fails.append(f"turn {i + 1}: {reply}")
                    break
                resp = reply
            else:
                r = http.post(
                    f"/v1/sessions/{sid}/events",
                    json=msg,
                    headers={"Idempotency-Key": f"{sid}-{i}"},
                )
                if r.status_code != 200:
                    fails.append(f"turn {i + 1} ({turn.describe()}): {r.status_code} {r.text}")
                    break
                resp = r.json()
            _check(fails, turn, resp, state(), i)
    final = state()
    if test.expect_status is not None and final["status"] != test.expect_status:
        fails.append(f"final status {final['status']}, expected {test.expect_status}")
    if test.expect_reason is not None and final["reason"] != test.expect_reason:
        fails.append(f"final reason {final['reason']!r}, expected {test.expect_reason!r}")
    for var, want in (test.expect_memory or {}).items():
        got = get_path(final["memory"], tuple(var.split(".")))
        if got != want:
            fails.append(f"final memory {var} = {got!r}, expected {want!r}")
    return fails
