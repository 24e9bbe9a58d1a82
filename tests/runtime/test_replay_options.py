"""Options that do not apply are refused instead of being ignored: ``--at`` and
``--save-test`` against another program (a what-if has no replayed state to show and no
verified session to save); ``--save-test`` says so when no session replayed identical."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.runtime.test_cli_replay import PROJECT, cli
from tests.runtime.test_replay import rec_root, recorded
from tests.runtime.test_whatif import changed_project

__all__ = ["rec_root"]


def test_at_and_save_test_are_refused_in_a_what_if(rec_root: Path, tmp_path: Path) -> None:
    log = str(recorded(PROJECT, rec_root)[0].log)
    new = str(changed_project(tmp_path, "edge condition"))
    out_file = tmp_path / "t.yaml"
    code, out = cli("replay", log, "--program", new, "--at", "2")
    assert code == 1
    assert "--at applies to a verification (the recorded program)" in out
    assert "Traceback" not in out
    code, out = cli("replay", log, "--program", new, "--save-test", str(out_file))
    assert code == 1
    assert "--save-test applies to a verification" in out
    assert not out_file.exists()


def test_save_test_says_when_nothing_is_written(rec_root: Path, tmp_path: Path) -> None:
    lines = recorded(PROJECT, rec_root)[0].log.read_bytes().splitlines(keepends=True)
    d = orjson.loads(lines[1])
    d["state_digest"] = "f" * 64
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join([lines[0], orjson.dumps(d) + b"\n", *lines[2:]]))
    out_file = tmp_path / "t.yaml"
    code, out = cli("replay", str(bad), "--program", str(PROJECT), "--save-test", str(out_file))
    assert code == 1
    assert f"no session replayed identical: {out_file} not written" in out
    assert not out_file.exists()
