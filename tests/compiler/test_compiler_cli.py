"""``ddtflow check``, ``compile`` and ``schema`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from runtime._cli_compiler import register
from schemas.program import Program

ROOT = Path(__file__).parents[2]
EXAMPLE = str(ROOT / "examples" / "medical_booking")
BROKEN = str(ROOT / "tests" / "compiler" / "cases" / "e101_e102_unknown_nodes" / "project")
WARN = str(ROOT / "tests" / "compiler" / "cases" / "w001_w002_warnings" / "project")

app = typer.Typer()
register(app)
runner = CliRunner()


def test_check_clean_example_exits_0() -> None:
    r = runner.invoke(app, ["check", EXAMPLE])
    assert r.exit_code == 0 and r.output.endswith("\n") and "0 errors" in r.output


def test_check_errors_exit_1_and_warnings_alone_exit_0() -> None:
    r = runner.invoke(app, ["check", BROKEN])
    assert r.exit_code == 1
    assert "error[E102]: edge targets unknown node 'byee'" in r.output
    assert r.output.endswith("2 errors, 1 warning\n")
    assert runner.invoke(app, ["check", WARN]).exit_code == 0


def test_check_json_format() -> None:
    r = runner.invoke(app, ["check", BROKEN, "--format", "json"])
    assert r.exit_code == 1
    rows = json.loads(r.output)
    assert [row["code"] for row in rows] == ["W001", "E102", "E101"]
    assert rows[1] == {
        "code": "E102",
        "severity": "error",
        "file": str(Path(BROKEN) / "flow.yaml"),
        "line": 16,
        "col": 27,
        "pointer": "/edges/2/target",
        "message": "edge targets unknown node 'byee'",
        "hint": "did you mean 'bye'?",
    }


def test_compile_writes_canonical_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out" / "program.json"
    r = runner.invoke(app, ["compile", EXAMPLE, "-o", str(out)])
    assert r.exit_code == 0, r.output
    program = Program.model_validate_json(out.read_bytes())
    assert r.output.splitlines()[0] == program.id
    assert out.read_bytes() == program.canonical_bytes()
    assert f"{len(program.tasks)} tasks, {len(program.ddts)} DDTs" in r.output
    assert [p.name for p in out.parent.iterdir()] == ["program.json"]  # no temp file left


def test_compile_refuses_a_broken_project(tmp_path: Path) -> None:
    out = tmp_path / "program.json"
    r = runner.invoke(app, ["compile", BROKEN, "-o", str(out)])
    assert r.exit_code == 1 and not out.exists()


def test_garbage_gives_a_diagnostic_not_a_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    r = runner.invoke(app, ["check", str(junk)])
    assert r.exit_code == 1
    assert "Traceback" not in r.output and "error[E003]" in r.output
    r = runner.invoke(app, ["check", str(tmp_path / "missing")])
    assert r.exit_code == 1 and "error[E001]" in r.output


def test_schema_of_the_project_and_of_the_program() -> None:
    r = runner.invoke(app, ["schema"])
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert doc["title"] == "Project" and "else" in doc["$defs"]["Edge"]["properties"]
    r = runner.invoke(app, ["schema", "--program"])
    assert json.loads(r.output)["title"] == "Program"
