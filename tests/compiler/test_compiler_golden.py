"""Golden cases: ``ddtflow check`` output for every project under ``cases/``.

Each case is ``cases/<name>/project/`` (one or more YAML/JSON files) and
``cases/<name>/expected.txt``: the exit code, then the whole rendered text, exactly as
``ddtflow check project`` prints it from inside the case directory. Rewrite them with
``make golden`` (``DDTFLOW_UPDATE_GOLDEN=1``) and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime._cli_compiler import check_text

CASES = Path(__file__).parent / "cases"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "project").is_dir())


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES / name
    monkeypatch.chdir(case)
    text, code = check_text("project")
    actual = f"exit {code}\n{text}"
    expected = case / "expected.txt"
    if os.environ.get("DDTFLOW_UPDATE_GOLDEN") == "1":
        expected.write_text(actual, encoding="utf-8")
    assert expected.exists(), f"no expected.txt for {name}: run make golden"
    assert actual == expected.read_text(encoding="utf-8")


def test_every_code_has_a_case() -> None:
    """Each diagnostic code documented in docs/compiler.md appears in some golden case."""
    import re

    docs = (Path(__file__).parents[2] / "docs" / "compiler.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([EW]\d{3})` \|", docs, flags=re.M))
    seen: set[str] = set()
    for name in NAMES:
        seen |= set(
            re.findall(
                r"(?:error|warning)\[([EW]\d{3})\]", (CASES / name / "expected.txt").read_text()
            )
        )
    untested = {"E000", "E001", "E002", "E008", "E399"}  # covered in test_compiler_loader.py
    missing = sorted(documented - seen - untested)
    assert not missing, f"codes without a golden case: {missing}"
