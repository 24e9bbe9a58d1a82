"""``--help`` of the designer's commands: each shows examples, in any terminal width."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("chat", "ddtflow chat examples/bank_card_block --lang en --voice"),
        ("test", "ddtflow test examples/bank_card_block --coverage --fail-under 90"),
        ("graph", "ddtflow graph examples/insurance_claim -o flow.svg"),
        ("extract", 'ddtflow extract date "il tre marzo millenovecentottanta"'),
    ],
)
def test_help_shows_examples(command: str, example: str) -> None:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "CI": "true"}
    p = subprocess.run(
        [sys.executable, "-m", "runtime.cli", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert "Examples:" in p.stdout
    assert example in p.stdout
    assert "\x1b[" not in p.stdout
    narrow = subprocess.run(
        [sys.executable, "-m", "runtime.cli", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**env, "COLUMNS": "40"},
        check=False,
    )
    assert narrow.returncode == 0 and "Examples:" in narrow.stdout
