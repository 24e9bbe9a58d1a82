"""``ddtflow erase``: erase sessions on request (GDPR art. 17) from Redis, MongoDB and a
JSONL log, printing what was removed where (runtime/erasure.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from runtime.erasure import (
    ErasableStore,
    ErasureIncompleteError,
    ErasureReport,
    FileTombstones,
    LogEraser,
    LogFile,
    Tombstones,
    erase_session,
    tombstone_file_for,
)
from runtime.ports import RuntimeFault, SessionNotFoundError

_SESSION_ID = r"^[A-Za-z0-9._:-]{1,128}$"


class _Fail(Exception):
    """A usage or configuration error: one line, exit 1."""


class _Both:
    """Tombstones kept in MongoDB and next to the log (``--mongo`` with ``--log``)."""

    def __init__(self, first: Tombstones, second: Tombstones) -> None:
        self.first, self.second = first, second
        self.where = f"{first.where} and {second.where}"

    async def get(self, tenant: str, session_id: str) -> datetime | None:
        return await self.first.get(tenant, session_id) or await self.second.get(tenant, session_id)

    async def put(self, tenant: str, session_id: str, at: datetime) -> tuple[datetime, bool]:
        got = await self.first.put(tenant, session_id, at)
        await self.second.put(tenant, session_id, got[0])
        return got


def _report_text(r: ErasureReport) -> list[str]:
    when = r.erased_at.isoformat()
    state = f"already erased at {when}" if r.already_erased else f"erased at {when}"
    lines = [f"session {r.session_id} (tenant {r.tenant}): {state}; tombstone in {r.tombstone}"]
    for x in r.removed:
        where = x.where if x.where.startswith(x.store) else f"{x.store} {x.where}"
        lines.append(f"  {x.what:<11} {x.count:>6} removed  ({where})")
    lines.append(f"  {'total':<11} {sum(x.count for x in r.removed):>6} removed")
    return lines


def _report_json(r: ErasureReport) -> dict[str, Any]:
    doc = r.to_json()
    doc["tombstone"] = r.tombstone
    doc["removed"] = [{**x.to_json(), "where": x.where} for x in r.removed]
    return doc


async def _erase_all(
    ids: list[str],
    tenant: str,
    *,
    redis_url: str | None,
    mongo_url: str | None,
    mongo_db: str,
    log_file: Path | None,
    ttl_s: float,
    as_json: bool,
) -> int:
    from runtime.mongo import MongoArchive, MongoTombstones, MongoUrlError
    from runtime.stores.redis import RedisStore

    store: RedisStore | None = None
    archive: MongoArchive | None = None
    try:
        if redis_url:
            try:
                store = RedisStore.from_url(redis_url, ttl_s=ttl_s)
            except Exception as exc:  # noqa: BLE001 - a bad URL, named without its value
                raise _Fail(f"--redis: not a usable Redis URL ({type(exc).__name__})") from None
        if mongo_url:
            try:
                archive = MongoArchive.from_url(mongo_url, mongo_db)
            except MongoUrlError as exc:  # one line, without the URL's password
                raise _Fail(f"--mongo: {exc.message}") from None
            except Exception as exc:  # noqa: BLE001
                raise _Fail(f"--mongo: not a usable MongoDB URL ({type(exc).__name__})") from None
        tombstones: Tombstones
        file_tombs = FileTombstones(tombstone_file_for(log_file)) if log_file else None
        if archive is not None:
            tombstones = MongoTombstones(archive)
            if file_tombs is not None:
                tombstones = _Both(tombstones, file_tombs)
        elif file_tombs is not None:
            tombstones = file_tombs
        else:
            raise _Fail(
                "erase needs the archive, where its tombstone is kept: --mongo URL (or "
                "MONGO_URL), or --log FILE for the embedded default's log"
            )
        turn_log: LogEraser | None = LogFile(log_file) if log_file else None
        erasable: ErasableStore | None = store
        places = ", ".join(
            p
            for p in (
                store.where if store else "",
                archive.where if archive else "",
                str(log_file) if log_file else "",
            )
            if p
        )
        reports: list[dict[str, Any]] = []
        code = 0
        for sid in dict.fromkeys(ids):
            try:
                r = await erase_session(
                    tenant,
                    sid,
                    tombstones=tombstones,
                    store=erasable,
                    archive=archive,
                    turn_log=turn_log,
                )
            except ErasureIncompleteError as exc:
                # a server went away: stop here, the rest is not attempted
                typer.echo(f"error: {exc.message}", err=True)
                reports.append({"session_id": sid, "error": exc.message, "complete": False})
                left = [
                    i for i in dict.fromkeys(ids) if i not in {x["session_id"] for x in reports}
                ]
                if left:
                    typer.echo(f"not attempted: {', '.join(left)}", err=True)
                code = 1
                break
            except SessionNotFoundError:
                msg = f"no session {sid!r} for tenant {tenant!r} in {places}"
                typer.echo(f"error: {msg}", err=True)
                reports.append({"session_id": sid, "error": msg, "complete": True})
                code = 1
                continue
            reports.append(_report_json(r))
            if not as_json:
                for line in _report_text(r):
                    typer.echo(line)
        if as_json:
            typer.echo(orjson.dumps({"tenant": tenant, "sessions": reports}).decode())
        return code
    finally:
        if store is not None:
            await store.close()
        if archive is not None:
            await archive.close()


def register(app: typer.Typer) -> None:
    @app.command("erase")
    def erase(
        session_ids: Annotated[list[str], typer.Argument(help="the sessions to erase")],
        tenant: Annotated[str, typer.Option(help="the sessions' tenant")],
        redis: Annotated[
            str | None, typer.Option(help="Redis URL of the live sessions (default: $REDIS_URL)")
        ] = None,
        mongo: Annotated[
            str | None, typer.Option(help="MongoDB URL of the archive (default: $MONGO_URL)")
        ] = None,
        mongo_db: Annotated[
            str | None, typer.Option(help="MongoDB database (default: $DDTFLOW_MONGO_DB)")
        ] = None,
        log: Annotated[
            Path | None,
            typer.Option(
                help="a JSONL turn log to rewrite without the sessions (atomically; no "
                "running process may be writing it)"
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="one JSON document on stdout")
        ] = False,
    ) -> None:
        """Erase sessions everywhere they are held (GDPR art. 17) and print what was removed
        where. With none of --redis/--mongo/--log, REDIS_URL and MONGO_URL are used."""
        import re

        from runtime.settings import Settings

        try:
            s = Settings()
        except ValueError:
            typer.echo("error: bad configuration in the environment (DDTFLOW_*)", err=True)
            raise typer.Exit(1) from None
        bad = [i for i in session_ids if not re.match(_SESSION_ID, i)]
        if bad:
            typer.echo(
                f"error: not a session id: {bad[0][:40]!r} (1-128 of A-Z a-z 0-9 . _ : -)",
                err=True,
            )
            raise typer.Exit(1)
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", tenant):
            typer.echo(f"error: not a tenant name: {tenant[:40]!r}", err=True)
            raise typer.Exit(1)
        if log is not None and log.is_dir():
            typer.echo(f"error: --log {log} is a directory: give the JSONL log", err=True)
            raise typer.Exit(1)
        if log is not None and not log.exists():
            typer.echo(f"error: --log {log}: no such file", err=True)
            raise typer.Exit(1)
        explicit = redis is not None or mongo is not None or log is not None
        redis_url = redis if explicit else s.redis_url
        mongo_url = mongo if explicit else s.mongo_url
        try:
            code = asyncio.run(
                _erase_all(
                    session_ids,
                    tenant,
                    redis_url=redis_url,
                    mongo_url=mongo_url,
                    mongo_db=mongo_db or s.mongo_db,
                    log_file=log,
                    ttl_s=s.session_ttl_s,
                    as_json=as_json,
                )
            )
        except _Fail as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except RuntimeFault as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from None
        raise typer.Exit(code)
