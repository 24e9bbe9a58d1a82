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


# -- random graphs: whatever compiles lowers to a well-formed program, independent of order --

_CONDITIONS = ["n > 1", "n == 0", "ok", "not ok", "n % 2 == 0", "1 + 1 == 2", "n >= 10 and ok"]


@st.composite
def random_graph(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid graphs: one fall-through edge per node, a few conditional ones."""
    size = draw(st.integers(min_value=1, max_value=12))
    kinds = ["say", "branch", "set", "get_data", "get_data", "say", "end"]
    nodes: list[dict[str, Any]] = [{"id": "start", "kind": "start"}]
    for i in range(size):
        kind = draw(st.sampled_from(kinds))
        node: dict[str, Any] = {"id": f"n{i}", "kind": kind}
        if kind == "say":
            node["data"] = {"text": {"it": f"testo {i}"}}
        elif kind == "set":
            node["data"] = {"assign": {"n": "n + 1"}}
        elif kind == "get_data":
            node["data"] = {
                "ddt": "num",
                "into": "n",
                "on_failure": draw(st.sampled_from(["op", "fin"])),
            }
        nodes.append(node)
    nodes += [{"id": "op", "kind": "transfer"}, {"id": "fin", "kind": "end"}]
    targets = [n["id"] for n in nodes[1:]]
    edges: list[dict[str, Any]] = []
    for node in nodes:
        if node["kind"] in ("end", "transfer"):
            continue
        conds = draw(st.integers(0, 2)) if node["kind"] != "branch" else draw(st.integers(1, 3))
        for c in range(conds):
            edges.append(
                {
                    "id": f"{node['id']}.c{c}",
                    "source": node["id"],
                    "target": draw(st.sampled_from(targets)),
                    "condition": draw(st.sampled_from(_CONDITIONS)),
                    "priority": draw(st.integers(-1, 1)),
                }
            )
        if conds == 0 or draw(st.integers(0, 4)) > 0:
            fall: dict[str, Any] = {"source": node["id"], "target": draw(st.sampled_from(targets))}
            if conds:
                fall["else"] = True
            edges.append(fall)
    return {
        "name": "g",
        "languages": ["it"],
        "variables": {"n": {"type": "integer"}, "ok": {"type": "boolean"}},
        "ddts": {"num": {"type": "integer"}},
        "nodes": nodes,
        "edges": edges,
    }


def _well_formed(p: Program) -> None:
    n = len(p.tasks)
    assert 0 <= p.entry < n and len(p.source_map) == n
    for t in p.tasks:
        for target in (getattr(t, f, None) for f in ("to", "on_failure", "on_error", "on_timeout")):
            assert target is None or 0 <= target < n
        if t.op in ("set", "jump_if"):
            index = t.expr if t.op == "set" else t.cond
            assert 0 <= index < len(p.exprs)
    # the last task never falls off the end
    assert p.tasks[-1].op in ("jump", "end", "transfer", "return", "fail")


@settings(max_examples=150, deadline=None)
@given(random_graph(), st.randoms(use_true_random=False))
def test_random_graphs_lower_to_well_formed_programs(
    data: dict[str, Any], rnd: random.Random
) -> None:
    result = compile_project_dict(data)
    _no_internal_error(result)
    if result.program is None:
        return
    _well_formed(result.program)
    rnd.shuffle(data["nodes"])
    rnd.shuffle(data["edges"])
    again = compile_project_dict(data)
    assert again.program is not None
    assert again.program.canonical_bytes() == result.program.canonical_bytes()


def _walk_graph(data: dict[str, Any], memory: dict[str, Any], failures: list[bool]) -> list[str]:
    """Interpret the source graph directly: the nodes that act, in order."""
    from datetime import UTC, datetime

    from compiler.expressions import parse_expr
    from ddt_engine.expressions import evaluate

    now = datetime(2026, 1, 1, tzinfo=UTC)
    nodes = {n["id"]: n for n in data["nodes"]}
    out: dict[str, list[dict[str, Any]]] = {}
    for e in data["edges"]:
        out.setdefault(e["source"], []).append(e)
    trace: list[str] = []
    node, fails = "start", iter(failures)
    for _ in range(1000):
        if len(trace) >= 40:
            break
        kind = nodes[node]["kind"]
        if kind not in ("start", "branch"):
            trace.append(node)
        if kind in ("end", "transfer"):
            return trace
        if kind == "get_data" and next(fails, False):
            node = nodes[node]["data"]["on_failure"]
            continue
        if kind == "set":
            memory["n"] = evaluate(parse_expr("n + 1"), memory, now)
        edges = out.get(node, [])
        conds = sorted(
            (e for e in edges if "condition" in e), key=lambda e: (e.get("priority", 0), e["id"])
        )
        nxt = next(
            (
                e["target"]
                for e in conds
                if evaluate(parse_expr(e["condition"]), memory, now) is True
            ),
            None,
        )
        if nxt is None:
            falls = [e for e in edges if "condition" not in e]
            if not falls:
                return [*trace, "fail"]
            nxt = falls[0]["target"]
        node = nxt
    return trace


def _walk_program(p: Program, memory: dict[str, Any], failures: list[bool]) -> list[str]:
    """Interpret the compiled tasks: the nodes that act, in order."""
    from datetime import UTC, datetime

    from ddt_engine.expressions import evaluate

    now = datetime(2026, 1, 1, tzinfo=UTC)
    trace: list[str] = []
    pc, fails = p.entry, iter(failures)
    for _ in range(1000):
        if len(trace) >= 40:
            break
        t = p.tasks[pc]
        node = p.source_map[pc].node
        if t.op == "jump":
            pc = t.to
            continue
        if t.op == "jump_if":
            pc = t.to if evaluate(p.exprs[t.cond], memory, now) is True else pc + 1
            continue
        if t.op == "fail":
            return [*trace, "fail"]
        assert node is not None
        trace.append(node)  # one task per acting node in these graphs
        if t.op in ("end", "transfer"):
            return trace
        if t.op == "get_data" and next(fails, False):
            pc = t.on_failure
            continue
        if t.op == "set":
            memory["n"] = evaluate(p.exprs[t.expr], memory, now)
        pc += 1
    return trace


@settings(max_examples=150, deadline=None)
@given(
    random_graph(),
    st.integers(min_value=-3, max_value=12),
    st.booleans(),
    st.lists(st.booleans(), max_size=20),
)
def test_the_program_does_what_the_graph_says(
    data: dict[str, Any], n: int, ok: bool, failures: list[bool]
) -> None:
    result = compile_project_dict(data)
    if result.program is None:
        return
    expected = _walk_graph(data, {"n": n, "ok": ok}, failures)
    actual = _walk_program(result.program, {"n": n, "ok": ok}, failures)
    assert actual[:40] == expected[:40]


def _elements(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node, edge, variable, DDT and backend mapping of the example."""
    out: list[dict[str, Any]] = [*data["nodes"], *data["edges"]]
    for table in ("variables", "ddts", "backends"):
        out += list(data[table].values())
    return out


def test_one_typo_anywhere_gives_exactly_one_diagnostic() -> None:
    """Partial checking after schema errors must not add noise about the broken element."""
    count = len(_elements(DATA))
    for i in range(count):
        data = copy.deepcopy(DATA)
        element = _elements(data)[i]
        element["colour"] = "blue"
        codes = [(d.code, d.message) for d in compile_project_dict(data).diagnostics]
        assert len(codes) == 1 and codes[0][0] == "E020", (i, codes)


def test_one_broken_element_gives_exactly_one_diagnostic() -> None:
    """Also when the element is dropped: wrong kind, wrong type, missing field."""
    for i, node in enumerate(DATA["nodes"]):
        for breakage in ({"kind": "sya"}, {"data": 42}, {"id": None}):
            data = copy.deepcopy(DATA)
            data["nodes"][i] = {**node, **breakage}
            diags = compile_project_dict(data).diagnostics
            assert len(diags) == 1 and diags[0].code in ("E022", "E024"), (node["id"], diags)
