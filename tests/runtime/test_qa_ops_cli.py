"""Operator QA: the operator commands given a MongoDB URL PyMongo refuses.

``ddtflow worker``, ``replay --mongo``, ``export --mongo`` and ``erase --mongo`` must answer
one clear line and exit 1 — never a traceback, never the URL's password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runtime.cli import _register, app
from runtime.mongo import MongoArchive
from runtime.ports import RuntimeFault
from tests.servers import free_port

_register()

ROOT = Path(__file__).resolve().parents[2]

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


def test_a_mongodb_that_is_down_is_one_line_on_a_real_terminal(tmp_path: Path) -> None:
    """Run as an operator runs them (a process of their own, logging not configured): the
    commands' error is the one line on stderr. PyMongo's failure used to be logged as a
    WARNING too, which Python's last-resort handler printed: two lines, the same story."""
    dead = f"mongodb://127.0.0.1:{free_port()}/"
    env = {k: v for k, v in os.environ.items() if "REDIS_URL" not in k and "MONGO_URL" not in k}
    runs = [
        ["erase", "s-1", "--tenant", "acme", "--mongo", dead],
        ["replay", "s-1", "--tenant", "acme", "--mongo", dead],
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in runs
    ]
    for args, proc in zip(runs, procs, strict=True):
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, (args, out, err)
        text = (out + err).strip()
        assert "MongoDB unavailable" in text and "Traceback" not in text, (args, text)
        assert len(text.splitlines()) == 1, (args, text)
