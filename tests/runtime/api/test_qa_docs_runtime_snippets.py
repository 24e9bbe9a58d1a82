"""docs/runtime.md's Python snippets (``step`` and the driver) run as written and print
what their comments say.

They used ``StartEvent``, ``UserInputEvent`` and ``now`` without importing or defining
them, and ``await`` outside a coroutine: copied into a file, each stopped at a
``NameError`` or a ``SyntaxError``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
RUNTIME_MD = ROOT / "docs" / "runtime.md"


def _snippet(marker: str) -> str:
    blocks = re.findall(r"^```python\n(.*?)^```$", RUNTIME_MD.read_text(), flags=re.S | re.M)
    (code,) = [b for b in blocks if marker in b]
    return str(code)


@pytest.mark.parametrize(
    "marker", ["from runtime.orchestrator import", "SessionDriver(MemoryStore()"]
)
def test_the_snippet_runs_and_prints_what_it_says(
    marker: str, tmp_path: Path, programs: dict[str, dict[str, Any]]
) -> None:
    code = _snippet(marker)
    expected = re.findall(r"#\s*(\d+ (?:waiting_input|\{).*)$", code, flags=re.M)
    assert len(expected) == 1, code
    (tmp_path / "program.json").write_text(json.dumps(programs["bank_card_block"]))
    (tmp_path / "snippet.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "snippet.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected[0].strip(), (done.stdout, expected)
