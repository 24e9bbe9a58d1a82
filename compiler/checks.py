"""Stage 3b, semantic checks on the resolved flow graphs.

Edge rules per node, dead ends, unreachable nodes, loops that never ask the caller
anything, failure routes that never stop asking, subflow recursion and unused definitions.
Every walk visits nodes in sorted order so that diagnostics never depend on input order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from compiler.resolve import FINAL_KINDS, Analysis, EdgeInfo, FlowGraph
from compiler.source import SourceMap
from schemas.diagnostics import Diagnostic
from schemas.expressions import Lit
from schemas.project import CallBackendNode, GetDataNode, SubflowNode


class _Checks:
    def __init__(self, a: Analysis, smap: SourceMap) -> None:
        self.a = a
        self.smap = smap
        self.diags: list[Diagnostic] = []
        self.asking = self._asking_flows()

    def err(
        self, code: str, path: tuple[str | int, ...], msg: str, hint: str | None = None
    ) -> None:
        self.diags.append(self.smap.diag(code, path, msg, hint))

    def warn(
        self,
        code: str,
        path: tuple[str | int, ...],
        msg: str,
        hint: str | None = None,
        *,
        key: bool = False,
    ) -> None:
        self.diags.append(self.smap.diag(code, path, msg, hint, severity="warning", key=key))

    def _asking_flows(self) -> set[str]:
        """Flows that contain a get_data node, directly or through the subflows they call."""
        calls: dict[str, set[str]] = {}
        asking: set[str] = set()
        for g in self.a.graphs:
            calls[g.name] = set()
            for n in g.nodes.values():
                if isinstance(n, GetDataNode):
                    asking.add(g.name)
                elif isinstance(n, SubflowNode):
                    calls[g.name].add(n.data.flow)
        changed = True
        while changed:
            changed = False
            for f, callees in calls.items():
                if f not in asking and callees & asking:
                    asking.add(f)
                    changed = True
        return asking

    def asks(self, g: FlowGraph, nid: str) -> bool:
        n = g.nodes[nid]
        if isinstance(n, GetDataNode):
            return True
        return isinstance(n, SubflowNode) and n.data.flow in self.asking

    # -- per node ----------------------------------------------------------------------------

    def edges(self, g: FlowGraph) -> None:
        for nid, node in g.nodes.items():
            outs = g.out.get(nid, [])
            path = g.node_path[nid]
            if node.kind in FINAL_KINDS:
                if outs:
                    self.err(
                        "E118",
                        outs[0].path,
                        f"edge out of '{nid}' ({node.kind} node) is never taken",
                        f"{'an' if node.kind[0] in 'aeiou' else 'a'} {node.kind} node finishes "
                        "the flow; remove the edge",
                    )
                continue
            if not outs and nid not in g.broken:
                self.err(
                    "E107",
                    (*path, "id"),
                    f"dead end: '{nid}' ({node.kind}) has no outgoing edge",
                    "add an edge to the next node, or end the flow with an end, "
                    "transfer or return node",
                )
                continue
            elses = [e for e in outs if e.is_else]
            uncond = [e for e in outs if not e.conditional and not e.is_else]
            conds = [e for e in outs if e.conditional and not e.is_else]
            falls = sorted(uncond + elses, key=lambda e: (e.priority, e.id))
            if len(elses) > 1:
                self.err(
                    "E110",
                    elses[1].path,
                    f"'{nid}' has more than one else edge ('{elses[0].id}', '{elses[1].id}')",
                    "keep one 'else: true' edge per node",
                )
            elif len(falls) > 1:
                self.err(
                    "E108",
                    falls[1].path,
                    f"two unconditional edges out of '{nid}' (to '{falls[0].target}' "
                    f"and '{falls[1].target}')",
                    "give one of them a condition; only one path can be taken",
                )
            if uncond and conds:
                self.err(
                    "E109",
                    uncond[0].path,
                    f"'{nid}' mixes an unconditional edge (to '{uncond[0].target}') with "
                    "conditional ones",
                    "mark it 'else: true' (taken when no condition holds) or give it a condition",
                )
            if (
                conds
                and not falls
                and nid not in g.broken
                and not any(self._always(e) for e in conds)
            ):
                self.warn(
                    "W002",
                    (*path, "id"),
                    f"no condition out of '{nid}' may hold, and there is no else edge",
                    "add an edge with 'else: true'; otherwise the session fails there",
                )

    def _always(self, e: EdgeInfo) -> bool:
        folded = self.a.exprs.get((*e.path, "condition"))
        return isinstance(folded, Lit) and folded.v is True

    # -- reachability ------------------------------------------------------------------------

    def reach(self, g: FlowGraph, start: str, avoid: str | None = None) -> list[str]:
        seen = {start}
        order = [start]
        queue = deque([start] if start != avoid else [])
        while queue:
            for s in g.successors(queue.popleft()):
                if s != avoid and s not in seen:
                    seen.add(s)
                    order.append(s)
                    queue.append(s)
        return order

    def unreachable(self, g: FlowGraph) -> None:
        if g.start is None:
            return
        seen = set(self.reach(g, g.start))
        for nid in g.nodes:
            if nid not in seen:
                self.warn(
                    "W001",
                    (*g.node_path[nid], "id"),
                    f"node '{nid}' can never be reached from the start",
                    "connect it with an edge, or remove it",
                )

    def failure_routes(self, g: FlowGraph) -> None:
        stops = {"end", "transfer"} | ({"return"} if g.name != "main" else set())
        for nid, node in g.nodes.items():
            if not isinstance(node, GetDataNode) or node.data.on_failure not in g.nodes:
                continue
            # the route must stop without asking for the same data again
            route = self.reach(g, node.data.on_failure, avoid=nid)
            if any(r in g.broken for r in route):
                continue  # the route goes through an invalid element, already reported
            if not any(g.nodes[r].kind in stops for r in route if r != nid):
                self.err(
                    "E113",
                    (*g.node_path[nid], "data", "on_failure"),
                    f"the failure route of '{nid}' never reaches a transfer or an end "
                    "without asking for the same data again",
                    "when the caller cannot give the data, route them to an operator "
                    "(transfer) or end the call",
                )

    # -- loops that never ask ----------------------------------------------------------------

    def silent_loops(self, g: FlowGraph) -> None:
        quiet = [n for n in g.nodes if not self.asks(g, n)]
        quiet_set = set(quiet)
        succ = {n: sorted({s for s in g.successors(n) if s in quiet_set}) for n in quiet}
        for comp in _sccs(quiet, succ):
            first = min(comp)
            members = set(comp)
            if len(comp) == 1 and first not in succ[first]:
                continue
            cycle = _cycle_through(first, succ, members)
            edge = self._edge(g, cycle[0], cycle[1] if len(cycle) > 1 else cycle[0])
            self.err(
                "E112",
                edge.path if edge is not None else (*g.node_path[first], "id"),
                "loop that never asks the caller anything: "
                + " -> ".join([*cycle, cycle[0]])
                + "; it would repeat forever",
                "put a get_data node on the loop, or make the loop exit without coming back",
            )

    def _edge(self, g: FlowGraph, a: str, b: str) -> EdgeInfo | None:
        for e in g.out.get(a, []):
            if e.target == b:
                return e
        return None

    # -- subflows and unused definitions -----------------------------------------------------

    def subflows(self) -> None:
        by_name = {g.name: g for g in self.a.graphs}
        # recursion: a flow that can call itself again (the call stack would grow forever)
        calls: dict[str, list[tuple[str, str]]] = {
            g.name: sorted(
                (n.data.flow, nid)
                for nid, n in g.nodes.items()
                if isinstance(n, SubflowNode) and n.data.flow in by_name
            )
            for g in self.a.graphs
        }
        reported: set[str] = set()
        for g in self.a.graphs:
            for callee, nid in calls[g.name]:
                if g.name in _reachable_flows(callee, calls) and nid not in reported:
                    reported.add(nid)
                    self.err(
                        "E116",
                        (*g.node_path[nid], "data", "flow"),
                        f"subflow '{callee}' can call '{g.name}' again: recursion without limit",
                        "subflows may not call themselves, directly or through others",
                    )
        used = _reachable_flows("main", calls)
        for g in self.a.graphs:
            if g.name != "main" and g.name not in used:
                self.warn(
                    "W006",
                    g.base,
                    f"subflow '{g.name}' is never called",
                    "call it from a subflow node, or remove it",
                    key=True,
                )

    def unused(self) -> None:
        p = self.a.project
        ddts = {
            n.data.ddt
            for g in self.a.graphs
            for n in g.nodes.values()
            if isinstance(n, GetDataNode)
        }
        for name in sorted(set(p.ddts) - ddts):
            self.warn("W003", ("ddts", name), f"DDT '{name}' is never used", key=True)
        backends = {
            n.data.backend
            for g in self.a.graphs
            for n in g.nodes.values()
            if isinstance(n, CallBackendNode)
        }
        for name in sorted(set(p.backends) - backends):
            self.warn("W007", ("backends", name), f"backend '{name}' is never called", key=True)
        where: dict[str, str] = {}
        for lang in p.languages:
            for pid in p.prompts.get(lang, {}):
                where.setdefault(pid, lang)
        for pid in sorted(set(where) - self.a.used_prompts):
            self.warn(
                "W004", ("prompts", where[pid], pid), f"prompt '{pid}' is never used", key=True
            )

    def run(self) -> list[Diagnostic]:
        for g in self.a.graphs:
            self.edges(g)
            self.unreachable(g)
            self.failure_routes(g)
            self.silent_loops(g)
        self.subflows()
        self.unused()
        return self.diags


def _reachable_flows(start: str, calls: dict[str, list[tuple[str, str]]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for callee, _ in calls.get(stack.pop(), []):
            if callee not in seen:
                seen.add(callee)
                stack.append(callee)
    return seen


def _sccs(nodes: Iterable[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iterative (deep graphs must not recurse)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            nxt = succ[v]
            if i < len(nxt):
                work.append((v, i + 1))
                w = nxt[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def _cycle_through(first: str, succ: dict[str, list[str]], members: set[str]) -> list[str]:
    """The shortest cycle from ``first`` back to itself inside one component."""
    prev: dict[str, str] = {}
    queue = deque([first])
    while queue:
        v = queue.popleft()
        for w in succ[v]:
            if w not in members:
                continue
            if w == first:
                path = [v]
                while path[-1] != first:
                    path.append(prev[path[-1]])
                return list(reversed(path))
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [first]


def check(a: Analysis, smap: SourceMap) -> list[Diagnostic]:
    """Run every semantic check on the resolved project."""
    return _Checks(a, smap).run()


__all__ = ["check"]
