"""Contract: every DDT of the example projects, compiled and read back from program JSON,
loads into the engine and speaks in every state, language and channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler import compile_project
from ddt_engine.engine import DdtEngine
from schemas.actions import ListenAction, SayAction
from schemas.events import NoInputEvent, UserInputEvent
from schemas.program import Program
from tests.ddt_engine._ddt_helpers import AT

EXAMPLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "examples").iterdir()
                  if p.is_dir())  # fmt: skip


@pytest.mark.parametrize("project", EXAMPLES, ids=lambda p: p.name)
def test_example_ddts_run_from_program_json(project: Path) -> None:
    result = compile_project(project)
    assert result.program is not None, result.diagnostics
    program = Program.model_validate_json(result.program.canonical_bytes())
    engine = DdtEngine(program.ddts)
    assert program.ddts
    for name in program.ddts:
        for lang in program.languages:
            for channel in ("voice", "chat"):
                step = engine.begin(name, memory={}, language=lang, channel=channel, at=AT)
                assert step.state is not None
                says = [a for a in step.actions if isinstance(a, SayAction)]
                assert len(says) == 1 and says[0].text.strip()
                assert "$" not in says[0].text
                assert isinstance(step.actions[-1], ListenAction)
                state = step.state
                for event in (
                    UserInputEvent(at=AT, text="qwertyuiop"),
                    NoInputEvent(at=AT),
                ):
                    nxt = engine.handle(state, event, memory={}, language=lang, channel=channel)
                    assert nxt.outcome in ("continue", "success"), (name, nxt.reason)
                    assert not (nxt.reason or "").startswith(("internal_error", "bad_state"))
                    texts = [a.text for a in nxt.actions if isinstance(a, SayAction)]
                    assert all(t.strip() and "$" not in t for t in texts), texts
