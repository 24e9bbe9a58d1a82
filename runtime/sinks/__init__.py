"""Turn sinks: where turn records go (a JSONL log; RabbitMQ → worker → MongoDB)."""

from __future__ import annotations

from runtime.ports import TurnSink
from runtime.settings import Settings
from runtime.sinks.jsonl import JsonlSink, TurnLogError, read_turns

__all__ = ["JsonlSink", "TurnLogError", "open_sink", "read_turns"]


def open_sink(settings: Settings) -> TurnSink:
    """The sink the configuration names: RabbitMQ (+ MongoDB) when ``AMQP_URL`` is set,
    MongoDB directly when only ``MONGO_URL`` is, else the JSONL log in ``DDTFLOW_DATA_DIR``."""
    mongo = None
    if settings.mongo_url:
        from runtime.mongo import MongoArchive

        mongo = MongoArchive.from_url(
            settings.mongo_url, settings.mongo_db, retention_days=settings.retention_days
        )
    if settings.amqp_url:
        from runtime.sinks.amqp import AmqpSink

        return AmqpSink(
            settings.amqp_url,
            queue=settings.queue,
            queue_type=settings.queue_type,
            confirm_timeout_s=settings.confirm_timeout_s,
            mongo=mongo,
            fallback=settings.broker_fallback,
            close_mongo=True,
        )
    if mongo is not None:
        from runtime.sinks.mongo import MongoSink

        return MongoSink(mongo)
    return JsonlSink(settings.data_dir / "turns.jsonl")
