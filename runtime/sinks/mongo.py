"""MongoDB turn sink: every request's records written straight to MongoDB (no broker configured)."""

from __future__ import annotations

from runtime.mongo import MongoArchive
from schemas.turns import TurnRecord


class MongoSink:
    """``TurnSink`` writing each record (and its snapshot) to MongoDB before returning."""

    def __init__(self, mongo: MongoArchive) -> None:
        self.mongo = mongo

    async def publish(self, *records: TurnRecord, payload: bytes | None = None) -> None:
        if records:
            await self.mongo.write_batch(list(records))

    async def close(self) -> None:
        await self.mongo.close()
