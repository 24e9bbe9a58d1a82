"""A real uvicorn server on loopback, in a thread, over a runtime built from Settings.

The server's clock and effects are the test's (conversation tests fix the clock and can
the backends, as ``ddtflow test`` does); everything else is the production wiring.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from compiler import compile_project_dict
from runtime.api import ApiSettings, create_app
from runtime.api.auth import KeyRing
from runtime.api.logging import configure_logging
from runtime.api.protocol import CoalescingHttpProtocol
from runtime.effects import Clock, StubEffects, StubResponse
from runtime.settings import Settings
from runtime.wiring import Runtime, build_runtime
from schemas.actions import Action
from schemas.events import BackendResultEvent, ExtractionResultEvent
from tests.servers import free_port


@dataclass
class TestControls:
    """What a test may change while the server runs: the clock and the canned backends."""

    __test__ = False
    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))
    stubs: StubEffects = field(default_factory=StubEffects)

    def clock(self) -> dt.datetime:
        return self.now

    def reset(self, at: dt.datetime, backends: Mapping[str, list[StubResponse]]) -> None:
        self.now = at
        self.stubs = StubEffects(backends)


class SwitchEffects:
    """Effects delegating to the controls' current stubs."""

    def __init__(self, controls: TestControls) -> None:
        self.controls = controls

    async def execute(
        self, action: Action, *, clock: Clock
    ) -> BackendResultEvent | ExtractionResultEvent | None:
        return await self.controls.stubs.execute(action, clock=clock)

    async def aclose(self) -> None:
        return None


class ApiServer:
    """uvicorn in a thread on a free port; ``url`` once started."""

    def __init__(
        self,
        settings: Settings,
        *,
        keys: Mapping[str, Any] | None = None,
        api: ApiSettings | None = None,
    ) -> None:
        # as `ddtflow serve` does: JSON lines, plain tracebacks (structlog's development
        # renderer would pretty-print every frame's locals, DDT machines included)
        configure_logging("info", json=True)
        self.controls = TestControls()
        self.runtime: Runtime | None = None

        self.loop: asyncio.AbstractEventLoop | None = None

        def factory(s: Settings) -> Runtime:
            self.loop = asyncio.get_running_loop()
            self.runtime = build_runtime(
                s, clock=self.controls.clock, effects=SwitchEffects(self.controls)
            )
            return self.runtime

        self.app = create_app(
            settings,
            api or ApiSettings(rate_limit_per_s=0),
            runtime_factory=factory,
            compile_project=compile_project_dict,
            keys=KeyRing.from_document(keys) if keys is not None else KeyRing({}),
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws_max_size=4 * 1024 * 1024,
            http=CoalescingHttpProtocol,  # as ``ddtflow serve``
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("the API server thread died while starting")
            time.sleep(0.02)
        raise RuntimeError("the API server did not start within 20 s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def run_in_server(self, coro: Any) -> Any:
        """Run a coroutine on the server's event loop (e.g. to poke the store)."""
        assert self.loop is not None, "the server is not started"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=20)


def client(server: ApiServer, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def post_at_once(
    posts: list[tuple[httpx.Client, str, Any, Mapping[str, str]]],
) -> list[httpx.Response]:
    """Each ``(client, path, json, headers)`` POSTed at the same time, from a thread and a
    connection of its own (the client's base URL and headers); the answers in the order
    they arrived."""
    answers: list[httpx.Response] = []

    def send(h: httpx.Client, path: str, body: Any, headers: Mapping[str, str]) -> None:
        with httpx.Client(base_url=str(h.base_url), headers=h.headers, timeout=30) as c:
            answers.append(c.post(path, json=body, headers=dict(headers)))

    threads = [threading.Thread(target=send, args=post) for post in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers
