"""API settings (pydantic-settings, env ``DDTFLOW_*``): keys, limits, logging."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Knobs of the HTTP layer. Server URLs live in ``runtime.settings.Settings``."""

    model_config = SettingsConfigDict(env_prefix="DDTFLOW_", extra="ignore", frozen=True)

    api_keys_file: Path | None = None
    """YAML/JSON ``{tenant: [sha256 hex of a key, …]}`` (or ``{tenant: {admin: […],
    channel: […]}}``)."""
    api_keys: str | None = None
    """The same document inline (JSON), e.g. for a container's environment."""
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    """Request bodies (and WebSocket messages) above this get 413 before being parsed."""
    max_program_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    """Body limit of ``POST /v1/programs`` (compiled programs and projects are larger)."""
    rate_limit_per_s: int = Field(default=1000, ge=0)
    """Requests per second per tenant (0: no limit); shared through Redis when configured."""
    programs_dir: Path | None = None
    """Compiled programs (``*.json``) loaded at startup for ``programs_tenant`` — how
    several processes without MongoDB share programs (uploads reach one process only)."""
    programs_tenant: str = "default"
    fast_turns: bool = True
    """Answer ``POST /v1/sessions`` and ``…/events`` on the lean path (runtime/api/fast.py),
    byte-identical to the FastAPI routes at a fraction of the CPU; off: FastAPI answers."""
    log_level: str = "info"
    log_json: bool = True


@lru_cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
