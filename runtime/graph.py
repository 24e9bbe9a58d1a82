"""Drawings of a flow project: Mermaid (``flowchart``) and Graphviz DOT, plus each DDT's
dialogue machine. Pure text generation from the project document and the compiled DDTs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.ddt import CompiledDdt

__all__ = ["ddt_dot", "flow_dot", "flow_mermaid", "nodes_at"]

Marked = frozenset[tuple[str, str]]
"""(flow, node id) pairs drawn as unreachable: ``"main"`` or a subflow's name."""
_UNREACHABLE = "(unreachable)"

_ROUTES = ("on_failure", "on_cancel", "on_error", "on_timeout")


class _Ids:
    """One drawing id per (flow, node): ``n_`` and the id with every other character than
    ASCII letters, digits and ``_`` made ``_``, and a ``_2``, ``_3`` … suffix when that id is
    taken already ("città" and "citt-" are two nodes, not one with a loop onto itself)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self._ids: dict[tuple[str, str], str] = {}
        self._taken: set[str] = set()
        for flow, body in _flows(doc):
            for n in _nodes(body):
                self(flow, str(n["id"]))

    def __call__(self, flow: str, node: str) -> str:
        got = self._ids.get((flow, node))
        if got is None:
            raw = node if flow == "main" else f"{flow}__{node}"
            base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", raw)
            got, k = base, 1
            while got in self._taken:
                k += 1
                got = f"{base}_{k}"
            self._ids[(flow, node)] = got
            self._taken.add(got)
        return got


def _subgraph_id(flow: str) -> str:
    """A subflow's box: ``sg_`` never starts a node's id (a node ``sub`` of subflow ``x`` had
    the box's id, which Mermaid refuses as a cycle)."""
    return "sg_" + re.sub(r"[^A-Za-z0-9_]", "_", flow)


def _detail(node: Mapping[str, Any]) -> str:
    kind = str(node.get("kind", ""))
    data = node.get("data") or {}
    if not isinstance(data, Mapping):
        return kind
    if kind == "say":
        return f"say {data.get('prompt') or '…'}"
    if kind == "get_data":
        return f"ask {data.get('ddt')} → {data.get('into')}"
    if kind == "set":
        assign = data.get("assign") or {}
        return "set " + ", ".join(f"{k} = {v}" for k, v in assign.items())
    if kind == "call_backend":
        return f"call {data.get('backend')}"
    if kind == "send_email":
        return f"e-mail to {data.get('to')}"
    if kind == "send_sms":
        return f"SMS to {data.get('to')}"
    if kind == "transfer":
        return f"transfer to {data.get('target', 'operator')}"
    if kind == "end":
        return f"end: {data.get('reason', 'completed')}"
    if kind == "subflow":
        return f"subflow {data.get('flow')}"
    if kind == "custom":
        return f"custom {data.get('task')}"
    return kind


def _flows(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    flows: list[tuple[str, Mapping[str, Any]]] = [("main", doc)]
    subs = doc.get("subflows") or {}
    if isinstance(subs, Mapping):
        flows.extend((str(k), v) for k, v in sorted(subs.items()) if isinstance(v, Mapping))
    return flows


def _nodes(flow: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [n for n in flow.get("nodes") or [] if isinstance(n, Mapping) and "id" in n]


def _edges(flow: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [e for e in flow.get("edges") or [] if isinstance(e, Mapping) and "source" in e]


def _edge_label(e: Mapping[str, Any]) -> str:
    if e.get("condition"):
        return str(e["condition"])
    if e.get("else"):
        return "else"
    return str(e.get("label") or "")


_MERMAID_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}


def _mq(text: str) -> str:
    """A quoted Mermaid label: ``#`` (``#1;`` is an entity to Mermaid), quotes and HTML
    (``<b>`` would render bold, ``a<b`` would lose its end) become entity codes."""
    escaped = "".join(_MERMAID_ENTITIES.get(ch, ch) for ch in text)
    return '"' + escaped.replace("\n", "<br/>") + '"'


_SHAPES = {
    "start": ("((", "))"),
    "end": ("([", "])"),
    "transfer": ("([", "])"),
    "branch": ("{", "}"),
    "get_data": ("[/", "/]"),
    "call_backend": ("[(", ")]"),
    "send_email": ("[(", ")]"),
    "send_sms": ("[(", ")]"),
    "subflow": ("[[", "]]"),
}


def nodes_at(doc: Mapping[str, Any], pointers: Iterable[str]) -> Marked:
    """The (flow, node id) of each JSON pointer into a node of ``doc`` (a diagnostic's
    ``/nodes/3/id`` or ``/subflows/NAME/nodes/0/id``); other pointers are left out."""
    found: set[tuple[str, str]] = set()
    for pointer in pointers:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        flow: str = "main"
        body: object = doc
        if len(parts) >= 2 and parts[0] == "subflows":
            subs = doc.get("subflows")
            flow, parts = parts[1], parts[2:]
            body = subs.get(flow) if isinstance(subs, Mapping) else None
        if not isinstance(body, Mapping) or len(parts) < 2 or parts[0] != "nodes":
            continue
        nodes = body.get("nodes")
        if not parts[1].isdigit() or not isinstance(nodes, list) or int(parts[1]) >= len(nodes):
            continue
        node = nodes[int(parts[1])]
        if isinstance(node, Mapping) and "id" in node:
            found.add((flow, str(node["id"])))
    return frozenset(found)


def _label(n: Mapping[str, Any], unreachable: bool) -> str:
    kind = str(n.get("kind", ""))
    label = f"{n['id']}\n{_detail(n)}" if kind != "start" else str(n["id"])
    return f"{label}\n{_UNREACHABLE}" if unreachable else label


def flow_mermaid(doc: Mapping[str, Any], unreachable: Marked = frozenset()) -> str:
    """A Mermaid ``flowchart TD`` of the project: nodes, edges (with their conditions) and,
    dotted, the failure/error routes of data, backend and message nodes; the nodes in
    ``unreachable`` dashed and grey, marked "(unreachable)"."""
    lines = ["flowchart TD", f"    %% {doc.get('name', 'flow')}"]
    sid = _Ids(doc)
    marked: list[str] = []
    for flow, body in _flows(doc):
        indent = "    "
        if flow != "main":
            lines.append(f"    subgraph {_subgraph_id(flow)}[{_mq('subflow ' + flow)}]")
            indent = "        "
        for n in _nodes(body):
            left, right = _SHAPES.get(str(n.get("kind", "")), ("[", "]"))
            off = (flow, str(n["id"])) in unreachable
            lines.append(f"{indent}{sid(flow, str(n['id']))}{left}{_mq(_label(n, off))}{right}")
            if off:
                marked.append(sid(flow, str(n["id"])))
        if flow != "main":
            lines.append("    end")
    if marked:
        lines.append("    classDef unreachable stroke-dasharray: 5 5,color:#888,fill:#eee")
        lines.append(f"    class {','.join(marked)} unreachable")
    for flow, body in _flows(doc):
        for e in _edges(body):
            a, b = sid(flow, str(e["source"])), sid(flow, str(e.get("target")))
            label = _edge_label(e)
            arrow = f"-->|{_mq(label)}|" if label else "-->"
            lines.append(f"    {a} {arrow} {b}")
        for n in _nodes(body):
            data = n.get("data") or {}
            if not isinstance(data, Mapping):
                continue
            for route in _ROUTES:
                if isinstance(data.get(route), str):
                    a, b = sid(flow, str(n["id"])), sid(flow, data[route])
                    lines.append(f"    {a} -.->|{_mq(route.removeprefix('on_'))}| {b}")
    return "\n".join(lines) + "\n"


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {
    "start": "circle",
    "end": "box, peripheries=2",
    "transfer": "doubleoctagon",
    "branch": "diamond",
    "get_data": "parallelogram",
    "call_backend": "cylinder",
    "send_email": "cylinder",
    "send_sms": "cylinder",
    "subflow": "component",
}


def flow_dot(doc: Mapping[str, Any], unreachable: Marked = frozenset()) -> str:
    """The same drawing as Graphviz DOT (for ``dot -Tsvg``)."""
    lines = [
        "digraph flow {",
        "  rankdir=TB;",
        '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    sid = _Ids(doc)
    for flow, body in _flows(doc):
        indent = "  "
        if flow != "main":
            lines.append(
                f"  subgraph cluster_{_subgraph_id(flow)} {{ label={_dq('subflow ' + flow)};"
            )
            indent = "    "
        for n in _nodes(body):
            shape = _DOT_SHAPES.get(str(n.get("kind", "")), "box")
            off = (flow, str(n["id"])) in unreachable
            style = ', style="rounded,dashed", color=gray50, fontcolor=gray50' if off else ""
            lines.append(
                f"{indent}{sid(flow, str(n['id']))} "
                f"[label={_dq(_label(n, off))}, shape={shape}{style}];"
            )
        if flow != "main":
            lines.append("  }")
    for flow, body in _flows(doc):
        for e in _edges(body):
            a, b = sid(flow, str(e["source"])), sid(flow, str(e.get("target")))
            label = _edge_label(e)
            lines.append(f"  {a} -> {b}" + (f" [label={_dq(label)}];" if label else ";"))
        for n in _nodes(body):
            data = n.get("data") or {}
            if not isinstance(data, Mapping):
                continue
            for route in _ROUTES:
                if isinstance(data.get(route), str):
                    a, b = sid(flow, str(n["id"])), sid(flow, data[route])
                    lines.append(
                        f"  {a} -> {b} [style=dashed, label={_dq(route.removeprefix('on_'))}];"
                    )
    lines.append("}")
    return "\n".join(lines) + "\n"


def ddt_dot(ddt: CompiledDdt) -> str:
    """A DDT's dialogue machine as Graphviz DOT."""
    spec = ddt.machine
    lines = [
        f"digraph {_dq('ddt ' + ddt.name)} {{",
        '  node [shape=ellipse, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  __start [shape=point, label=""];',
        f"  __start -> {_dq(spec.initial)};",
    ]
    seen: set[tuple[str, str, str]] = set()
    for r in spec.transitions:
        label = r.trigger + (f" [{' and '.join(r.conditions)}]" if r.conditions else "")
        if (r.source, r.dest, label) in seen:
            continue
        seen.add((r.source, r.dest, label))
        lines.append(f"  {_dq(r.source)} -> {_dq(r.dest)} [label={_dq(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
