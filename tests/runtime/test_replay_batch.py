"""Batch replay outside a terminal (CI, a pipe): the progress of a long batch is reported on
stderr as plain lines, one per tenth, and stdout holds the report alone."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from runtime.cli import app
from runtime.program_store import LocalProgramStore
from tests.runtime.test_cli_replay import PROJECT
from tests.runtime.test_replay import EXAMPLES, EXAMPLES_DIR, compiled, rec_root, recorded
from tests.runtime.test_whatif import changed_project

__all__ = ["rec_root"]


def _invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"CI": "true"})
    return r.exit_code, r.stdout, r.stderr


def test_a_batch_replay_reports_progress_on_stderr_when_not_a_terminal(
    rec_root: Path, tmp_path: Path
) -> None:
    store = tmp_path / "programs"
    day = tmp_path / "day.jsonl"
    with day.open("wb") as f:
        for name in EXAMPLES:
            LocalProgramStore(store).save_sync(compiled(EXAMPLES_DIR / name).program)
            for r in recorded(EXAMPLES_DIR / name, rec_root):
                f.write(r.log.read_bytes())
    n = sum(len(recorded(EXAMPLES_DIR / name, rec_root)) for name in EXAMPLES)
    assert n >= 20, "the batch must be long enough to show progress"
    code, out, err = _invoke("replay", str(day), "--programs-dir", str(store))
    assert code == 0, out + err
    progress = [line for line in err.splitlines() if line.startswith("replay: ")]
    assert progress[-1] == f"replay: {n}/{n} sessions"
    assert 5 <= len(progress) <= 10
    assert "/{n} sessions" not in out and out.splitlines()[0].startswith("session ")
    assert out.rstrip().endswith(f"{n} identical, 0 diverged")


def test_a_what_if_batch_reports_progress_on_stderr(rec_root: Path, tmp_path: Path) -> None:
    """30 sessions (the example's, three times under other ids). Before, the progress bar
    was drawn only on a terminal and left a blank line at the top of stdout elsewhere."""
    day = tmp_path / "day.jsonl"
    with day.open("wb") as f:
        for copy in range(3):
            for r in recorded(PROJECT, rec_root):
                for line in r.log.read_bytes().splitlines():
                    rec = orjson.loads(line)
                    rec["session_id"] = f"{rec['session_id']}-{copy}"
                    rec["state"]["session_id"] = rec["session_id"]
                    f.write(orjson.dumps(rec) + b"\n")
    new = changed_project(tmp_path, "edge condition")
    code, out, err = _invoke("replay", str(day), "--program", str(new))
    assert code == 1, out + err
    progress = [line for line in err.splitlines() if line.startswith("what-if replay: ")]
    assert progress[-1] == "what-if replay: 30/30 sessions"
    assert out.splitlines()[0].strip(), "stdout starts with the report"
    assert "24 same, 6 diverged, 0 cannot continue" in out
