"""Hypothesis: determinism (same bytes twice, whatever the order of the source) and
robustness (mutated projects give diagnostics or a program, never an internal error)."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import CompileResult, compile_project, compile_project_dict
from compiler.loader import load_project
from schemas.program import Program

EXAMPLE = Path(__file__).parents[2] / "examples" / "medical_booking"
DATA: dict[str, Any] = load_project(EXAMPLE).data or {}
BASE = compile_project_dict(DATA)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _no_internal_error(result: CompileResult) -> None:
    assert not [d for d in result.diagnostics if d.code in ("E000", "E399")], result.diagnostics
    assert result.ok == (result.program is not None)
    assert result.ok == (not any(d.severity == "error" for d in result.diagnostics))
    if result.program is not None:
        raw = result.program.canonical_bytes()
        assert Program.model_validate_json(raw).canonical_bytes() == raw


def _shuffled_mapping(d: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    items = list(d.items())
    rnd.shuffle(items)
    return dict(items)


def test_the_example_compiles_clean_and_twice_the_same() -> None:
    first = compile_project(EXAMPLE)
    second = compile_project(EXAMPLE)
    assert first.ok and not first.errors
    assert first.program is not None and second.program is not None
    assert first.program.canonical_bytes() == second.program.canonical_bytes()
    assert BASE.ok and BASE.program is not None


@SETTINGS
@given(st.randoms(use_true_random=False))
def test_order_of_nodes_edges_and_mappings_does_not_matter(rnd: random.Random) -> None:
    data = copy.deepcopy(DATA)
    rnd.shuffle(data["nodes"])
    rnd.shuffle(data["edges"])
    for key in ("variables", "ddts", "backends"):
        data[key] = _shuffled_mapping(data[key], rnd)
    data["prompts"] = {
        lang: _shuffled_mapping(table, rnd)
        for lang, table in _shuffled_mapping(data["prompts"], rnd).items()
    }
    data = _shuffled_mapping(data, rnd)
    result = compile_project_dict(data)
    assert result.program is not None and BASE.program is not None
    assert result.program.canonical_bytes() == BASE.program.canonical_bytes()


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=4))
def test_how_definitions_are_spread_over_files_does_not_matter(
    rnd: random.Random, nfiles: int
) -> None:
    import tempfile

    reference = compile_project(EXAMPLE)
    assert reference.program is not None
    flow_text = (EXAMPLE / "flow.yaml").read_text(encoding="utf-8")
    rest: dict[str, Any] = {"ddts": {}, "prompts": {}}
    for name in ("ddts.yaml", "prompts.it.yaml", "prompts.en.yaml"):
        doc = yaml.safe_load((EXAMPLE / name).read_text(encoding="utf-8"))
        for key, value in doc.items():
            for k, v in value.items():
                rest[key].setdefault(k, {})
                rest[key][k] = v if key == "ddts" else {**rest[key][k], **v}
    files: list[dict[str, Any]] = [{} for _ in range(nfiles)]
    for name, ddt in _shuffled_mapping(rest["ddts"], rnd).items():
        files[rnd.randrange(nfiles)].setdefault("ddts", {})[name] = ddt
    for lang, table in rest["prompts"].items():
        for pid, text in _shuffled_mapping(table, rnd).items():
            target = files[rnd.randrange(nfiles)].setdefault("prompts", {})
            target.setdefault(lang, {})[pid] = text
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "flow.yaml").write_text(flow_text, encoding="utf-8")
        names = [f"{rnd.choice('abcxyz')}{i}.yaml" for i in range(nfiles)]
        for name, content in zip(names, files, strict=True):
            if content:
                (root / name).write_text(
                    yaml.safe_dump(content, allow_unicode=True), encoding="utf-8"
                )
        result = compile_project(root)
    assert result.program is not None, result.diagnostics
    assert result.program.canonical_bytes() == reference.program.canonical_bytes()


# -- robustness ------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(DATA)
    ids = [n["id"] for n in data["nodes"]]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["drop", "replace", "edge", "condition", "template"]))
        paths = [p for p in _paths(data) if p]
        if action == "drop" and paths:
            path = draw(st.sampled_from(paths))
            parent = _parent(data, path)
            del parent[path[-1]]
        elif action == "replace" and paths:
            path = draw(st.sampled_from(paths))
            _parent(data, path)[path[-1]] = draw(_VALUES)
        elif action == "edge" and isinstance(data.get("edges"), list):
            node_ids = st.one_of(st.sampled_from(ids), st.text(max_size=8))
            edge: dict[str, Any] = {"source": draw(node_ids), "target": draw(node_ids)}
            if draw(st.booleans()):
                edge["condition"] = draw(st.text(max_size=20))
            if draw(st.booleans()):
                edge["else"] = True
            data["edges"].append(edge)
        elif action == "condition" and isinstance(data.get("edges"), list) and data["edges"]:
            i = draw(st.integers(min_value=0, max_value=len(data["edges"]) - 1))
            if isinstance(data["edges"][i], dict):
                data["edges"][i]["condition"] = draw(
                    st.text(alphabet="abcdeflnotrsy_.()<>=!+-*/%'\" 0123456789[],|", max_size=30)
                )
        elif action == "template" and isinstance(data.get("prompts"), dict):
            table = data["prompts"].get("it")
            if isinstance(table, dict) and table:
                key = draw(st.sampled_from(sorted(table)))
                table[key] = draw(st.text(alphabet="{}|'()ab x.", max_size=30))
    return data


@SETTINGS
@given(mutated())
def test_mutated_projects_never_break_the_compiler(data: dict[str, Any]) -> None:
    _no_internal_error(compile_project_dict(data))


@settings(max_examples=40, deadline=None)
@given(_VALUES)
def test_arbitrary_documents_never_break_the_compiler(doc: Any) -> None:
    _no_internal_error(compile_project_dict(doc if isinstance(doc, dict) else {"x": doc}))


_YAMLISH = st.text(alphabet="ab:-[]{}&*!|>'\"#\n \t,.?%@`~0123456789è", max_size=80)


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.binary(max_size=200), _YAMLISH), st.sampled_from(["p.yaml", "p.json"]))
def test_arbitrary_bytes_never_break_the_loader(content: bytes | str, name: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        result = compile_project(path)
    _no_internal_error(result)
    assert result.diagnostics or result.ok


def test_mutations_reach_every_stage() -> None:
    """The mutation strategy is not vacuous: it yields programs and errors of many stages."""
    from hypothesis import find

    codes: set[str] = set()

    def collect(data: dict[str, Any]) -> bool:
        result = compile_project_dict(data)
        codes.update(d.code[:2] for d in result.diagnostics)
        return {"E0", "E1", "E2"} <= codes

    find(mutated(), collect, settings=settings(max_examples=500, deadline=None))
