"""Flow coverage of conversation tests: nodes, edges, DDT dialogue states and escalation
levels exercised, computed from the tasks each step executed and the program's source map.

A node is covered when one of its tasks ran (start nodes emit no task and are not
counted). An edge is covered when the flow went from its source node to its target node
(a jump or a fall-through observed in the executed task sequence); an edge out of a start
node is covered when its target ran. DDT states are the (DDT, data node, dialogue state)
pairs whose prompts exist in the compiled DDT; levels count each escalation prompt.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.actions import SayAction
from schemas.ddt import CompiledDdt, DataNode
from schemas.program import JumpIfTask, JumpTask, Program
from schemas.turns import TurnRecord

__all__ = ["Coverage", "CoverageReport", "FlowGraph", "Metric", "measure"]


@dataclass(frozen=True, slots=True)
class FlowGraph:
    """The designer's graph: ``nodes`` as (flow, id, kind), ``edges`` as (flow, id, source,
    target)."""

    nodes: tuple[tuple[str, str, str], ...]
    edges: tuple[tuple[str, str, str, str], ...]
    edges_known: bool = True  # False: drawn from a compiled program, whose edges are lost

    @classmethod
    def from_program(cls, program: Program) -> FlowGraph:
        """Without the project's source: the nodes the compiled program's source map names
        (each emits a task); its edges cannot be told apart, so they are not counted."""
        seen: dict[tuple[str, str], None] = {}
        for loc in program.source_map:
            if loc.node is not None:
                seen[(loc.flow, loc.node)] = None
        return cls(tuple((f, n, "task") for f, n in seen), (), edges_known=False)

    @classmethod
    def from_document(cls, data: dict[str, Any]) -> FlowGraph:
        """From a loaded project document (the merged YAML as plain data)."""
        nodes: list[tuple[str, str, str]] = []
        edges: list[tuple[str, str, str, str]] = []

        def add(flow: str, doc: Any) -> None:
            if not isinstance(doc, dict):
                return
            for n in doc.get("nodes") or []:
                if isinstance(n, dict) and isinstance(n.get("id"), str):
                    nodes.append((flow, n["id"], str(n.get("kind", ""))))
            for e in doc.get("edges") or []:
                if isinstance(e, dict) and isinstance(e.get("source"), str):
                    src, dst = e["source"], str(e.get("target"))
                    edges.append((flow, str(e.get("id") or f"{src}->{dst}"), src, dst))

        add("main", data)
        for name, sub in sorted((data.get("subflows") or {}).items()):
            add(str(name), sub)
        return cls(tuple(nodes), tuple(edges))


@dataclass(slots=True)
class Metric:
    total: set[str] = field(default_factory=set)
    hit: set[str] = field(default_factory=set)

    @property
    def percent(self) -> float:
        return 100.0 if not self.total else 100.0 * len(self.hit & self.total) / len(self.total)

    @property
    def missed(self) -> list[str]:
        return sorted(self.total - self.hit)

    def as_json(self) -> dict[str, Any]:
        return {
            "total": len(self.total),
            "covered": len(self.hit & self.total),
            "percent": round(self.percent, 1),
            "missed": self.missed,
        }


@dataclass(slots=True)
class CoverageReport:
    nodes: Metric = field(default_factory=Metric)
    edges: Metric = field(default_factory=Metric)
    ddt_states: Metric = field(default_factory=Metric)
    ddt_levels: Metric = field(default_factory=Metric)
    edges_known: bool = True  # False for a compiled program: ``edges`` is not measured

    def metrics(self) -> dict[str, Metric]:
        return {
            "nodes": self.nodes,
            "edges": self.edges,
            "ddt_states": self.ddt_states,
            "ddt_levels": self.ddt_levels,
        }

    def as_json(self) -> dict[str, Any]:
        """Each metric's figures; ``edges`` is null when they were not measured."""
        return {
            k: None if k == "edges" and not self.edges_known else m.as_json()
            for k, m in self.metrics().items()
        }

    def below(self, percent: float) -> list[str]:
        """The flow metrics (nodes, edges when measured) under ``percent``."""
        flow = [("nodes", self.nodes)] + ([("edges", self.edges)] if self.edges_known else [])
        return [name for name, m in flow if m.percent < percent]


def _ddt_items(ddt: CompiledDdt, lang: str) -> tuple[set[str], set[str]]:
    states: set[str] = set()
    levels: set[str] = set()

    def add(keyname: str, state: str, count: int) -> None:
        if count:
            states.add(f"{ddt.name}/{keyname}/{state}")
            levels.update(f"{ddt.name}/{keyname}/{state}/{i + 1}" for i in range(count))

    def walk(node: DataNode) -> None:
        keyname = ".".join(node.path) or "main"
        for state, by_lang in node.prompts.items():
            add(keyname, state, len(by_lang.get(lang) or next(iter(by_lang.values()), ())))
        for rule in node.validations:
            lv = rule.prompts.get(lang) or next(iter(rule.prompts.values()), ())
            add(keyname, f"invalid:{rule.code}", len(lv))
        for child in node.children:
            walk(child)

    walk(ddt.root)
    return states, levels


def _ddt_prompt(key: str | None, ddts: Container[str]) -> tuple[str, int] | None:
    """(``ddt/data/state``, level) of a DDT prompt key ``<ddt>/<data>/<state>/<level>``,
    read from the right: a DDT's name may hold a ``/`` (``sì/no``)."""
    if not key:
        return None
    parts = key.rsplit("/", 3)
    if len(parts) != 4 or not parts[3].isdigit() or parts[0] not in ddts:
        return None
    return "/".join(parts[:3]), int(parts[3])


class Coverage:
    """Coverage accumulated one conversation at a time (``add``), so that a batch of
    recorded sessions never has to be held at once; ``report()`` gives the figures."""

    def __init__(self, program: Program, graph: FlowGraph, *, language: str | None = None) -> None:
        self.program = program
        self.graph = graph
        rep = self._rep = CoverageReport(edges_known=graph.edges_known)
        kinds = {(f, n): k for f, n, k in graph.nodes}
        self._starts = {(f, n) for (f, n), k in kinds.items() if k == "start"}
        rep.nodes.total = {f"{f}:{n}" for (f, n) in kinds if (f, n) not in self._starts}
        self._by_pair: dict[tuple[str, str, str], set[str]] = {}
        self._by_id: dict[tuple[str, str], str] = {}
        for f, eid, src, dst in graph.edges:
            key = f"{f}:{eid}"
            rep.edges.total.add(key)
            self._by_pair.setdefault((f, src, dst), set()).add(key)
            self._by_id[(f, eid)] = key
        lang = language or program.default_language
        for ddt in program.ddts.values():
            s, lv = _ddt_items(ddt, lang)
            rep.ddt_states.total |= s
            rep.ddt_levels.total |= lv
        self._hit_nodes: set[tuple[str, str]] = set()

    def add(self, records: Sequence[TurnRecord], traces: Sequence[Sequence[int]]) -> None:
        """One conversation: its records and, per record, the task indexes its step ran."""
        rep, sm, tasks = self._rep, self.program.source_map, self.program.tasks
        by_id, by_pair, hit_nodes = self._by_id, self._by_pair, self._hit_nodes
        for trace in traces:
            prev: int | None = None
            for pc in trace:
                if not 0 <= pc < len(sm):
                    prev = None
                    continue
                loc = sm[pc]
                if loc.node is not None:
                    hit_nodes.add((loc.flow, loc.node))
                if prev is not None:
                    p = sm[prev]
                    ptask = tasks[prev]
                    if isinstance(ptask, JumpTask | JumpIfTask) and p.edge is not None:
                        if ptask.to == pc and (p.flow, p.edge) in by_id:
                            rep.edges.hit.add(by_id[(p.flow, p.edge)])
                    if p.node is not None and loc.node is not None and p.flow == loc.flow:
                        if p.node != loc.node:
                            rep.edges.hit |= by_pair.get((loc.flow, p.node, loc.node), set())
                prev = pc
        for rec in records:
            for a in rec.actions:
                if isinstance(a, SayAction):
                    info = _ddt_prompt(a.prompt, self.program.ddts)
                    if info is not None:
                        rep.ddt_states.hit.add(info[0])
                        rep.ddt_levels.hit.add(f"{info[0]}/{info[1]}")

    def report(self) -> CoverageReport:
        """The coverage of the conversations added so far."""
        rep = self._rep
        rep.nodes.hit = {f"{f}:{n}" for f, n in self._hit_nodes}
        for f, eid, src, dst in self.graph.edges:
            if (f, src) in self._starts and (f, dst) in self._hit_nodes:
                rep.edges.hit.add(f"{f}:{eid}")
        return rep


def measure(
    program: Program,
    graph: FlowGraph,
    runs: Iterable[tuple[Sequence[TurnRecord], Sequence[Sequence[int]]]],
    *,
    language: str | None = None,
) -> CoverageReport:
    """Coverage of ``runs`` (each: the records of one conversation and, per record, the task
    indexes that its step executed)."""
    cov = Coverage(program, graph, language=language)
    for records, traces in runs:
        cov.add(records, traces)
    return cov.report()
