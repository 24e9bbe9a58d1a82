"""Runtime configuration: environment variables only (``REDIS_URL``, ``AMQP_URL``, …).

None of the server URLs set means the embedded default: an in-memory session store and a
JSONL turn log under ``DDTFLOW_DATA_DIR``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, f"DDTFLOW_{name}")


class Settings(BaseSettings):
    """Every knob of the persistence layer; read once per process by ``get_settings()``."""

    model_config = SettingsConfigDict(env_prefix="DDTFLOW_", extra="ignore", frozen=True)

    redis_url: str | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    """redis://, rediss://, unix://, redis+sentinel://host:port[,host:port]/service[/db]."""
    redis_cluster: bool = False
    """Treat REDIS_URL as a Redis Cluster node (keys are hash-tagged per session)."""
    amqp_url: str | None = Field(default=None, validation_alias=_env("AMQP_URL"))
    mongo_url: str | None = Field(default=None, validation_alias=_env("MONGO_URL"))
    mongo_db: str = "ddtflow"
    tenant: str = "default"
    queue: str = "ddtflow.turns"
    queue_type: Literal["classic", "quorum"] = "classic"
    session_ttl_s: int = Field(default=3600, gt=0)
    """Redis TTL of a session, refreshed on every turn."""
    recovery_wait_s: float = Field(default=2.0, ge=0)
    """How long recovery waits for the worker when MongoDB is behind the channel's seq."""
    confirm_timeout_s: float = Field(default=5.0, gt=0)
    """How long a publish waits for the broker's confirm before failing retryably."""
    broker_fallback: Literal["none", "mongo"] = "none"
    """``mongo``: when the broker is unreachable, write turn records to MongoDB directly."""
    retention_days: float = Field(default=30.0, gt=0)
    """How long ended sessions stay in MongoDB (a TTL index)."""
    worker_prefetch: int = Field(default=200, gt=0)
    worker_batch: int = Field(default=100, gt=0)
    data_dir: Path = Path(".ddtflow")
    """Embedded default: where the JSONL turn log lives."""
    backend_hosts: str = ""
    """Comma-separated hosts that backend calls and the SMS gateway may reach
    (``api.example.com``, ``*.example.com``); empty: any host. Set it wherever tenants
    upload programs, so a program cannot make the service call arbitrary addresses."""
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_from: str = "ddtflow@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    sms_url: str | None = None
    """An HTTP gateway: ``POST`` with ``{"to", "text", "sender"}``; 2xx means accepted."""
    sms_sender: str = "ddtflow"

    @property
    def backend_host_patterns(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.backend_hosts.split(",") if h.strip())

    @property
    def embedded(self) -> bool:
        return not (self.redis_url or self.amqp_url or self.mongo_url)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (``get_settings.cache_clear()`` re-reads the environment)."""
    return Settings()
