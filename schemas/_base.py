"""Shared pydantic base classes and JSON helpers for every schema module."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict


class Value(BaseModel):
    """An immutable value object: unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Record(BaseModel):
    """A mutable-by-copy record (session state): unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_assignment=False)


def canonical_json(data: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8. The basis of ids and digests."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
