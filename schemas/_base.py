"""Shared pydantic base classes and JSON helpers for every schema module."""

from __future__ import annotations

import math
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


_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def unstorable(value: Any, limit: int, depth: int = 0, path: str = "") -> tuple[str, str] | None:
    """Why ``value`` cannot be held by a session (its canonical JSON, turn records,
    MongoDB), and where (a JSON pointer below ``path``), or None: a string that is not
    valid Unicode, an integer beyond 64 bits, NaN or Infinity, nesting deeper than
    ``limit``. Used on what comes from outside: API requests, conversation test files."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a string that is not valid Unicode (a lone surrogate escape)", path
        return None
    if isinstance(value, int):
        ok = _INT_MIN <= value <= _INT_MAX
        return None if ok else ("an integer outside the signed 64-bit range", path)
    if isinstance(value, float):
        return None if math.isfinite(value) else ("NaN or Infinity (not JSON numbers)", path)
    if isinstance(value, list | tuple | dict):
        if depth >= limit:
            return f"lists and objects nested more than {limit} deep", path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            where = f"{path}/{k}"
            why = unstorable(k, limit, depth, where) if isinstance(k, str) else None
            why = why or unstorable(v, limit, depth + 1, where)
            if why:
                return why
        return None
    return f"a {type(value).__name__}", path
