"""Tenants and API keys: keys are stored as sha256 hex digests, never in clear.

The key file (``DDTFLOW_API_KEYS_FILE``, YAML or JSON) or ``DDTFLOW_API_KEYS`` (JSON) maps a
tenant to its keys' digests, either a list (full rights) or ``{admin: […], channel: […],
erase: […]}`` (channel keys drive sessions but may not upload programs, move aliases or
erase sessions: 403; erase keys drive sessions and erase them, e.g. a channel that relays
a caller's erasure request; admin keys may do everything). With no
keys configured the API runs in an explicit open dev mode: every request is tenant
``default``, and the log says so at startup.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml

from runtime.api.errors import ApiError

__all__ = ["ROLES", "Identity", "KeyRing", "KeyRingError", "hash_key"]

Role = Literal["admin", "channel", "erase"]
ROLES: tuple[Role, ...] = ("admin", "channel", "erase")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEV_TENANT = "default"


class KeyRingError(Exception):
    """The key file or document is unreadable or malformed (the server refuses to start)."""


def hash_key(key: str) -> str:
    """The sha256 hex digest stored for an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Identity:
    tenant: str
    role: Role

    @property
    def may_erase(self) -> bool:
        """Whether the key may erase its tenant's sessions (admin and erase keys)."""
        return self.role in ("admin", "erase")


class KeyRing:
    """Digest → (tenant, role). ``open_mode`` when empty."""

    def __init__(self, keys: Mapping[str, Identity]) -> None:
        self._keys = dict(keys)

    @property
    def open_mode(self) -> bool:
        return not self._keys

    @property
    def tenants(self) -> set[str]:
        return {i.tenant for i in self._keys.values()}

    @classmethod
    def from_document(cls, doc: Any, *, where: str = "API keys") -> KeyRing:
        if doc is None:
            return cls({})
        if not isinstance(doc, Mapping):
            raise KeyRingError(f"{where}: expected a mapping {{tenant: [sha256 hex, …]}}")
        keys: dict[str, Identity] = {}
        for tenant, entry in doc.items():
            if not isinstance(tenant, str) or not _TENANT.match(tenant):
                raise KeyRingError(f"{where}: bad tenant name {tenant!r} (letters, digits, _.-)")
            roles: dict[Role, Any]
            if isinstance(entry, list):
                roles = {"admin": entry}
            elif isinstance(entry, Mapping) and set(entry) <= set(ROLES):
                roles = {r: entry.get(r) or [] for r in ROLES}
            else:
                raise KeyRingError(
                    f"{where}: tenant {tenant!r}: a list of sha256 digests or "
                    f"{{admin: […], channel: […], erase: […]}}"
                )
            for role, digests in roles.items():
                if not isinstance(digests, list):
                    raise KeyRingError(f"{where}: tenant {tenant!r}: {role} is a list")
                for n, d in enumerate(digests, 1):
                    if not isinstance(d, str) or not _HEX.match(d.lower()):
                        # never any of its characters: it may be a key written in clear
                        what = f"{len(d)} characters" if isinstance(d, str) else type(d).__name__
                        raise KeyRingError(
                            f"{where}: tenant {tenant!r}: {role} entry {n} is not a sha256 "
                            f"hex digest ({what}; store hashes, never keys)"
                        )
                    if d.lower() in keys:
                        raise KeyRingError(f"{where}: a key digest is listed twice")
                    keys[d.lower()] = Identity(tenant, role)
        return cls(keys)

    @classmethod
    def load(cls, file: Path | None, inline: str | None) -> KeyRing:
        """From the file, else the inline JSON, else open mode."""
        if file is not None:
            where = f"DDTFLOW_API_KEYS_FILE ({file})"
            try:
                raw = file.read_bytes()
            except OSError as e:
                raise KeyRingError(f"{where}: cannot read the API key file: {e.strerror}") from e
            try:
                doc = yaml.safe_load(raw)
            except yaml.YAMLError as e:
                raise KeyRingError(f"{where}: not YAML/JSON{_yaml_place(e)}") from e
            return cls.from_document(doc, where=where)
        if inline:
            try:
                doc = orjson.loads(inline)
            except orjson.JSONDecodeError as e:
                raise KeyRingError(f"DDTFLOW_API_KEYS: not JSON: {e}") from e
            return cls.from_document(doc, where="DDTFLOW_API_KEYS")
        return cls({})

    def identify(self, key: str | None) -> Identity:
        """The identity of ``key``; ApiError 401 when missing or unknown."""
        if self.open_mode:
            return Identity(DEV_TENANT, "admin")
        if not key:
            raise ApiError(
                401,
                "unauthorized",
                "an API key is required (header 'Authorization: Bearer <key>' or 'X-API-Key')",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = hash_key(key)
        ident = self._keys.get(digest)
        # a lookup by digest: the key itself is never compared or stored
        if ident is None:
            raise ApiError(
                401, "unauthorized", "unknown API key", headers={"WWW-Authenticate": "Bearer"}
            )
        return ident


def _yaml_place(error: yaml.YAMLError) -> str:
    """Where a YAML error is and what it is, on one line — never the quoted line, which
    holds a key or a digest."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is None:
        return ""
    return f" (line {mark.line + 1}, column {mark.column + 1}: {problem or 'syntax error'})"


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None
