"""Rewrite the golden recorded sessions: ``python -m tests.runtime.golden.regen``.

Each example's conversation tests run through the real driver; their JSONL turn logs and
the compiled program are written here. The replay test must then replay them identical with
the engine of the day: a change that breaks it changed the behaviour of recorded sessions.
Review the diff before committing new goldens.

``python -m tests.runtime.golden.regen --actions`` keeps the recorded sessions and their
programs and re-records only the actions today's engine gives for them, for a deliberate
change of what the actions say (a new field of an action): every turn must still reach
the recorded state (its digest), else nothing is written and a full rewrite is needed. The
turns whose actions are unchanged keep their bytes, so the diff is the change itself.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from compiler import compile_project
from runtime.convtest import find_test_files, load_tests, run_test
from runtime.orchestrator import run_step
from runtime.programs import ProgramRegistry
from runtime.replay import action_json, load_jsonl, origin_state, replay_session
from schemas.program import Program

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[2] / "examples"


async def main() -> None:
    for project in sorted(p for p in EXAMPLES.iterdir() if find_test_files(p)):
        result = compile_project(project)
        assert result.ok and result.program is not None, project
        loaded = ProgramRegistry().add(result.program)
        lines: list[bytes] = []
        with tempfile.TemporaryDirectory() as d:
            tests = [t for f in find_test_files(project) for t in load_tests(f)]
            for i, t in enumerate(tests):
                log = Path(d) / f"{i}.jsonl"
                await run_test(loaded, t, log)
                lines.append(log.read_bytes())
        (HERE / f"{project.name}.jsonl").write_bytes(b"".join(lines))
        (HERE / f"{project.name}.program.json").write_bytes(loaded.program.canonical_bytes())
        print(f"{project.name}: {len(tests)} sessions")


def _changes(old: list[Any], new: list[Any]) -> list[str]:
    """What differs between two turns' actions, said briefly: 'listen +confirming'."""
    if len(old) != len(new) or any(
        a.get("type") != b.get("type") for a, b in zip(old, new, strict=True)
    ):
        return ["other actions"]
    out = []
    for a, b in zip(old, new, strict=True):
        for key in sorted(set(a) | set(b)):
            if a.get(key, ...) != b.get(key, ...):
                sign = "+" if key not in a else "-" if key not in b else "~"
                out.append(f"{a['type']} {sign}{key}")
    return out


def rerecord_actions(case: str) -> Counter[str]:
    """The golden log of ``case`` with the actions of today's engine; SystemExit when a
    turn no longer reaches its recorded state. Returns what changed, counted by turn."""
    path = HERE / f"{case}.jsonl"
    program = Program.model_validate_json((HERE / f"{case}.program.json").read_bytes())
    loaded = ProgramRegistry().add(program)
    lines = path.read_bytes().splitlines(keepends=True)
    where = {}
    for i, line in enumerate(lines):
        head = orjson.loads(line)
        where[(head["tenant"], head["session_id"], head["seq"])] = i
    changed: Counter[str] = Counter()
    for log in load_jsonl(path):
        state = origin_state(loaded, log)
        for rec in log.records:
            r = run_step(program, state, rec.event, engine=loaded.engine, plugins=loaded.plugins)
            if r.state.digest() != rec.state_digest:
                raise SystemExit(
                    f"{case} {log.session_id} seq {rec.seq}: the state differs from the "
                    "recorded one — not an actions-only change: regenerate in full"
                )
            old, new = action_json(rec.actions), action_json(r.actions)
            if old != new:
                i = where[(log.tenant, log.session_id, rec.seq)]
                data = orjson.loads(lines[i])
                data["actions"] = new
                lines[i] = orjson.dumps(data) + b"\n"
                changed.update(set(_changes(old, new)))
                changed["turns"] += 1
            state = r.state
    if changed:
        path.write_bytes(b"".join(lines))
        for log in load_jsonl(path):
            res = replay_session(loaded, log)
            assert res.ok, f"{case} {log.session_id}: {res.divergence}"
    return changed


if __name__ == "__main__":
    if sys.argv[1:] == ["--actions"]:
        for golden in sorted(HERE.glob("*.jsonl")):
            counts = rerecord_actions(golden.stem)
            said = ", ".join(f"{k} ({n})" for k, n in sorted(counts.items())) or "unchanged"
            print(f"{golden.stem}: {said}")
    else:
        asyncio.run(main())
