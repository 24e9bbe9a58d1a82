"""Benchmark: recorded sessions replayed and verified per second, on one core.

Each example's conversation tests run once through the driver and write their JSONL turn
logs; the logs are read and grouped into sessions once; then ``replay_session`` (step,
state digest and action comparison of every turn, no timeline) runs over them for about
``SECONDS`` seconds of CPU time (process time). The figure the target names is
``sessions_per_s``: twenty-turn sessions per second, i.e. verified turns per second / 20.

Then the floor: ``run_step`` alone over the same recorded events for as long again (no
digest, no comparison of actions, nothing kept). Replay must run every turn through step
(the determinism contract is what it verifies), so it cannot be faster than this; the
difference is what the verification itself costs.
Last line: {"bench": "replay", "sessions_per_s": …, "turns_per_s": …,
"step_floor_turns_per_s": …, …}.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # bench/http.py and friends must not shadow the standard library

import asyncio  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler import compile_project  # noqa: E402
from runtime.convtest import find_test_files, load_tests, run_test  # noqa: E402
from runtime.orchestrator import run_step  # noqa: E402
from runtime.programs import LoadedProgram, ProgramRegistry  # noqa: E402
from runtime.replay import SessionLog, load_jsonl, origin_state, replay_session  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
TURNS_PER_SESSION = 20


async def record() -> list[tuple[LoadedProgram, SessionLog]]:
    out: list[tuple[LoadedProgram, SessionLog]] = []
    with tempfile.TemporaryDirectory() as d:
        for project in sorted((ROOT / "examples").iterdir()):
            if not find_test_files(project):
                continue
            result = compile_project(project)
            assert result.ok and result.program is not None, project
            loaded = ProgramRegistry().add(result.program)
            tests = [t for f in find_test_files(project) for t in load_tests(f)]
            for i, t in enumerate(tests):
                log = Path(d) / f"{project.name}-{i}.jsonl"
                await run_test(loaded, t, log)
                out.extend((loaded, s) for s in load_jsonl(log))
    return out


def step_floor(sessions: list[tuple[LoadedProgram, SessionLog]]) -> float:
    """Turns/s of ``run_step`` alone over the recorded events (CPU time): replay's floor."""
    origins = [origin_state(loaded, s) for loaded, s in sessions]
    turns = 0
    start = time.process_time()
    while time.process_time() - start < SECONDS:
        for (loaded, s), state in zip(sessions, origins, strict=True):
            program, engine, plugins = loaded.program, loaded.engine, loaded.plugins
            for rec in s.records:
                state = run_step(program, state, rec.event, engine=engine, plugins=plugins).state
            turns += len(s.records)
    return turns / (time.process_time() - start)


def main() -> None:
    sessions = asyncio.run(record())
    for loaded, s in sessions:  # warm up, and check they replay identical
        assert replay_session(loaded, s).ok, s.session_id
    turns = sessions_done = 0
    start = time.process_time()
    while time.process_time() - start < SECONDS:
        for loaded, s in sessions:
            replay_session(loaded, s, keep_turns=False)
            turns += len(s.records)
            sessions_done += 1
    elapsed = time.process_time() - start
    turns_per_s = turns / elapsed
    avg = turns / sessions_done
    floor = step_floor(sessions)
    figures = {
        "bench": "replay",
        "sessions_per_s": round(turns_per_s / TURNS_PER_SESSION),
        "turns_per_s": round(turns_per_s),
        "step_floor_turns_per_s": round(floor),
        "step_floor_sessions_per_s": round(floor / TURNS_PER_SESSION),
        "example_sessions_per_s": round(sessions_done / elapsed),
        "example_turns_per_session": round(avg, 1),
        "sessions": len(sessions),
    }
    print(f"{len(sessions)} recorded example sessions ({avg:.1f} turns on average)")
    print(f"verified {turns_per_s:,.0f} turns/s on one core (CPU time)")
    print(
        f"= {turns_per_s / TURNS_PER_SESSION:,.0f} twenty-turn sessions/s "
        f"(target ≥ 2,000); {sessions_done / elapsed:,.0f} example sessions/s"
    )
    print(
        f"floor: step alone over the same events {floor:,.0f} turns/s = "
        f"{floor / TURNS_PER_SESSION:,.0f} twenty-turn sessions/s; verification costs "
        f"{(1 / turns_per_s - 1 / floor) * 1e6:,.1f} µs of the {1e6 / turns_per_s:,.1f} µs "
        f"a verified turn takes"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
