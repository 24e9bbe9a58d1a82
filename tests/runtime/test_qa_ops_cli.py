"""Operator QA: the operator commands given a MongoDB URL PyMongo refuses.

``ddtflow worker``, ``replay --mongo``, ``export --mongo`` and ``erase --mongo`` must answer
one clear line and exit 1 — never a traceback, never the URL's password."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from runtime.cli import _register, app
from runtime.mongo import MongoArchive
from runtime.ports import RuntimeFault

_register()

BAD_URLS = [
    "mongodb:/one-slash",  # InvalidURI: wrong scheme
    "http://mongo.example/",  # InvalidURI
    "mongodb://user:s3cr3t-pw@db.example:99999/",  # a port out of range (ValueError)
    "mongodb://user:s3cr3t-pw@db.example:port/",  # not a port
]

COMMANDS = [
    ["worker", "--amqp-url", "amqp://guest:guest@127.0.0.1:1/", "--mongo-url"],
    ["replay", "s-1", "--tenant", "acme", "--mongo"],
    ["export", "s-1", "--tenant", "acme", "--mongo"],
    ["erase", "s-1", "--tenant", "acme", "--mongo"],
]


def cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout + r.stderr


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_mongodb_url_pymongo_refuses_is_one_line_and_exit_1(
    command: list[str], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("REDIS_URL", "DDTFLOW_REDIS_URL", "MONGO_URL", "DDTFLOW_MONGO_URL"):
        monkeypatch.delenv(var, raising=False)
    code, out = cli(*command, url)
    assert code == 1, out
    assert "not a usable MongoDB URL" in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    assert "s3cr3t-pw" not in out


def test_from_url_raises_a_configuration_fault_not_pymongo_s_error() -> None:
    from runtime.mongo import MongoUrlError

    with pytest.raises(MongoUrlError) as err:
        MongoArchive.from_url("mongodb://u:s3cr3t-pw@h:99999/")
    assert isinstance(err.value, RuntimeFault) and isinstance(err.value, ValueError)
    assert not err.value.retryable and err.value.code == "bad_configuration"
    assert "s3cr3t-pw" not in err.value.message
