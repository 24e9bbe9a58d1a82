"""``ddtflow serve``: the HTTP/WebSocket API under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from fastapi import FastAPI


def make_app() -> FastAPI:
    """The app as ``ddtflow serve`` runs it (uvicorn factory: one per worker process)."""
    from compiler import compile_project_dict
    from runtime.api import ApiSettings, create_app
    from runtime.api.logging import configure_logging

    api = ApiSettings()
    configure_logging(api.log_level, json=api.log_json)
    return create_app(api_settings=api, compile_project=compile_project_dict)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        workers: Annotated[
            int, typer.Option(min=1, help="worker processes (one per core in production)")
        ] = 1,
        log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
    ) -> None:
        """Serve the runtime API (sessions, programs, /healthz, /readyz, /metrics).

        Servers come from the environment (REDIS_URL, AMQP_URL, MONGO_URL; none: the
        embedded default), API keys from DDTFLOW_API_KEYS_FILE (none: open dev mode).
        """
        import uvicorn

        from runtime.api.auth import KeyRing, KeyRingError
        from runtime.api.config import ApiSettings
        from runtime.api.protocol import CoalescingHttpProtocol

        os.environ.setdefault("DDTFLOW_LOG_LEVEL", log_level)
        try:
            api = ApiSettings()
            KeyRing.load(api.api_keys_file, api.api_keys)
        except (KeyRingError, ValueError) as exc:
            typer.echo(f"ddtflow serve: error: {exc}", err=True)
            raise typer.Exit(1) from None
        uvicorn.run(
            "runtime._cli_serve:make_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="auto",  # uvloop when installed
            http=CoalescingHttpProtocol,  # httptools, one write per response
            log_level=log_level,
            access_log=False,
            proxy_headers=True,
            ws_max_size=1024 * 1024,
        )
