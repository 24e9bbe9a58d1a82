"""Rendering of diagnostics, ordering, the summary line, and the pinned public API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import compiler
from compiler import compile_project, compile_project_dict
from compiler.errors import did_you_mean, render_all, render_diagnostic, summary
from schemas.diagnostics import Diagnostic


def _d(**kw: object) -> Diagnostic:
    base: dict[str, object] = {"code": "E102", "severity": "error", "file": "flow.yaml"}
    base.update(kw)
    return Diagnostic.model_validate(base)


def test_render_like_a_compiler() -> None:
    d = _d(
        line=42,
        col=33,
        end_col=36,
        message="edge targets unknown node 'pay'",
        hint="did you mean 'payment'?",
        snippet="    - {source: confirm, target: pay}",
    )
    assert render_diagnostic(d) == (
        "flow.yaml:42:33: error[E102]: edge targets unknown node 'pay'\n"
        "   42 |     - {source: confirm, target: pay}\n"
        "      |                                 ^^^\n"
        "   hint: did you mean 'payment'?"
    )


def test_tabs_are_kept_so_the_caret_lines_up() -> None:
    d = _d(line=3, col=3, end_col=4, message="m", snippet="\t\tx: 1")
    assert render_diagnostic(d).splitlines()[2] == "      | \t\t^"


def test_long_lines_are_cut_around_the_column() -> None:
    snippet = "[" * 500 + "X" + "]" * 500
    text = render_diagnostic(_d(line=1, col=501, end_col=502, message="m", snippet=snippet))
    source, caret = text.splitlines()[1:3]
    assert len(source) < 140 and source.startswith("    1 | …") and source.endswith("…")
    assert source[caret.index("^")] == "X"


def test_no_position_no_snippet() -> None:
    assert render_diagnostic(_d(message="m")) == "flow.yaml: error[E102]: m"


def test_sorting_dedup_and_summary() -> None:
    a = _d(file="b.yaml", line=1, col=1, message="x")
    b = _d(file="a.yaml", line=9, col=1, message="y", severity="warning", code="W001")
    c = _d(file="a.yaml", line=2, col=5, message="z")
    text = render_all([a, b, c, a])
    assert [line.split(":")[0:2] for line in text.splitlines()[:3]] == [
        ["a.yaml", "2"],
        ["a.yaml", "9"],
        ["b.yaml", "1"],
    ]
    assert text.endswith("2 errors, 1 warning\n")
    assert summary([]) == "0 errors, 0 warnings"


def test_did_you_mean() -> None:
    assert did_you_mean("conditon", ["condition", "target"]) == "did you mean 'condition'?"
    assert did_you_mean("Start", ["start"]) == "did you mean 'start'?"
    assert did_you_mean("zzz", ["start"]) is None


def test_public_api_is_pinned() -> None:
    assert sorted(compiler.__all__) == [
        "CompileResult",
        "compile_project",
        "compile_project_dict",
        "program_bytes",
        "render_all",
        "render_diagnostic",
        "summary",
        "summary_line",
    ]


def test_the_annotated_example_in_the_docs_compiles_clean(tmp_path: Path) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "compiler.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```yaml\n(format: 1.*?)```", docs, flags=re.S)
    (tmp_path / "project.yaml").write_text(example, encoding="utf-8")
    result = compile_project(tmp_path / "project.yaml")
    assert result.ok, render_all(result.diagnostics)
    assert not result.diagnostics, render_all(result.diagnostics)


@pytest.mark.parametrize(
    "change,message,hint",
    [
        # the QA pass found "'languages' must have at least 1 item after validation, not 0,
        # not a list", "invalid value 'number 2'" and "'1' …; did you mean '1'?"
        ({"languages": []}, "'languages' must have at least 1 item", None),
        ({"format": 2}, "invalid value number 2 for 'format'", "expected one of: 1"),
        (
            {"format": "1"},
            "invalid value '1' for 'format'",
            "expected one of: 1 (a number: write it without quotes)",
        ),
    ],
)
def test_schema_messages_read_well(change: dict[str, object], message: str, hint: str) -> None:
    project: dict[str, object] = {"name": "x", "languages": ["it"], **change}
    result = compile_project_dict(project)
    assert [(d.code, d.message, d.hint) for d in result.diagnostics] == [("E023", message, hint)]


@pytest.mark.parametrize(
    "var_type,default,ok",
    [
        ("date", "2024-02-29", True),
        ("date", "2024-02-30", False),  # the QA pass: the shape was checked, not the date
        ("time", "09:30", True),
        ("time", "25:99", False),
        ("datetime", "2024-03-01T10:00", True),
        ("datetime", "2024-03-01T10:00 tomorrow", False),
    ],
)
def test_date_and_time_defaults_must_exist(var_type: str, default: str, ok: bool) -> None:
    project = {
        "name": "x",
        "languages": ["it"],
        "variables": {"v": {"type": var_type, "default": default}},
    }
    codes = [d.code for d in compile_project_dict(project).diagnostics if d.severity == "error"]
    assert ("E209" not in codes) is ok, codes
