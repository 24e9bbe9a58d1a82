"""Fixtures shared by the runtime tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from runtime.mongo import MongoArchive


@pytest.fixture
async def mongo(mongo_url: str) -> AsyncIterator[MongoArchive]:
    """A MongoArchive on a database of its own, dropped afterwards."""
    archive = MongoArchive.from_url(mongo_url, f"t{uuid.uuid4().hex[:12]}")
    try:
        yield archive
    finally:
        await archive.client.drop_database(archive.db.name)
        await archive.close()
