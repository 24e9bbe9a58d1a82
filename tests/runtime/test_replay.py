"""Replay: every session the example conversation tests produce replays identical from its
JSONL log; golden recorded sessions replay identical; broken logs give clear errors naming
the turn; replay(record(run)) == run for any corruption-free log."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import compile_project
from runtime.convtest import ConvTest, find_test_files, load_tests, run_test
from runtime.programs import LoadedProgram, ProgramRegistry
from runtime.replay import ReplayError, SessionLog, _quick_digest, load_jsonl, replay_session
from schemas.program import Program

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "examples"
EXAMPLES = sorted(
    p.name for p in EXAMPLES_DIR.iterdir() if (p / "tests").is_dir() and find_test_files(p)
)
GOLDEN = Path(__file__).resolve().parent / "golden"


@cache
def compiled(project: Path) -> LoadedProgram:
    result = compile_project(project)
    assert result.ok and result.program is not None, [d.message for d in result.diagnostics]
    return ProgramRegistry().add(result.program)


@dataclass(frozen=True)
class Recorded:
    name: str
    log: Path
    sessions: tuple[SessionLog, ...]


@dataclass(frozen=True)
class _Run:
    file: str
    rec: Recorded


async def _record(loaded: LoadedProgram, project: Path, out: Path) -> list[_Run]:
    runs = []
    tests = [(f.name, t) for f in find_test_files(project) for t in load_tests(f)]
    for i, (file, t) in enumerate(tests):
        log = out / f"{i:02d}.jsonl"
        await run_test(loaded, t, log)
        runs.append(_Run(file, Recorded(t.name, log, tuple(load_jsonl(log)))))
    return runs


_CACHE: dict[Path, list[_Run]] = {}
# The QA callers of an example (tests/callers.yaml) grow with every review of its prompts;
# the replay tests count and pick sessions, so by default they take the designer's files.
QA_FILES = frozenset({"callers.yaml"})


def designer_tests(project: Path) -> list[ConvTest]:
    """``project``'s conversation tests but its QA callers: the stable set replay tests count."""
    return [t for f in find_test_files(project) if f.name not in QA_FILES for t in load_tests(f)]


def recorded(project: Path, tmp_root: Path, *, every: bool = False) -> list[Recorded]:
    """The turn logs of ``project``'s conversation tests (run once per test session): those
    of every test file with ``every``, else all but the QA callers (a stable set to count)."""
    if project not in _CACHE:
        out = tmp_root / project.name
        out.mkdir(parents=True, exist_ok=True)
        _CACHE[project] = asyncio.run(_record(compiled(project), project, out))
    return [r.rec for r in _CACHE[project] if every or r.file not in QA_FILES]


@pytest.fixture(scope="session")
def rec_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recorded")


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_session_replays_identical_from_jsonl(name: str, rec_root: Path) -> None:
    project = EXAMPLES_DIR / name
    lp = compiled(project)
    recs = recorded(project, rec_root, every=True)
    assert recs
    for r in recs:
        assert len(r.sessions) == 1, r.name
        res = replay_session(lp, r.sessions[0])
        assert res.ok, f"{r.name}: {res.divergence}"
        assert [t.after.digest() for t in res.turns] == [
            x.state_digest for x in r.sessions[0].records
        ]
        # the quick path that confirms a match serialises exactly as the canonical digest
        assert [_quick_digest(t.after) for t in res.turns] == [t.after.digest() for t in res.turns]


def test_several_sessions_in_one_log_are_each_replayed(rec_root: Path, tmp_path: Path) -> None:
    project = EXAMPLES_DIR / EXAMPLES[0]
    recs = recorded(project, rec_root)
    both = tmp_path / "both.jsonl"
    both.write_bytes(b"".join(r.log.read_bytes() for r in recs))
    logs = load_jsonl(both)
    assert [g.session_id for g in logs] == [r.sessions[0].session_id for r in recs]
    assert all(replay_session(compiled(project), g).ok for g in logs)


def golden_cases() -> list[str]:
    return sorted(p.stem for p in GOLDEN.glob("*.jsonl"))


def test_there_are_golden_sessions() -> None:
    assert len(golden_cases()) >= 3


@pytest.mark.parametrize("case", golden_cases())
def test_golden_sessions_replay_identical(case: str) -> None:
    program = Program.model_validate_json((GOLDEN / f"{case}.program.json").read_bytes())
    lp = ProgramRegistry().add(program)
    logs = load_jsonl(GOLDEN / f"{case}.jsonl")
    assert logs
    for g in logs:
        res = replay_session(lp, g)
        assert res.ok, f"{case} {g.session_id}: {res.divergence and res.divergence.message}"


# --------------------------------------------------------------------------- corruption


def _lines(rec_root: Path) -> tuple[LoadedProgram, list[bytes]]:
    project = EXAMPLES_DIR / "bank_card_block"
    r = recorded(project, rec_root)[0]
    return compiled(project), r.log.read_bytes().splitlines(keepends=True)


def _replay_text(lp: LoadedProgram, path: Path) -> str:
    """What a user sees: the error or the divergence message, or 'ok'."""
    try:
        logs = load_jsonl(path)
    except ReplayError as e:
        return "error: " + e.message
    for g in logs:
        res = replay_session(lp, g)
        if res.divergence is not None:
            return "diverged: " + res.divergence.message
    return "ok"


def test_missing_seq_names_the_turn(rec_root: Path, tmp_path: Path) -> None:
    lp, lines = _lines(rec_root)
    p = tmp_path / "hole.jsonl"
    p.write_bytes(b"".join(lines[:2] + lines[3:]))
    sid = orjson.loads(lines[0])["session_id"]
    assert _replay_text(lp, p) == (
        f"error: {p}: session {sid!r}: turn 3 is missing (turn 2 is followed by turn 4); "
        f"the log is incomplete"
    )


def test_wrong_digest_names_the_turn(rec_root: Path, tmp_path: Path) -> None:
    lp, lines = _lines(rec_root)
    rec = orjson.loads(lines[2])
    rec["state_digest"] = "0" * 64
    p = tmp_path / "digest.jsonl"
    p.write_bytes(b"".join([*lines[:2], orjson.dumps(rec) + b"\n", *lines[3:]]))
    assert _replay_text(lp, p) == (
        "diverged: turn 3 (user_input): the state digest differs from the recorded one "
        "(the record was altered)"
    )


def test_altered_input_is_a_divergence_with_a_state_diff(rec_root: Path, tmp_path: Path) -> None:
    lp, lines = _lines(rec_root)
    rec = orjson.loads(lines[1])
    assert rec["event"]["type"] == "user_input"
    rec["event"]["text"] = "boh"
    p = tmp_path / "input.jsonl"
    p.write_bytes(b"".join([lines[0], orjson.dumps(rec) + b"\n", *lines[2:]]))
    res = replay_session(lp, load_jsonl(p)[0])
    assert res.divergence is not None
    assert res.divergence.seq == 2
    assert res.divergence.message == "turn 2 (user_input): the state differs"
    assert any(
        path.startswith("memory.") or path.startswith("ddt")
        for path, _, _ in res.divergence.state_changes
    )


def test_truncated_line_names_the_line(rec_root: Path, tmp_path: Path) -> None:
    lp, lines = _lines(rec_root)
    p = tmp_path / "cut.jsonl"
    p.write_bytes(b"".join(lines[:3]) + lines[3][:40])
    assert _replay_text(lp, p) == (
        f"error: {p}:4: truncated line (no newline at the end of the file): the process "
        f"stopped while writing it"
    )


def test_non_json_line_names_the_line(rec_root: Path, tmp_path: Path) -> None:
    lp, lines = _lines(rec_root)
    p = tmp_path / "junk.jsonl"
    p.write_bytes(b"".join([*lines[:2], b"{not json\n", *lines[2:]]))
    text = _replay_text(lp, p)
    assert text.startswith(f"error: {p}:3: not JSON: ")


def test_first_record_not_a_start(rec_root: Path, tmp_path: Path) -> None:
    lp, lines = _lines(rec_root)
    rec = orjson.loads(lines[1])
    rec["seq"] = 1
    p = tmp_path / "nostart.jsonl"
    p.write_bytes(orjson.dumps(rec) + b"\n")
    assert _replay_text(lp, p) == (
        f"error: {p}: session {rec['session_id']!r}: turn 1 is a user_input event, not the "
        f"start of the session"
    )


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_corruption_gives_a_verdict_never_a_crash(rec_root: Path, data: st.DataObject) -> None:
    """Flip, drop or cut bytes anywhere: replay answers ok, an error or a divergence."""
    import tempfile

    lp, lines = _lines(rec_root)
    blob = bytearray(b"".join(lines))
    op = data.draw(st.sampled_from(["flip", "cut", "drop_line", "dup_line"]))
    if op == "flip":
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    elif op == "cut":
        del blob[data.draw(st.integers(1, len(blob) - 1)) :]
    else:
        k = data.draw(st.integers(0, len(lines) - 1))
        ls = list(lines)
        if op == "drop_line":
            del ls[k]
        else:
            ls.insert(k, ls[k])
        blob = bytearray(b"".join(ls))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.jsonl"
        p.write_bytes(bytes(blob))
        text = _replay_text(lp, p)
    assert text == "ok" or text.startswith(("error: ", "diverged: turn "))
