"""Rewrite the golden recorded sessions: ``python -m tests.runtime.golden.regen``.

Each example's conversation tests run through the real driver; their JSONL turn logs and
the compiled program are written here. The replay test must then replay them identical with
the engine of the day: a change that breaks it changed the behaviour of recorded sessions.
Review the diff before committing new goldens.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from compiler import compile_project
from runtime.convtest import find_test_files, load_tests, run_test
from runtime.programs import ProgramRegistry

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


if __name__ == "__main__":
    asyncio.run(main())
