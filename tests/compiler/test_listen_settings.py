"""Voice listen settings: a DDT's ``listen`` (timeout, barge-in, ASR hints) compiled into
its data nodes, inherited by its sub-data; a say node's ``barge_in`` on its task; both left
out of the program when unset (the examples that do not use them keep their ids); E326,
E327, E328; and the JSON Schema editors get."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from compiler import compile_project, compile_project_dict
from compiler.ddt import compile_ddt
from runtime._cli_compiler import register
from schemas.ddt import CompiledDdt, ListenSpec
from schemas.diagnostics import Diagnostic
from schemas.program import SayTask
from schemas.project import DdtDef

ROOT = Path(__file__).resolve().parents[2]
app = typer.Typer()
register(app)


def _compile(
    data: dict[str, Any], languages: tuple[str, ...] = ("it", "en")
) -> tuple[CompiledDdt | None, list[Diagnostic]]:
    return compile_ddt(
        "birth",
        DdtDef.model_validate(data),
        languages=languages,
        prompts={},
        var_types={},
        locate=lambda suffix: ("flow.yaml", 1, 1),
    )


def _codes(diags: list[Diagnostic]) -> list[tuple[str, str, str]]:
    return [(d.code, d.severity, d.pointer) for d in diags]


def test_the_listen_settings_reach_the_main_data_and_its_sub_data() -> None:
    listen = {"timeout_ms": 8000, "barge_in": False, "hints": {"it": ["nato il"], "en": ["born"]}}
    ddt, diags = _compile({"type": "date", "listen": listen})
    assert diags == [] and ddt is not None
    want = ListenSpec(timeout_ms=8000, barge_in=False, hints={"it": ("nato il",), "en": ("born",)})
    assert ddt.root.listen == want
    assert [c.listen for c in ddt.root.children] == [want, want, want]


def test_a_sub_data_replaces_the_fields_it_sets_and_inherits_the_others() -> None:
    ddt, diags = _compile(
        {
            "type": "date",
            "listen": {"timeout_ms": 8000, "hints": {"it": ["marzo"]}},
            "subdata": {"year": {"listen": {"barge_in": False, "hints": {"it": ["duemila"]}}}},
        }
    )
    assert diags == [] and ddt is not None
    year = next(c for c in ddt.root.children if c.name == "year")
    assert year.listen == ListenSpec(timeout_ms=8000, barge_in=False, hints={"it": ("duemila",)})
    day = next(c for c in ddt.root.children if c.name == "day")
    assert day.listen == ddt.root.listen == ListenSpec(timeout_ms=8000, hints={"it": ("marzo",)})


def test_a_sub_data_may_clear_the_hints_it_inherits() -> None:
    ddt, diags = _compile(
        {
            "type": "date",
            "listen": {"timeout_ms": 8000, "hints": {"it": ["marzo"]}},
            "subdata": {"year": {"listen": {"hints": {}}}},
        }
    )
    assert diags == [] and ddt is not None
    year = next(c for c in ddt.root.children if c.name == "year")
    assert year.listen == ListenSpec(timeout_ms=8000)


def test_a_sub_data_alone_may_set_them() -> None:
    ddt, diags = _compile({"type": "date", "subdata": {"year": {"listen": {"timeout_ms": 9000}}}})
    assert diags == [] and ddt is not None
    assert ddt.root.listen is None
    assert {c.name: c.listen for c in ddt.root.children} == {
        "day": None,
        "month": None,
        "year": ListenSpec(timeout_ms=9000),
    }


@pytest.mark.parametrize(
    "listen", [None, {}, {"timeout_ms": 5000, "barge_in": True}, {"hints": {"it": []}}]
)
def test_unset_or_default_settings_leave_the_program_unchanged(listen: Any) -> None:
    plain, _ = _compile({"type": "date"})
    data: dict[str, Any] = {"type": "date"}
    if listen is not None:
        data["listen"] = listen
    ddt, diags = _compile(data)
    assert diags == [] and ddt is not None and plain is not None
    assert ddt.root.listen is None
    assert ddt.model_dump(mode="json") == plain.model_dump(mode="json")
    assert "listen" not in ddt.root.model_dump(mode="json")


def test_hints_are_plain_phrases_spaces_collapsed_each_once() -> None:
    phrases = ["  carta  di credito", "carta di credito", "bancomat"]
    ddt, diags = _compile({"type": "text", "listen": {"hints": {"it": phrases}}})
    assert diags == [] and ddt is not None and ddt.root.listen is not None
    assert ddt.root.listen.hints == {"it": ("carta di credito", "bancomat")}


@pytest.mark.parametrize(
    ("timeout", "ok"),
    [(999, False), (1000, True), (60000, True), (60001, False), (0, False), (-5, False)],
)
def test_the_timeout_has_bounds(timeout: int, ok: bool) -> None:
    ddt, diags = _compile({"type": "date", "listen": {"timeout_ms": timeout}})
    if ok:
        assert diags == [] and ddt is not None
        return
    assert ddt is None
    assert _codes(diags) == [("E326", "error", "/ddts/birth/listen/timeout_ms")]
    assert diags[0].message == f"listen timeout_ms {timeout} is out of bounds: 1000 to 60000 ms"
    assert diags[0].hint is not None and "1000 to 60000" in diags[0].hint


def test_a_sub_data_timeout_has_the_same_bounds() -> None:
    ddt, diags = _compile({"type": "date", "subdata": {"day": {"listen": {"timeout_ms": 70000}}}})
    assert ddt is None
    assert _codes(diags) == [("E326", "error", "/ddts/birth/subdata/day/listen/timeout_ms")]


@pytest.mark.parametrize(
    ("hint", "message"),
    [
        ("", "an empty listen hint"),
        ("   ", "an empty listen hint"),
        ("x" * 101, "a listen hint of 101 characters (at most 100)"),
        ("il {{ giorno }}", "a listen hint is a phrase the caller says: it cannot hold '{{'"),
        ("<say-as>1</say-as>", "a listen hint is a phrase the caller says: it cannot hold '<'"),
    ],
)
def test_a_bad_hint_is_e327(hint: str, message: str) -> None:
    ddt, diags = _compile({"type": "date", "listen": {"hints": {"it": ["ok", hint]}}})
    assert ddt is None
    assert _codes(diags) == [("E327", "error", "/ddts/birth/listen/hints/it/1")]
    assert diags[0].message == message


def test_too_many_hints_is_e327() -> None:
    phrases = [f"frase {i}" for i in range(101)]
    ddt, diags = _compile({"type": "text", "listen": {"hints": {"en": phrases}}})
    assert ddt is None
    assert _codes(diags) == [("E327", "error", "/ddts/birth/listen/hints/en")]
    assert diags[0].message == "101 listen hints: at most 100 per language"


def test_hints_in_a_language_the_project_does_not_declare_are_a_warning() -> None:
    ddt, diags = _compile(
        {"type": "date", "listen": {"hints": {"it": ["nato il"], "en": ["born on"]}}},
        languages=("it",),
    )
    assert ddt is not None
    assert _codes(diags) == [("E328", "warning", "/ddts/birth/listen/hints/en")]
    assert ddt.root.listen == ListenSpec(hints={"it": ("nato il",)})


@pytest.mark.parametrize(
    ("listen", "field"),
    [
        ({"timeout_ms": "8000"}, "timeout_ms"),
        ({"timeout_ms": 8000.0}, "timeout_ms"),
        ({"barge_in": "false"}, "barge_in"),
        ({"hints": ["nato il"]}, "hints"),
        ({"hints": {"fr": ["né le"]}}, "hints"),
        ({"timeout": 8000}, "timeout"),
    ],
)
def test_the_project_format_is_strict(listen: dict[str, Any], field: str) -> None:
    result = compile_project_dict(_project(listen=listen))
    assert not result.ok
    errors = [d.code for d in result.diagnostics if d.severity == "error"]
    assert errors[0] in ("E020", "E022", "E023")
    assert field in result.diagnostics[0].message


def _project(*, listen: dict[str, Any] | None = None, barge_in: Any = None) -> dict[str, Any]:
    say: dict[str, Any] = {"text": {"it": "La chiamata è registrata."}}
    if barge_in is not None:
        say["barge_in"] = barge_in
    ddt: dict[str, Any] = {"type": "date"}
    if listen is not None:
        ddt["listen"] = listen
    return {
        "name": "mini",
        "languages": ["it"],
        "variables": {"birth": {"type": "date"}},
        "ddts": {"birth": ddt},
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "notice", "kind": "say", "data": say},
            {
                "id": "ask",
                "kind": "get_data",
                "data": {"ddt": "birth", "into": "birth", "on_failure": "bye"},
            },  # fmt: skip
            {"id": "bye", "kind": "end"},
        ],
        "edges": [
            {"source": "start", "target": "notice"},
            {"source": "notice", "target": "ask"},
            {"source": "ask", "target": "bye"},
        ],
    }


def test_a_say_node_barge_in_reaches_its_task_and_only_when_set() -> None:
    plain = compile_project_dict(_project())
    assert plain.ok and plain.program is not None
    say = [t for t in plain.program.tasks if isinstance(t, SayTask)]
    assert [t.barge_in for t in say] == [None]
    assert b"barge_in" not in plain.program.canonical_bytes()
    for value in (False, True):
        result = compile_project_dict(_project(barge_in=value))
        assert result.ok and result.program is not None
        (task,) = [t for t in result.program.tasks if isinstance(t, SayTask)]
        assert task.barge_in is value
        assert result.program.with_id().id != plain.program.with_id().id


def test_a_say_node_barge_in_is_a_boolean() -> None:
    result = compile_project_dict(_project(barge_in="no"))
    assert not result.ok
    assert [(d.code, d.message) for d in result.diagnostics] == [
        ("E022", "'barge_in' must be true or false, not string 'no'")
    ]


def test_examples_that_do_not_opt_in_keep_no_listen_settings() -> None:
    for name in ("insurance_claim", "medical_booking"):
        result = compile_project(ROOT / "examples" / name)
        assert result.ok and result.program is not None
        data = result.program.canonical_bytes()
        assert b'"listen"' not in data and b"barge_in" not in data, name


def test_the_json_schema_for_editors_has_the_new_fields() -> None:
    r = CliRunner().invoke(app, ["schema"])
    assert r.exit_code == 0
    defs = json.loads(r.output)["$defs"]
    listen = defs["ListenDef"]["properties"]
    assert set(listen) == {"timeout_ms", "barge_in", "hints"}
    assert (listen["timeout_ms"]["minimum"], listen["timeout_ms"]["maximum"]) == (1000, 60000)
    assert listen["timeout_ms"]["default"] == 5000 and listen["barge_in"]["default"] is True
    assert "listen" in defs["DdtDef"]["properties"] and "listen" in defs["SubDataDef"]["properties"]
    assert "barge_in" in defs["SayData"]["properties"]
    r = CliRunner().invoke(app, ["schema", "--program"])
    defs = json.loads(r.output)["$defs"]
    assert set(defs["ListenSpec"]["properties"]) == {"timeout_ms", "barge_in", "hints"}
    assert "listen" in defs["DataNode"]["properties"]
    assert "barge_in" in defs["SayTask"]["properties"]
