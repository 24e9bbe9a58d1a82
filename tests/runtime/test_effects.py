"""The effect executor against real local servers: an HTTP backend, an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from runtime.effects import EffectExecutor, SmsGateway, SmtpSettings, StubEffects, StubResponse
from schemas.actions import CallBackendAction, SayAction, SendEmailAction, SendSmsAction
from tests.servers import http_server

AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def clock() -> datetime:
    return AT


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    bodies: list[Any] = []

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        n = int(self.headers.get("content-length") or 0)
        type(self).bodies.append(json.loads(self.rfile.read(n)) if n else None)
        self._route()

    def _route(self) -> None:
        path = self.path.split("?", 1)[0]
        hits = type(self).hits
        hits[path] = hits.get(path, 0) + 1
        if path == "/ok":
            self._send(
                200, json.dumps({"path": self.path, "auth": self.headers.get("x-key")}).encode()
            )
        elif path == "/slow":
            time.sleep(1.0)
            self._send(200, b"{}")
        elif path == "/garbage":
            self._send(200, b"<html>oops</html>", "text/html")
        elif path == "/fail":
            self._send(500, b'{"error": "boom"}')
        elif path == "/notfound":
            self._send(404, b'{"error": "no such patient"}')
        elif path == "/flaky":
            if hits[path] % 2 == 1:
                self._send(503, b"{}")
            else:
                self._send(200, b'{"ok": true}')
        elif path == "/big":
            self._send(200, json.dumps({"x": "a" * 5000}).encode())
        elif path == "/moved":
            self.send_response(302)
            self.send_header("location", "http://169.254.169.254/latest")
            self.send_header("content-length", "0")
            self.end_headers()
        elif path == "/sms":
            self._send(202, b'{"id": "m1"}')
        else:
            self._send(404, b"{}")


@pytest.fixture()
def http_base() -> Iterator[str]:
    _Handler.hits = {}
    _Handler.bodies = []
    with http_server(_Handler) as url:
        yield url


def call(url: str, **kw: Any) -> CallBackendAction:
    base: dict[str, Any] = {
        "backend": "b",
        "method": "GET",
        "url": url,
        "retries": 0,
        "backoff_ms": 0,
    }
    base.update(kw)
    return CallBackendAction(**base)


async def test_ok_json_and_headers(http_base: str) -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(
            call(f"{http_base}/ok?cf=RSSMRA", headers={"x-key": "k1"}), clock=clock
        )
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert ev.ok and ev.status == 200 and ev.at == AT
    assert ev.body == {"path": "/ok?cf=RSSMRA", "auth": "k1"}


async def test_timeout(http_base: str) -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call(f"{http_base}/slow", timeout_ms=100), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.error) == (False, "timeout")


async def test_garbage_is_invalid_response(http_base: str) -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call(f"{http_base}/garbage", retries=2), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.error, ev.detail) == (False, "invalid_response", "the response is not JSON")
    assert _Handler.hits["/garbage"] == 1  # garbage is not retried


async def test_500_is_retried_then_error(http_base: str) -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call(f"{http_base}/fail", retries=2, backoff_ms=1), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.error, ev.status, ev.detail) == (False, "error", 500, "HTTP 500")
    assert _Handler.hits["/fail"] == 3


async def test_404_is_not_retried(http_base: str) -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call(f"{http_base}/notfound", retries=3), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.status) == (False, 404)
    assert _Handler.hits["/notfound"] == 1


async def test_retry_recovers(http_base: str) -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call(f"{http_base}/flaky", retries=1, backoff_ms=1), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert ev.ok and ev.body == {"ok": True}
    assert _Handler.hits["/flaky"] == 2


async def test_response_size_limit(http_base: str) -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call(f"{http_base}/big", max_response_bytes=1000), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.error) == (False, "invalid_response")
    assert ev.detail == "response larger than 1000 bytes"


async def test_only_http_urls() -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call("file:///etc/passwd"), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.error) == (False, "refused")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_connection_refused_is_error() -> None:
    port = _free_port()
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call(f"http://127.0.0.1:{port}/x"), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.error) == (False, "error")
    assert ev.detail is not None and "ConnectError" in ev.detail


async def test_circuit_breaker_opens_and_half_opens(http_base: str) -> None:
    now = [0.0]
    ex = EffectExecutor(breaker_threshold=2, breaker_cooldown_s=30, monotonic=lambda: now[0])
    try:
        for _ in range(2):
            ev = await ex.execute(call(f"{http_base}/fail"), clock=clock)
            assert ev is not None and ev.type == "backend_result" and ev.error == "error"
        ev = await ex.execute(call(f"{http_base}/fail"), clock=clock)
        assert ev is not None and ev.type == "backend_result"
        assert ev.error == "circuit_open"
        assert _Handler.hits["/fail"] == 2  # the open circuit did not call the server
        now[0] = 31.0  # cooldown over: one trial call goes through and succeeds
        ev = await ex.execute(call(f"{http_base}/ok"), clock=clock)
        assert ev is not None and ev.type == "backend_result" and ev.ok
        ev = await ex.execute(call(f"{http_base}/ok"), clock=clock)
        assert ev is not None and ev.type == "backend_result" and ev.ok
    finally:
        await ex.aclose()


async def test_sms_gateway(http_base: str) -> None:
    ex = EffectExecutor(sms=SmsGateway(url=f"{http_base}/sms", sender="Clinic"))
    try:
        ev = await ex.execute(SendSmsAction(to="+393331234567", text="Promemoria"), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.backend, ev.status) == (True, "sms", 202)
    assert _Handler.bodies == [{"to": "+393331234567", "text": "Promemoria", "sender": "Clinic"}]


async def test_sms_gateway_down() -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(SendSmsAction(to="+39333", text="x"), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.backend, ev.detail) == (False, "sms", "no SMS gateway configured")


class _Smtp:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture(params=[False, True], ids=["accepting", "refusing"])
def smtp_server(request: pytest.FixtureRequest) -> Iterator[tuple[_Smtp, int]]:
    handler = _Smtp(refuse=request.param)
    port = _free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield handler, port
    finally:
        ctl.stop()


async def test_email(smtp_server: tuple[_Smtp, int]) -> None:
    handler, port = smtp_server
    ex = EffectExecutor(smtp=SmtpSettings(port=port, sender="claims@example.org"))
    action = SendEmailAction(to="mario@example.org", subject="Sinistro 123", body="Ricevuto.")
    try:
        ev = await ex.execute(action, clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert ev.backend == "email"
    if handler.refuse:
        assert (ev.ok, ev.error) == (False, "refused")
        assert ev.detail is not None and "550" in ev.detail
        assert handler.messages == []
    else:
        assert ev.ok
        [(sender, rcpts, content)] = handler.messages
        assert sender == "claims@example.org" and rcpts == ["mario@example.org"]
        assert b"Subject: Sinistro 123" in content


async def test_email_bad_address_refused_without_sending() -> None:
    ex = EffectExecutor(smtp=SmtpSettings(port=1))
    try:
        ev = await ex.execute(
            SendEmailAction(to="x\r\nBcc: y@z", subject="s", body="b"), clock=clock
        )
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.error) == (False, "refused")


async def test_not_an_effect() -> None:
    ex = EffectExecutor()
    try:
        assert await ex.execute(SayAction(text="hi"), clock=clock) is None
    finally:
        await ex.aclose()


async def test_stub_effects_sequence() -> None:
    stub = StubEffects(
        {"slots": [StubResponse.parse({"body": [1]}), StubResponse.parse("timeout")]}
    )
    a = call("http://x/y", backend="slots")
    e1 = await stub.execute(a, clock=clock)
    e2 = await stub.execute(a, clock=clock)
    e3 = await stub.execute(a, clock=clock)
    assert e1 is not None and e1.type == "backend_result" and e1.ok and e1.body == [1]
    assert e2 is not None and e2.type == "backend_result" and e2.error == "timeout"
    assert e3 is not None and e3.type == "backend_result" and e3.error == "timeout"
    e4 = await stub.execute(call("http://x", backend="other"), clock=clock)
    assert e4 is not None and e4.type == "backend_result" and e4.error == "error"
    e5 = await stub.execute(SendSmsAction(to="1", text="t"), clock=clock)
    assert e5 is not None and e5.type == "backend_result" and e5.ok
    with pytest.raises(ValueError, match="unknown backend error"):
        StubResponse.parse({"error": "nope"})


async def test_redirects_are_not_followed(http_base: str) -> None:
    ex = EffectExecutor()
    try:
        ev = await ex.execute(call(f"{http_base}/moved", retries=2), clock=clock)
    finally:
        await ex.aclose()
    assert ev is not None and ev.type == "backend_result"
    assert (ev.ok, ev.status, ev.detail) == (False, 302, "HTTP 302 (redirects are not followed)")
    assert _Handler.hits["/moved"] == 1


async def test_backend_hosts_allowlist(http_base: str) -> None:
    """With DDTFLOW_BACKEND_HOSTS set, a call to any other host is refused before it is sent."""
    port = http_base.rsplit(":", 1)[1]
    _Handler.hits = {}
    ex = EffectExecutor(allowed_hosts=("*.example.com", "127.0.0.1"))
    try:
        ok = await ex.execute(call(f"{http_base}/ok"), clock=clock)
        refused = await ex.execute(call(f"http://localhost:{port}/ok"), clock=clock)
    finally:
        await ex.aclose()
    assert ok is not None and ok.type == "backend_result" and ok.ok
    assert refused is not None and refused.type == "backend_result"
    assert (refused.ok, refused.error) == (False, "refused")
    assert refused.detail == "host 'localhost' is not in DDTFLOW_BACKEND_HOSTS"
    assert sum(_Handler.hits.values()) == 1  # the refused call never reached the server


async def test_settings_build_the_effect_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.settings import Settings
    from runtime.wiring import build_effects

    monkeypatch.setenv("DDTFLOW_BACKEND_HOSTS", " API.example.com , *.bank.it ")
    monkeypatch.setenv("DDTFLOW_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("DDTFLOW_SMTP_PORT", "2525")
    monkeypatch.setenv("DDTFLOW_SMS_URL", "https://sms.example.com/send")
    ex = build_effects(Settings())
    await ex.aclose()
    assert ex.allowed_hosts == ("api.example.com", "*.bank.it")
    assert ex.smtp is not None and (ex.smtp.host, ex.smtp.port) == ("mail.example.com", 2525)
    assert ex.sms is not None and ex.sms.url == "https://sms.example.com/send"
