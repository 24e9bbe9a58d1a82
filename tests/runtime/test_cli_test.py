"""``ddtflow test``: passing, failing and broken conversation tests, coverage, JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", "test", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("name", ["bank_card_block", "insurance_claim", "medical_booking"])
def test_examples_pass_with_coverage(name: str, tmp_path: Path) -> None:
    p = run(
        str(ROOT / "examples" / name),
        "--coverage",
        "--fail-under",
        "90",
        "--log-dir",
        str(tmp_path),
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[-1].endswith(" passed, 0 failed")
    assert "nodes" in p.stdout and "ddt_levels" in p.stdout
    assert len(list(tmp_path.glob("*.jsonl"))) >= 8


def test_json_report(tmp_path: Path) -> None:
    p = run(
        str(ROOT / "examples" / "bank_card_block"),
        "--json",
        "--coverage",
        "--log-dir",
        str(tmp_path),
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["failed"] == 0 and doc["passed"] == len(doc["tests"]) >= 8
    assert doc["coverage"]["nodes"]["percent"] == 100.0
    assert set(doc["coverage"]) == {"nodes", "edges", "ddt_states", "ddt_levels"}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    dst = tmp_path / "bank"
    shutil.copytree(ROOT / "examples" / "bank_card_block", dst)
    for f in (dst / "tests").glob("*.yaml"):
        f.unlink()
    return dst


def test_failures_are_shown_as_a_diff_and_exit_1(project: Path, tmp_path: Path) -> None:
    (project / "tests" / "wrong.yaml").write_text(
        """
name: wrong expectations
language: it
at: 2026-03-02T10:00:00+01:00
turns:
  - bot: ["Buongiorno!", "/data di nascita/"]
  - user: "12 marzo 1980"
    memory: {customer.birth_date: 1980-03-13}
expect: {status: ended}
"""
    )
    p = run(str(project), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 1
    out = p.stdout
    assert "FAIL wrong expectations" in out
    assert "    - Buongiorno!" in out
    assert (
        "    + Banca Esempio, servizio blocco carte. Se ha perso la carta o gliel'hanno rubata, "
        "la blocchiamo subito."
    ) in out
    assert "memory customer.birth_date: expected '1980-03-13', got '1980-03-12'" in out
    assert "final status: expected ended, got waiting_input\n" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


@pytest.mark.parametrize(
    "text,message",
    [
        ("turns: [ {user: ciao", "not valid YAML"),
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a, noinput: true}]",
            "a turn has one input, not user, noinput",
        ),
        ("name: x\nat: 2026-03-02T10:00:00\nturns: [{usr: a}]", "unknown key(s) in turn 1: usr"),
        ("name: x\nturns: [{user: a}]", "a test needs a fixed clock 'at'"),
        ("name: x\nat: yesterday\nturns: [{user: a}]", "'at' is not an ISO date-time"),
        (
            "name: x\nat: 2026-03-02T10:00:00\nbackends: {b: {error: nope}}\nturns: [{user: a}]",
            "unknown backend error 'nope'",
        ),
    ],
)
def test_broken_test_files_are_reported(
    project: Path, tmp_path: Path, text: str, message: str
) -> None:
    (project / "tests" / "broken.yaml").write_text(text)
    p = run(str(project), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 1
    assert "BROKEN" in p.stdout and message in p.stdout, p.stdout
    assert "Traceback" not in p.stdout + p.stderr


def test_project_that_does_not_compile(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text("name: x\nlanguages: [it]\nnodes: [{id: a, kind: say}]\n")
    p = run(str(tmp_path))
    assert p.returncode == 1
    assert "error(s); nothing run" in p.stdout
    assert "Traceback" not in p.stdout + p.stderr
