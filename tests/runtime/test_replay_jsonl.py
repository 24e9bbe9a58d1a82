"""JSONL turn logs read as a stream: a first pass keeps where each session's lines are (not
the records), then one session at a time is read, checked, replayed and dropped — in a log
written session by session and in one whose sessions interleave (the log of ``ddtflow
serve`` under concurrent calls). The corruption checks hold: a missing turn, two records
for one turn, an altered digest name the session and the batch goes on; a line cut short,
a line that is not JSON stop the command before anything is replayed, naming the line; a
line of a known session that is not a turn record makes that session alone unreplayable."""

from __future__ import annotations

import io
import logging
import re
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from runtime._cli_replay import _replay_cmd
from runtime.cli import _register, app
from runtime.replay import JsonlLog, ReplayError, load_jsonl
from tests.runtime.test_replay import rec_root
from tests.runtime.test_replay_stream import COPIES, PROJECT, REPLAY, _by_session, _peak, day

__all__ = ["day", "rec_root"]
_register()
SESSIONS = 10 * COPIES


def _interleave(day: Path, out: Path, *, sort_keys: bool = False) -> Path:
    """The sessions of ``day`` as concurrent calls write them: session k starts half a
    turn after session k-1, each session's turns in order, the turns of about sixteen
    sessions interleaved at any point of the file."""
    lines = []
    for k, g in enumerate(load_jsonl(day)):
        for j, rec in enumerate(g.records):
            body = rec.model_dump(mode="json")
            opt = orjson.OPT_SORT_KEYS if sort_keys else 0
            lines.append((k * 0.5 + j, orjson.dumps(body, option=opt) + b"\n"))
    lines.sort(key=lambda x: x[0])
    out.write_bytes(b"".join(line for _, line in lines))
    return out


@pytest.fixture(scope="module")
def mixed(day: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _interleave(day, tmp_path_factory.mktemp("jsonl") / "mixed.jsonl")


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def cli(*args: str) -> tuple[int, str]:
    """Exit code and stdout (stderr: progress; export's messages)."""
    r = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"CI": "true"})
    return r.exit_code, r.stdout if args[0] != "export" or not r.exit_code else r.stderr


async def _replay(path: Path, report: Path | None = None) -> tuple[int, str]:
    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True)
    code = await _replay_cmd(
        console,
        [str(path)],
        **(REPLAY | {"program": PROJECT}),
        programs_dir=None,
        json_report=report,
    )
    return code, out.getvalue()


def test_the_interleaving_is_real(mixed: Path) -> None:
    ids = [orjson.loads(line)["session_id"] for line in _lines(mixed)]
    switches = sum(a != b for a, b in zip(ids, ids[1:], strict=False))
    assert switches > len(ids) // 2  # the next line is mostly another session's


async def test_an_interleaved_log_is_replayed_one_session_at_a_time(
    mixed: Path, day: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same reports as the log written session by session, in order of first
    appearance, with at most two sessions alive — before, the 60 were all read first."""
    caplog.set_level(logging.DEBUG, logger="ddtflow.replay")
    a, b = tmp_path / "day.json", tmp_path / "mixed.json"
    code, _ = await _replay(day, a)
    assert code == 0
    assert _peak(caplog) == (SESSIONS, 2)
    code, out = await _replay(mixed, b)
    assert code == 0, out
    assert _peak(caplog) == (SESSIONS, 2)
    assert out.rstrip().endswith(f"{SESSIONS} identical, 0 diverged")
    ra, rb = orjson.loads(a.read_bytes()), orjson.loads(b.read_bytes())
    assert _by_session(ra) == _by_session(rb)
    first: dict[str, None] = {}
    for line in _lines(mixed):
        first.setdefault(orjson.loads(line)["session_id"])
    assert [s["session_id"] for s in rb["sessions"]] == list(first)


def test_the_first_pass_keeps_where_the_lines_are_not_the_records(mixed: Path) -> None:
    tracemalloc.start()
    try:
        log = JsonlLog(mixed)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = mixed.stat().st_size
    assert len(log) == SESSIONS and log.lines == len(_lines(mixed))
    assert held < size / 10, (held, size)  # the records themselves: many times the file
    got = {g.session_id: g.records for g in log.logs()}
    assert got == {g.session_id: g.records for g in load_jsonl(mixed)}
    assert len(got) == SESSIONS


def test_a_log_in_another_layout_is_read_the_same(mixed: Path, day: Path, tmp_path: Path) -> None:
    """Keys in another order (a hand-written or third-party log): each line parsed whole."""
    other = _interleave(day, tmp_path / "sorted.jsonl", sort_keys=True)
    assert not _lines(other)[0].startswith(b'{"tenant"')
    a = {g.session_id: g.records for g in load_jsonl(other)}
    assert a == {g.session_id: g.records for g in load_jsonl(mixed)}


def _session_lines(path: Path, sid: str) -> list[int]:
    """0-based indexes of ``sid``'s lines."""
    return [i for i, line in enumerate(_lines(path)) if orjson.loads(line)["session_id"] == sid]


def _ids(path: Path) -> list[str]:
    return list(dict.fromkeys(orjson.loads(line)["session_id"] for line in _lines(path)))


def _edit(path: Path, out: Path, index: int, new: bytes | None) -> Path:
    lines = _lines(path)
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    out.write_bytes(b"".join(lines))
    return out


def _with(line: bytes, **changes: Any) -> bytes:
    d = orjson.loads(line)
    for path, value in changes.items():
        *head, last = path.split("__")
        node = d
        for k in head:
            node = node[k]
        node[last] = value
    return orjson.dumps(d) + b"\n"


@pytest.mark.parametrize(
    "damage",
    ["hole", "digest", "not a turn record", "not JSON after its head", "two records", "duplicate"],
)
def test_a_damaged_session_in_an_interleaved_log_is_named_and_the_rest_replayed(
    damage: str, mixed: Path, tmp_path: Path
) -> None:
    sid = _ids(mixed)[30]
    at = _session_lines(mixed, sid)
    lines = _lines(mixed)
    bad = tmp_path / "bad.jsonl"
    if damage == "hole":
        _edit(mixed, bad, at[2], None)
        want = f"cannot replay: {bad}: session '{sid}': turn 3 is missing"
    elif damage == "digest":
        _edit(mixed, bad, at[1], _with(lines[at[1]], state_digest="f" * 64))
        want = f"session {sid}: diverged at turn 2"
    elif damage == "not a turn record":
        _edit(mixed, bad, at[1], _with(lines[at[1]], event__type="x"))
        want = f"cannot replay: {bad}:{at[1] + 1}: session '{sid}': not a turn record: event"
    elif damage == "not JSON after its head":
        _edit(mixed, bad, at[1], lines[at[1]][:-40] + b"\n")
        want = f"cannot replay: {bad}:{at[1] + 1}: session '{sid}': not JSON: "
    elif damage == "two records":  # another turn 2, far from the first
        other = _with(lines[at[1]], event__text="un'altra cosa")
        bad.write_bytes(b"".join([*lines, other]))
        want = f"cannot replay: {bad}: session '{sid}': two different records for turn 2"
    else:  # the same record twice (a sink that published twice): not an error
        bad.write_bytes(b"".join([*lines, lines[at[1]]]))
        want = ""
    code, out = cli("replay", str(bad), "--program", str(PROJECT), "--no-timeline")
    assert want in out
    if damage == "duplicate":
        assert code == 0, out
        assert out.rstrip().endswith(f"{SESSIONS} identical, 0 diverged")
        return
    assert code == 1, out
    assert "Traceback" not in out
    if damage == "digest":
        assert out.rstrip().endswith(f"{SESSIONS - 1} identical, 1 diverged")
    else:
        tail = f"{SESSIONS - 1} identical, 0 diverged, 1 could not be replayed"
        assert out.rstrip().endswith(tail)
    # named in place, between the sessions around it
    ids = _ids(mixed)
    assert out.index(f"session {ids[29]}: ") < out.index(sid) < out.index(f"session {ids[31]}: ")


@pytest.mark.parametrize("damage", ["junk", "cut", "no session"])
def test_a_line_of_no_session_stops_the_command_before_anything_is_replayed(
    damage: str, mixed: Path, tmp_path: Path
) -> None:
    lines = _lines(mixed)
    bad = tmp_path / "bad.jsonl"
    if damage == "junk":
        bad.write_bytes(b"".join([*lines[:100], b"{oops\n", *lines[100:]]))
        want = f"error: {bad}:101: not JSON: "
    elif damage == "cut":
        bad.write_bytes(b"".join([*lines[:-1], lines[-1][:50]]))
        want = f"error: {bad}:{len(lines)}: truncated line (no newline at the end of the file)"
    else:
        bad.write_bytes(b"".join([*lines[:100], b'{"seq": 3}\n', *lines[100:]]))
        want = f"error: {bad}:101: not a turn record: session_id: Field required"
    code, out = cli("replay", str(bad), "--program", str(PROJECT))
    assert code == 1
    assert out.startswith(want), out
    assert "identical" not in out and "Traceback" not in out


def test_a_log_with_no_record_or_that_cannot_be_read(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n\n")
    with pytest.raises(ReplayError, match="holds no turn record"):
        JsonlLog(empty)
    with pytest.raises(ReplayError, match="cannot read the turn log"):
        JsonlLog(tmp_path / "missing.jsonl")


def test_session_picks_sessions_of_a_log_without_reading_the_others(
    mixed: Path, tmp_path: Path
) -> None:
    ids = _ids(mixed)
    bad = tmp_path / "bad.jsonl"
    at = _session_lines(mixed, ids[5])
    _edit(mixed, bad, at[2], None)  # a hole in a session not asked for: never read
    args = ["--session", ids[40], "--session", ids[2], "--session", "nobody"]
    code, out = cli("replay", str(bad), "--program", str(PROJECT), *args, "--no-timeline")
    assert code == 1, out
    assert re.findall(r"session (\S+): identical", out) == [ids[2], ids[40]]  # the log's order
    assert "cannot replay: no session 'nobody' in the given logs" in out
    assert ids[5] not in out
    assert out.rstrip().endswith("2 identical, 0 diverged, 1 could not be replayed")
    code, out = cli("export", str(bad), "--program", str(PROJECT), *args[:4], "-f", "json")
    assert code == 0, out
    assert [d["session_id"] for d in orjson.loads(out)] == [ids[2], ids[40]]
    code, out = cli("export", str(bad), "--program", str(PROJECT), *args)
    assert code == 1 and "no session 'nobody' in the given logs" in out
