"""``ddtflow serve`` as a real process: open dev mode said in the log, keys from a file,
a broken key file refused at startup, SIGTERM stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from runtime.api.auth import hash_key
from tests.runtime.api.conftest import ROOT
from tests.servers import free_port


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DDTFLOW_") and k not in ("REDIS_URL", "AMQP_URL", "MONGO_URL")
    }
    env.update(DDTFLOW_DATA_DIR=str(tmp), **extra)
    return env


@contextmanager
def serve(tmp: Path, **env: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=_env(tmp, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if proc.poll() is not None:  # it died while starting: say why, now
                    raise AssertionError(log.read_text())
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise AssertionError(log.read_text())
            yield url, log
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()  # never leave the server running past the test
                proc.wait(timeout=10)
                raise AssertionError(f"no exit 20 s after SIGTERM:\n{log.read_text()}") from None
            # a clean graceful stop is exit 0 (uvicorn alone would re-raise the signal: 143
            # here, yet 0 as PID 1 in a container and with --workers N)
            assert code == 0, log.read_text()
            assert "api_stopped" in log.read_text()


def test_serve_in_open_dev_mode(tmp_path: Path) -> None:
    with serve(tmp_path) as (url, log):
        assert httpx.get(f"{url}/v1/programs").json() == {"programs": [], "aliases": {}}
        assert httpx.get(f"{url}/readyz").json()["mode"] == "embedded"
    text = log.read_text()
    assert "open_dev_mode" in text and "tenant 'default'" in text
    # every line is JSON, uvicorn's own included ("Started server process", "Shutting down")
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    events = [str(e["event"]) for e in entries]
    assert any(e.startswith("Started server process") for e in events), events
    assert "Shutting down" in events and "api_stopped" in events
    assert all("level" in e and "timestamp" in e for e in entries)


def test_serve_with_a_key_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"acme:\n  - {hash_key('s3cret-key')}\n")
    with serve(tmp_path, DDTFLOW_API_KEYS_FILE=str(keys)) as (url, log):
        assert httpx.get(f"{url}/v1/programs").status_code == 401
        ok = httpx.get(f"{url}/v1/programs", headers={"Authorization": "Bearer s3cret-key"})
        assert ok.status_code == 200
    assert "open_dev_mode" not in log.read_text()
    assert "s3cret-key" not in log.read_text()


def test_serve_refuses_a_broken_key_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text('{"acme": ["plain-text-key"]}')
    r = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=_env(tmp_path, DDTFLOW_API_KEYS_FILE=str(keys)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "not a sha256 hex digest" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"REDIS_URL": "notaurl"}, "REDIS_URL: expected redis://"),
        ({"REDIS_URL": "redis://localhost:99999/0"}, "REDIS_URL: the port"),
        ({"AMQP_URL": "foo://guest:secret@x"}, "AMQP_URL: expected amqp://"),
        ({"MONGO_URL": "http://x"}, "MONGO_URL: expected mongodb://"),
        # found by the operators' QA pass: a lifespan traceback, "Application startup failed"
        ({"MONGO_URL": "mongodb:/x"}, "MONGO_URL: not a usable MongoDB URL: InvalidURI"),
        (
            {"MONGO_URL": "mongodb://user:p@secret@h/"},
            "MONGO_URL: not a usable MongoDB URL: InvalidURI: Username and password must be",
        ),
        ({"DDTFLOW_QUEUE_TYPE": "weird"}, "DDTFLOW_QUEUE_TYPE: Input should be"),
        ({"DDTFLOW_MAX_BODY_BYTES": "-5"}, "DDTFLOW_MAX_BODY_BYTES: Input should be greater"),
        (
            {"DDTFLOW_PROGRAMS_DIR": "{tmp}/bad.json"},
            "DDTFLOW_PROGRAMS_DIR: {tmp}/bad.json: not a compiled program",
        ),
        (
            {"DDTFLOW_PROGRAMS_DIR": "{tmp}/nowhere.json"},
            "DDTFLOW_PROGRAMS_DIR: {tmp}/nowhere.json: cannot read",
        ),
    ],
)
def test_serve_refuses_a_bad_setting_in_one_line(
    tmp_path: Path, env: dict[str, str], names: str
) -> None:
    """A bad setting is one line on stderr naming the variable (never its value: URLs can
    hold passwords) and exit 1, before uvicorn starts — not a traceback (a malformed
    REDIS_URL, a bad queue type, a bad programs file) nor a startup that never ends (an
    AMQP URL of another scheme was retried forever, SIGTERM included)."""
    (tmp_path / "bad.json").write_text("{}")
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    names = names.format(tmp=tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith(f"ddtflow serve: error: {names}"), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "secret" not in r.stderr
    assert "Started server process" not in r.stdout + r.stderr


def test_serve_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "serve", "--port", "99999"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr  # a usage error: before, it "ran on" port 99999
    assert "--port" in r.stderr and "Traceback" not in r.stderr
