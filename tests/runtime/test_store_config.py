"""Configuration: environment variables select the store and the sink, never code."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.settings import Settings, get_settings
from runtime.sinks import JsonlSink, open_sink
from runtime.sinks.amqp import AmqpSink
from runtime.sinks.mongo import MongoSink
from runtime.stores import MemoryStore, open_store
from runtime.stores.redis import RedisStore


def test_nothing_set_means_the_embedded_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("REDIS_URL", "AMQP_URL", "MONGO_URL", "DDTFLOW_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DDTFLOW_DATA_DIR", str(tmp_path))
    s = Settings()
    assert s.embedded and s.session_ttl_s == 3600 and s.queue_type == "classic"
    assert isinstance(open_store(s), MemoryStore)
    sink = open_sink(s)
    assert isinstance(sink, JsonlSink) and sink.path == tmp_path / "turns.jsonl"


async def test_urls_select_redis_rabbitmq_and_mongodb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/")
    monkeypatch.setenv("MONGO_URL", "mongodb://127.0.0.1:1/?retryWrites=false")
    monkeypatch.setenv("DDTFLOW_QUEUE_TYPE", "quorum")
    monkeypatch.setenv("DDTFLOW_SESSION_TTL_S", "60")
    monkeypatch.setenv("DDTFLOW_BROKER_FALLBACK", "mongo")
    get_settings.cache_clear()
    try:
        s = get_settings()
        assert get_settings() is s
        store = open_store(s)
        assert isinstance(store, RedisStore) and store.ttl_ms == 60_000
        sink = open_sink(s)
        assert isinstance(sink, AmqpSink)
        assert (sink.queue_type, sink.fallback) == ("quorum", "mongo")
        assert sink.mongo is not None
        await store.close()
        await sink.close()
    finally:
        get_settings.cache_clear()


async def test_mongo_alone_writes_turns_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMQP_URL", raising=False)
    monkeypatch.setenv("MONGO_URL", "mongodb://127.0.0.1:1/")
    sink = open_sink(Settings())
    assert isinstance(sink, MongoSink)
    await sink.close()


def test_a_bad_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDTFLOW_QUEUE_TYPE", "fast")
    with pytest.raises(ValueError, match="queue_type"):
        Settings()


@pytest.mark.parametrize(
    "url", ["foo://guest:secret@127.0.0.1:5672/", "127.0.0.1:5672", "http://x"]
)
async def test_an_amqp_url_of_another_scheme_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """aio-pika's reconnecting client retried such a URL forever at startup (and ignored
    SIGTERM meanwhile): the sink and the worker refuse it at once, never echoing it."""
    from runtime.mongo import MongoArchive
    from runtime.worker import Worker

    monkeypatch.setenv("AMQP_URL", url)
    monkeypatch.delenv("MONGO_URL", raising=False)
    with pytest.raises(ValueError, match=r"AMQP_URL: expected amqp:// or amqps://") as e:
        open_sink(Settings())
    assert "secret" not in str(e.value)
    archive = MongoArchive.from_url("mongodb://127.0.0.1:1/")
    try:
        with pytest.raises(ValueError, match="AMQP_URL"):
            Worker(url, archive)
    finally:
        await archive.close()
