"""Helpers for the runtime tests that use the MongoDB-wire test server."""

from __future__ import annotations

import asyncio

from runtime.mongo import MongoArchive


def drop_mongo_db(url: str, db: str) -> None:
    """Drop database ``db`` (a synchronous fixture's teardown)."""

    async def drop() -> None:
        a = MongoArchive.from_url(url, db)
        await a.client.drop_database(db)
        await a.close()

    asyncio.run(drop())
