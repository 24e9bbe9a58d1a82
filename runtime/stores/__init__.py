"""Session stores: where live session state lives (memory, Redis). See ``runtime.ports``."""

from __future__ import annotations

from runtime.ports import SessionStore
from runtime.settings import Settings
from runtime.stores.memory import MemoryStore

__all__ = ["MemoryStore", "open_store"]


def open_store(settings: Settings) -> SessionStore:
    """The store the configuration names: Redis when ``REDIS_URL`` is set, else memory."""
    if settings.redis_url:
        from runtime.stores.redis import RedisStore

        return RedisStore.from_url(
            settings.redis_url, ttl_s=settings.session_ttl_s, cluster=settings.redis_cluster
        )
    return MemoryStore(ttl_s=settings.session_ttl_s)
