"""``ddtflow worker``: move turn records from RabbitMQ to MongoDB until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Annotated, Literal

import typer

from runtime.ports import RuntimeFault


def _run(
    amqp_url: str,
    mongo_url: str,
    *,
    db: str,
    queue: str,
    queue_type: Literal["classic", "quorum"],
    prefetch: int,
    batch: int,
    retention_days: float,
    metrics: tuple[str, int] | None = None,
) -> int:
    from runtime.mongo import MongoArchive
    from runtime.worker import Worker

    if metrics is not None:  # Prometheus: the worker's counters, on their own port
        from prometheus_client import start_http_server

        host, port = metrics
        try:
            start_http_server(port, addr=host)
        except OSError as exc:
            typer.echo(
                f"ddtflow worker: error: cannot serve metrics on {host}:{port}: {exc.strerror}",
                err=True,
            )
            return 1

    async def main() -> int:
        mongo = MongoArchive.from_url(mongo_url, db, retention_days=retention_days)
        worker = Worker(
            amqp_url, mongo, queue=queue, queue_type=queue_type, prefetch=prefetch, batch=batch
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        try:
            stats = await worker.run()
        finally:
            await mongo.close()
        typer.echo(
            f"worker stopped: {stats.written} turns written, {stats.duplicates} duplicates "
            f"skipped, {stats.poison} dead-lettered, {stats.erased} of erased sessions dropped",
            err=True,
        )
        return 0

    try:
        return asyncio.run(main())
    except RuntimeFault as exc:
        typer.echo(f"ddtflow worker: error: {exc.message}", err=True)
        return 1


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        amqp_url: Annotated[
            str | None, typer.Option(help="RabbitMQ URL (default: $AMQP_URL)")
        ] = None,
        mongo_url: Annotated[
            str | None, typer.Option(help="MongoDB URL (default: $MONGO_URL)")
        ] = None,
        db: Annotated[str | None, typer.Option(help="MongoDB database")] = None,
        queue: Annotated[str | None, typer.Option(help="turn queue name")] = None,
        queue_type: Annotated[
            str | None, typer.Option(help="classic or quorum (default: classic)")
        ] = None,
        prefetch: Annotated[int | None, typer.Option(help="unacked messages in flight")] = None,
        batch: Annotated[int | None, typer.Option(help="records per MongoDB bulk write")] = None,
        metrics_port: Annotated[
            int,
            typer.Option(
                min=0,
                max=65535,
                envvar="DDTFLOW_WORKER_METRICS_PORT",
                help="serve Prometheus metrics (/metrics) on this port; 0: off",
            ),
        ] = 0,
        metrics_host: Annotated[
            str, typer.Option(help="address the metrics port listens on")
        ] = "0.0.0.0",  # noqa: S104 - counters only, no caller data; scraped from outside
    ) -> None:
        """Persist turn records from RabbitMQ into MongoDB (idempotent; stop with SIGTERM)."""
        from runtime.settings import Settings

        try:
            s = Settings()
        except ValueError as exc:
            typer.echo(f"ddtflow worker: error: bad configuration: {exc}", err=True)
            raise typer.Exit(1) from None
        amqp = amqp_url or s.amqp_url
        mongo = mongo_url or s.mongo_url
        if not amqp or not mongo:
            missing = " and ".join(
                n for n, v in (("AMQP_URL", amqp), ("MONGO_URL", mongo)) if not v
            )
            typer.echo(
                f"ddtflow worker: error: {missing} not set (env var or --amqp-url/--mongo-url)",
                err=True,
            )
            raise typer.Exit(1)
        from runtime.sinks.amqp import check_amqp_url

        try:
            check_amqp_url(amqp)
        except ValueError as exc:
            typer.echo(f"ddtflow worker: error: {exc}", err=True)
            raise typer.Exit(1) from None
        qtype = queue_type or s.queue_type
        if qtype not in ("classic", "quorum"):
            typer.echo(
                f"ddtflow worker: error: --queue-type must be classic or quorum, not {qtype!r}",
                err=True,
            )
            raise typer.Exit(1)
        if not logging.getLogger().handlers:
            logging.basicConfig(
                stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
            )
        code = _run(
            amqp,
            mongo,
            db=db or s.mongo_db,
            queue=queue or s.queue,
            queue_type="quorum" if qtype == "quorum" else "classic",
            prefetch=prefetch or s.worker_prefetch,
            batch=batch or s.worker_batch,
            retention_days=s.retention_days,
            metrics=(metrics_host, metrics_port) if metrics_port else None,
        )
        raise typer.Exit(code)


if __name__ == "__main__":  # ``python -m runtime._cli_worker worker …`` (used by the tests)
    _app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(_app)

    @_app.callback()
    def _root() -> None:
        """ddtflow worker."""

    _app()
