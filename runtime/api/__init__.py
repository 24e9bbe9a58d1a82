"""The HTTP and WebSocket API of the runtime (FastAPI): programs, sessions, health, metrics."""

from __future__ import annotations

from runtime.api.app import create_app
from runtime.api.config import ApiSettings

__all__ = ["ApiSettings", "create_app"]
