"""Benchmark: turns/s of ``step`` over the example projects' conversations, on one core,
and the bytes of session state per waiting session.

Each example's conversation tests are run once through the driver to record their events
(start, user input, backend results …); the events are then replayed through ``step``
(the pure function alone: no store, no sink, no effects) for about ``SECONDS`` seconds
of CPU time (process time, so other load on the machine does not count).
Last line: {"bench": "step", "turns_per_s": …, "state_bytes_max": …}.
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as `python bench/step.py`: bench/ is sys.path[0], where a sibling script (http.py…)
# could shadow a standard module; only the repository root is wanted
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import asyncio  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler import compile_project  # noqa: E402
from runtime.convtest import find_test_files, load_tests, run_test  # noqa: E402
from runtime.orchestrator import new_session, run_step  # noqa: E402
from runtime.programs import LoadedProgram, ProgramRegistry  # noqa: E402
from runtime.sinks.jsonl import read_turns  # noqa: E402
from schemas.events import Event  # noqa: E402
from schemas.session import SessionState  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0

Conversation = tuple[LoadedProgram, SessionState, list[Event]]


def conversations() -> list[Conversation]:
    out: list[Conversation] = []
    registry = ProgramRegistry()
    with tempfile.TemporaryDirectory() as tmp:
        for project in sorted((ROOT / "examples").iterdir()):
            files = find_test_files(project)
            if not files:
                continue
            result = compile_project(project)
            if result.program is None:
                print(f"skip {project.name}: does not compile")
                continue
            lp = registry.add(result.program)
            for i, test in enumerate(t for f in files for t in load_tests(f)):
                log = Path(tmp) / f"{project.name}-{i}.jsonl"
                asyncio.run(run_test(lp, test, log))
                records = list(read_turns(log))
                first = records[0].state
                assert first is not None
                s0 = new_session(
                    lp.program,
                    records[0].session_id,
                    language=first.language,
                    channel=first.channel,
                )
                out.append((lp, s0, [r.event for r in records]))
    return out


class _Recorded:
    """The DDT engine's answers recorded on a first pass, replayed in order: measures what
    ``step`` costs without the DDT engine and its extractors."""

    def __init__(self, engine: object) -> None:
        self.engine = engine
        self.answers: list[object] = []
        self.i = 0
        self.recording = True

    def begin(self, *a: object, **kw: object) -> object:
        return self._next("begin", a, kw)

    def handle(self, *a: object, **kw: object) -> object:
        return self._next("handle", a, kw)

    def _next(self, name: str, a: tuple[object, ...], kw: dict[str, object]) -> object:
        if self.recording:
            r = getattr(self.engine, name)(*a, **kw)
            self.answers.append(r)
            return r
        r = self.answers[self.i]
        self.i += 1
        return r


def _rate(convs: list[Conversation], engines: list[object] | None) -> tuple[int, float]:
    turns = 0
    t0 = time.process_time()
    deadline = t0 + SECONDS
    while time.process_time() < deadline:
        for k, (lp, s, evs) in enumerate(convs):
            program, plugins = lp.program, lp.plugins
            engine = lp.engine
            if engines is not None:
                rec = engines[k]
                assert isinstance(rec, _Recorded)
                rec.i = 0
                engine = rec  # type: ignore[assignment]
            for ev in evs:
                s = run_step(program, s, ev, engine=engine, plugins=plugins).state
            turns += len(evs)
    return turns, time.process_time() - t0


def main() -> None:
    convs = conversations()
    n_events = sum(len(evs) for _, _, evs in convs)
    print(f"{len(convs)} conversations, {n_events} events from the examples' tests")
    state_max = 0
    for lp, s, evs in convs:  # warm-up, and the size of every waiting state
        for ev in evs:
            s = run_step(lp.program, s, ev, engine=lp.engine, plugins=lp.plugins).state
            if s.status == "waiting_input" or s.awaiting is not None:
                state_max = max(state_max, len(s.model_dump_json().encode()))
    turns, elapsed = _rate(convs, None)
    tps = turns / elapsed
    print(f"step with the DDT engine: {turns} turns in {elapsed:.2f} s: {tps:,.0f} turns/s")
    recorded: list[object] = []
    for lp, s, evs in convs:
        rec = _Recorded(lp.engine)
        for ev in evs:
            s = run_step(lp.program, s, ev, engine=rec, plugins=lp.plugins).state  # type: ignore[arg-type]
        rec.recording = False
        recorded.append(rec)
    o_turns, o_elapsed = _rate(convs, recorded)
    otps = o_turns / o_elapsed
    print(f"step alone (DDT answers replayed): {otps:,.0f} turns/s")
    print(f"largest waiting session state: {state_max} bytes of JSON (target < 4096)")
    print(
        json.dumps(
            {
                "bench": "step",
                "turns_per_s": round(tps),
                "orchestrator_turns_per_s": round(otps),
                "state_bytes_max": state_max,
            }
        )
    )


if __name__ == "__main__":
    main()
