"""``ddtflow serve``: the HTTP/WebSocket API under uvicorn."""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Annotated
from urllib.parse import urlsplit

import typer
from fastapi import FastAPI

_APP: FastAPI | None = None  # the app this process serves (one uvicorn worker)


def make_app() -> FastAPI:
    """The app as ``ddtflow serve`` runs it (uvicorn factory: one per worker process)."""
    from compiler import compile_project_dict
    from runtime.api import ApiSettings, create_app
    from runtime.api.logging import configure_logging

    global _APP
    api = ApiSettings()
    configure_logging(api.log_level, json=api.log_json)
    _APP = create_app(api_settings=api, compile_project=compile_project_dict)
    return _APP


_SCHEMES = {
    "REDIS_URL": {"redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel"},
    "AMQP_URL": {"amqp", "amqps"},
    "MONGO_URL": {"mongodb", "mongodb+srv"},
}


def _check_url(name: str, url: str) -> None:
    """ValueError for a URL its client would refuse — or, for AMQP, retry forever at
    startup: a bad scheme or port."""
    if name == "MONGO_URL" and "://" not in url:
        return  # pymongo takes a bare host[:port] too
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES[name]:
        schemes = ", ".join(f"{s}://" for s in sorted(_SCHEMES[name]))
        got = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(f"{name}: expected {schemes} (got {got})")
    if "," not in parts.netloc:  # sentinel and mongodb seed lists name several hosts
        try:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            raise ValueError(f"{name}: the port is not a number from 0 to 65535") from None


def preflight() -> None:
    """Everything ``ddtflow serve`` can check before it starts: the settings (runtime and
    API), the server URLs, the key file and the preloaded programs. ValueError: one line
    naming the variable (never its value: URLs and keys can hold secrets)."""
    from pydantic import ValidationError

    from runtime.api.app import read_programs
    from runtime.api.auth import KeyRing, KeyRingError
    from runtime.api.config import ApiSettings
    from runtime.settings import Settings

    try:
        api = ApiSettings()
        settings = Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "?"
        if not name.startswith("DDTFLOW_") and name not in _SCHEMES:
            name = f"DDTFLOW_{name}"
        raise ValueError(f"{name}: {err['msg']}") from None
    for name, url in (
        ("REDIS_URL", settings.redis_url),
        ("AMQP_URL", settings.amqp_url),
        ("MONGO_URL", settings.mongo_url),
    ):
        if url:
            _check_url(name, url)
    if settings.mongo_url:
        from runtime.mongo import check_url

        try:  # what the scheme check lets through: "mongodb:/x", a password with an @ …
            check_url(settings.mongo_url)
        except ValueError as exc:
            raise ValueError(f"MONGO_URL: {exc}") from None
    try:
        KeyRing.load(api.api_keys_file, api.api_keys)
    except KeyRingError as exc:
        raise ValueError(str(exc)) from None
    if api.programs_dir is not None:
        try:
            read_programs(api.programs_dir)
        except ValueError as exc:
            raise ValueError(f"DDTFLOW_PROGRAMS_DIR: {exc}") from None


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
        workers: Annotated[
            int, typer.Option(min=1, help="worker processes (one per core in production)")
        ] = 1,
        log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
    ) -> None:
        """Serve the runtime API (sessions, programs, /healthz, /readyz, /metrics).

        Servers come from the environment (REDIS_URL, AMQP_URL, MONGO_URL; none: the
        embedded default), API keys from DDTFLOW_API_KEYS_FILE (none: open dev mode).
        Exits 0 after a graceful stop (SIGTERM, SIGINT), 1 for a bad setting.
        """
        import uvicorn

        from runtime.api.config import ApiSettings
        from runtime.api.logging import configure_logging
        from runtime.api.protocol import CoalescingHttpProtocol

        os.environ.setdefault("DDTFLOW_LOG_LEVEL", log_level)
        try:
            preflight()
        except ValueError as exc:
            typer.echo(f"ddtflow serve: error: {exc}", err=True)
            raise typer.Exit(1) from None
        api = ApiSettings()
        # uvicorn's own lines ("Started server process", "Invalid HTTP request received.")
        # through the same JSON formatter as ours (log_config=None: uvicorn leaves logging
        # alone and its loggers propagate to the root)
        configure_logging(api.log_level, json=api.log_json)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            # uvicorn handles SIGTERM while it serves, then restores this handler and
            # re-raises the signal it caught: after a clean shutdown, this returns and the
            # command exits 0 (as with --workers N, or as PID 1 in a container); before
            # uvicorn took over, or after a failed shutdown, it is the signal's status
            if _APP is None or not getattr(_APP.state, "stopped", False):
                raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_sigterm)
        uvicorn.run(
            "runtime._cli_serve:make_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="auto",  # uvloop when installed
            http=CoalescingHttpProtocol,  # httptools, one write per response
            log_level=log_level,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            ws_max_size=1024 * 1024,
        )
