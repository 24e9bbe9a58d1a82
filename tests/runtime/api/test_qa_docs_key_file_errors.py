"""A broken API key file stops ``ddtflow serve`` with one line that names the variable and
never shows a key.

docs/api.md, "Starting": a bad value "is one line on stderr naming the variable — never
its value". For the key file the line named the file but not the variable, a key written
in clear where its digest belongs was echoed (its first 8 characters), and a YAML syntax
error printed PyYAML's multi-line report with the offending line quoted — a line of a key
file, i.e. a key or a digest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.api.auth import KeyRing, KeyRingError
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[3]
SECRET = "plain-s3cret-key-0123456789"


def _error(tmp_path: Path, text: str) -> str:
    keys = tmp_path / "keys.yaml"
    keys.write_text(text)
    with pytest.raises(KeyRingError) as info:
        KeyRing.load(keys, None)
    return str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        f"acme:\n  - {SECRET}\n",  # a key in clear instead of its digest
        f"acme:\n  admin: [{SECRET}]\n",
        f'acme: [\n  "{SECRET}\n',  # a YAML syntax error on the key's line
        f"acme:\n  - {SECRET}\n\t- x\n",
    ],
)
def test_the_error_is_one_line_without_the_key(tmp_path: Path, text: str) -> None:
    message = _error(tmp_path, text)
    assert "DDTFLOW_API_KEYS_FILE" in message, message
    assert "\n" not in message, message
    assert SECRET[:4] not in message, message


def test_the_inline_document_names_its_variable_without_the_key() -> None:
    with pytest.raises(KeyRingError) as info:
        KeyRing.load(None, f'{{"acme": ["{SECRET}"]}}')
    message = str(info.value)
    assert message.startswith("DDTFLOW_API_KEYS:") and SECRET[:4] not in message, message


def test_an_unreadable_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError) as info:
        KeyRing.load(tmp_path / "nowhere.yaml", None)
    assert str(info.value).startswith("DDTFLOW_API_KEYS_FILE"), info.value


def test_serve_prints_one_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(f'acme: [\n  "{SECRET}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDTFLOW_")}
    env.update(DDTFLOW_API_KEYS_FILE=str(keys), DDTFLOW_DATA_DIR=str(tmp_path))
    for name in ("REDIS_URL", "AMQP_URL", "MONGO_URL"):
        env.pop(name, None)
    r = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and "DDTFLOW_API_KEYS_FILE" in r.stderr, r.stderr
    assert SECRET[:4] not in r.stderr
