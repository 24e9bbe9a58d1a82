"""The driver with the real effect executor against local servers: a backend that answers
garbage or times out, an SMTP server that refuses — the session takes its declared route."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from runtime.driver import SessionDriver
from runtime.effects import EffectExecutor, SmtpSettings
from runtime.programs import ProgramRegistry
from runtime.sinks.jsonl import JsonlSink, read_turns
from runtime.stores.memory import MemoryStore
from runtime.tasks import TaskRegistry
from schemas.ddt import DdtStep
from schemas.events import Event
from schemas.expressions import ExprPart, Template, TextPart, Var
from schemas.program import (
    CallBackendTask,
    CompiledBackend,
    EndTask,
    Program,
    SendEmailTask,
    SourceLoc,
)
from schemas.prompts import Prompt
from schemas.session import DdtState
from tests.servers import http_server

AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


class NoDdts:
    def begin(self, ddt: str, **kw: Any) -> DdtStep:
        raise AssertionError("no DDT here")

    def handle(self, state: DdtState, event: Event, **kw: Any) -> DdtStep:
        raise AssertionError("no DDT here")


class _Backend(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        body = b"<html>not json</html>" if self.path.startswith("/garbage") else b'{"name": "Anna"}'
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def base_url() -> Iterator[str]:
    with http_server(_Backend) as url:
        yield url


def _t(*parts: str | tuple[str, ...]) -> Template:
    return Template(
        parts=tuple(
            TextPart(text=p) if isinstance(p, str) else ExprPart(expr=Var(path=p)) for p in parts
        )
    )


def program(url: str) -> Program:
    return Program(
        project="fx",
        languages=("it",),
        default_language="it",
        tasks=(
            CallBackendTask(backend="b", result={"name": "name"}, on_error=3, on_timeout=4),
            SendEmailTask(to=0, subject="subj", body="body", on_error=5),
            EndTask(reason="done"),
            EndTask(reason="backend_error"),
            EndTask(reason="backend_timeout"),
            EndTask(reason="email_refused"),
        ),
        exprs=(Var(path=("email",)),),
        prompts={
            "subj": {"it": Prompt(text=_t("Ciao ", ("name",)))},
            "body": {"it": Prompt(text=_t("Corpo"))},
        },
        backends={"b": CompiledBackend(url=_t(url), timeout_ms=200, retries=1, backoff_ms=1)},
        variables={},
        source_map=tuple(SourceLoc(file="t.yaml", line=i + 1) for i in range(6)),
    ).with_id()


class _Smtp:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.count = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 accepted"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(params=[False, True], ids=["smtp-accepts", "smtp-refuses"])
def smtp(request: pytest.FixtureRequest) -> Iterator[tuple[_Smtp, int]]:
    handler = _Smtp(request.param)
    port = _port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield handler, port
    finally:
        ctl.stop()


@pytest.fixture()
async def run_driver(tmp_path: Path) -> AsyncIterator[Any]:
    drivers: list[SessionDriver] = []

    async def run(p: Program, smtp_port: int = 1) -> tuple[str, list[str]]:
        reg = ProgramRegistry(engine_factory=lambda d: NoDdts(), plugins=TaskRegistry())
        reg.add(p)
        log = tmp_path / f"{len(drivers)}.jsonl"
        d = SessionDriver(
            MemoryStore(),
            JsonlSink(log),
            reg,
            EffectExecutor(smtp=SmtpSettings(port=smtp_port, timeout_s=5)),
            clock=lambda: AT,
        )
        drivers.append(d)
        resp = await d.start("t", p.id, variables={"email": "anna@example.org"})
        await d.sink.close()
        return resp.reason or "", [r.event.type for r in read_turns(log)]

    yield run
    for d in drivers:
        await d.aclose()


async def test_garbage_takes_on_error(base_url: str, run_driver: Any) -> None:
    assert await run_driver(program(f"{base_url}/garbage")) == (
        "backend_error",
        ["start", "backend_result"],
    )


async def test_timeout_takes_on_timeout(base_url: str, run_driver: Any) -> None:
    reason, _ = await run_driver(program(f"{base_url}/slow"))
    assert reason == "backend_timeout"


async def test_email_accepted_or_refused(
    base_url: str, smtp: tuple[_Smtp, int], run_driver: Any
) -> None:
    handler, port = smtp
    reason, events = await run_driver(program(f"{base_url}/ok"), port)
    assert events == ["start", "backend_result", "backend_result"]
    if handler.refuse:
        assert (reason, handler.count) == ("email_refused", 0)
    else:
        assert (reason, handler.count) == ("done", 1)
