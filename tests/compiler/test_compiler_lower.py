"""Lowering: the task layout, jumps, subflows, prompts keys, folding and the source map."""

from __future__ import annotations

from typing import Any

from compiler import compile_project_dict
from schemas.expressions import Lit
from schemas.program import Program


def _project(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any) -> Program:
    data: dict[str, Any] = {
        "name": "t",
        "languages": ["it"],
        "variables": {"n": {"type": "integer"}, "ok": {"type": "boolean"}},
        "nodes": nodes,
        "edges": edges,
        **extra,
    }
    result = compile_project_dict(data)
    assert result.program is not None, result.diagnostics
    return result.program


def _ops(p: Program) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for t in p.tasks:
        if t.op in ("jump", "call"):
            out.append((t.op, t.to))
        elif t.op == "jump_if":
            out.append((t.op, t.cond, t.to))
        elif t.op == "say":
            out.append((t.op, t.prompt))
        else:
            out.append((t.op,))
    return out


def say(nid: str, text: str = "x") -> dict[str, Any]:
    return {"id": nid, "kind": "say", "data": {"text": {"it": text}}}


def test_chain_branch_and_else() -> None:
    p = _project(
        [
            {"id": "start", "kind": "start"},
            say("a"),
            {"id": "b", "kind": "branch"},
            say("big"),
            say("small"),
            {"id": "end", "kind": "end"},
        ],
        [
            {"source": "start", "target": "a"},
            {"source": "a", "target": "b"},
            {"id": "z", "source": "b", "target": "big", "condition": "n > 10"},
            {"id": "y", "source": "b", "target": "small", "condition": "n < 0", "priority": -1},
            {"source": "b", "target": "end", "else": True},
            {"source": "big", "target": "end"},
            {"source": "small", "target": "end"},
        ],
    )
    assert p.entry == 0
    assert _ops(p) == [
        ("say", "a.text"),
        ("jump_if", 0, 4),  # priority -1 first: n < 0 -> small
        ("jump_if", 1, 6),  # then n > 10 -> big
        ("end",),  # the else target is laid out right here
        ("say", "small.text"),  # then the targets depth-first, in edge order
        ("jump", 3),
        ("say", "big.text"),
        ("jump", 3),
    ]
    locs = p.source_map
    assert len(locs) == len(p.tasks)
    assert (locs[1].node, locs[1].edge) == ("b", "y")
    assert (locs[5].node, locs[5].edge) == ("small", "small->end")
    assert all(loc.file == "<memory>" for loc in locs)


def test_no_else_becomes_fail_and_constant_conditions_fold() -> None:
    p = _project(
        [
            {"id": "start", "kind": "start"},
            {"id": "b", "kind": "branch"},
            {"id": "c", "kind": "branch"},
            {"id": "end", "kind": "end"},
        ],
        [
            {"source": "start", "target": "b"},
            {"source": "b", "target": "c", "condition": "ok"},
            {"source": "c", "target": "end", "condition": "1 + 1 == 2"},
        ],
    )
    assert _ops(p) == [("jump_if", 0, 2), ("fail",), ("jump_if", 1, 4), ("fail",), ("end",)]
    assert p.exprs[1] == Lit(v=True)


def test_expressions_are_deduplicated() -> None:
    p = _project(
        [
            {"id": "start", "kind": "start"},
            {"id": "s", "kind": "set", "data": {"assign": {"ok": "n > 1", "n": "n + 1"}}},
            {"id": "b", "kind": "branch"},
            {"id": "end", "kind": "end"},
        ],
        [
            {"source": "start", "target": "s"},
            {"source": "s", "target": "b"},
            {"source": "b", "target": "end", "condition": "n > 1"},
            {"source": "b", "target": "end", "else": True, "id": "other"},
        ],
    )
    sets = [t for t in p.tasks if t.op == "set"]
    assert [(t.var, t.expr) for t in sets] == [(("ok",), 0), (("n",), 1)]  # source order
    assert len(p.exprs) == 2
    assert p.tasks[2].op == "jump_if" and p.tasks[2].cond == 0


def test_subflow_is_emitted_once_after_the_main_flow() -> None:
    sub = {
        "nodes": [{"id": "s", "kind": "start"}, say("hi", "ciao"), {"id": "r", "kind": "return"}],
        "edges": [{"source": "s", "target": "hi"}, {"source": "hi", "target": "r"}],
    }
    p = _project(
        [
            {"id": "start", "kind": "start"},
            {"id": "one", "kind": "subflow", "data": {"flow": "greet"}},
            {"id": "two", "kind": "subflow", "data": {"flow": "greet"}},
            {"id": "end", "kind": "end"},
        ],
        [
            {"source": "start", "target": "one"},
            {"source": "one", "target": "two"},
            {"source": "two", "target": "end"},
        ],
        subflows={"greet": sub},
    )
    assert _ops(p) == [
        ("call", 3),
        ("call", 3),
        ("end",),
        ("say", "greet/hi.text"),
        ("return",),
    ]
    assert p.source_map[3].flow == "greet"
    assert set(p.prompts) == {"greet/hi.text"}


def test_routes_and_ddts_and_sensitive_variables() -> None:
    p = _project(
        [
            {"id": "start", "kind": "start"},
            {
                "id": "ask",
                "kind": "get_data",
                "data": {"ddt": "cf", "into": "patient.cf", "on_failure": "op"},
            },
            {"id": "end", "kind": "end"},
            {"id": "op", "kind": "transfer", "data": {"context": ["patient.cf"]}},
        ],
        [{"source": "start", "target": "ask"}, {"source": "ask", "target": "end"}],
        variables={"patient.cf": {"type": "string"}},
        ddts={"cf": {"type": "codice_fiscale", "sensitive": True}},
    )
    assert _ops(p) == [("get_data",), ("end",), ("transfer",)]
    task = p.tasks[0]
    assert task.op == "get_data" and task.on_failure == 2 and task.into == ("patient", "cf")
    assert set(p.ddts) == {"cf"}
    assert p.variables["patient.cf"].sensitive is True


def test_the_program_round_trips_and_the_id_is_the_hash() -> None:
    import hashlib

    p = _project(
        [{"id": "start", "kind": "start"}, {"id": "end", "kind": "end"}],
        [{"source": "start", "target": "end"}],
    )
    raw = p.canonical_bytes()
    assert Program.model_validate_json(raw) == p
    body = p.model_copy(update={"id": ""}).canonical_bytes()
    assert p.id == "sha256:" + hashlib.sha256(body).hexdigest()
