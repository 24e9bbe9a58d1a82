"""The embedded default keeps every program it runs, so its turn logs replay by id alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from runtime.cli import _register, app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bank_card_block"

_register()


def test_ddtflow_test_saves_the_program_and_replay_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "programs"
    monkeypatch.setenv("DDTFLOW_PROGRAM_STORE", str(store))
    logs = tmp_path / "logs"
    runner = CliRunner()
    r = runner.invoke(app, ["test", str(EXAMPLE), "--log-dir", str(logs)])
    assert r.exit_code == 0, r.output
    saved = sorted(p.name for p in store.iterdir())
    assert len(saved) == 1 and saved[0].startswith("sha256-")
    log = sorted(logs.glob("*.jsonl"))[0]
    r = runner.invoke(app, ["replay", str(log), "--no-timeline"])
    assert r.exit_code == 0, r.output
    assert "identical" in r.output


def test_without_a_saved_program_replay_says_which_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DDTFLOW_PROGRAM_STORE", str(tmp_path / "programs"))
    logs = tmp_path / "logs"
    runner = CliRunner()
    assert runner.invoke(app, ["test", str(EXAMPLE), "--log-dir", str(logs)]).exit_code == 0
    monkeypatch.setenv("DDTFLOW_PROGRAM_STORE", str(tmp_path / "elsewhere"))
    r = runner.invoke(app, ["replay", str(sorted(logs.glob("*.jsonl"))[0]), "--no-timeline"])
    assert r.exit_code == 1
    assert "sha256:" in r.output and "Traceback" not in r.output
