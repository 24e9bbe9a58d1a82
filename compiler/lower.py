"""Stage 4, lower: flow graphs -> one flat task list with jump targets as indexes.

Layout is a deterministic depth-first walk from the start node: a straight chain is laid
out consecutively (no jump), conditional edges become ``jump_if`` in (priority, id) order,
followed by a ``jump`` to the else/unconditional target (or a ``fail`` when nothing may
match). Subflows are emitted once each, after the main flow, and entered with ``call``.
Nothing here depends on the order of nodes, edges or files in the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.resolve import Analysis, EdgeInfo, FlowGraph
from compiler.source import Path, SourceMap
from schemas._base import canonical_json
from schemas.program import (
    CallBackendTask,
    CallTask,
    CustomTask,
    EndTask,
    FailTask,
    GetDataTask,
    JumpIfTask,
    JumpTask,
    Program,
    ReturnTask,
    SayTask,
    SendEmailTask,
    SendSmsTask,
    SetTask,
    SourceLoc,
    TransferTask,
)
from schemas.project import (
    CallBackendNode,
    CustomNode,
    EndNode,
    GetDataNode,
    Node,
    ReturnNode,
    SayNode,
    SendEmailNode,
    SendSmsNode,
    SetNode,
    SubflowNode,
    TransferNode,
)


@dataclass(frozen=True)
class _Ref:
    """A jump target not yet placed: a node of a flow, or a flow's entry."""

    flow: str
    node: str | None = None  # None: the flow's start


def _dotted(name: str) -> tuple[str, ...]:
    return tuple(name.split("."))


class Lowerer:
    def __init__(self, a: Analysis, smap: SourceMap) -> None:
        self.a = a
        self.smap = smap
        self.graphs = {g.name: g for g in a.graphs}
        self.tasks: list[tuple[type, dict[str, Any]]] = []
        self.locs: list[SourceLoc] = []
        self.labels: dict[tuple[str, str], int] = {}
        self.exprs: list[Any] = []
        self.expr_index: dict[bytes, int] = {}
        self.prompt_keys: set[str] = set()
        self.called: set[str] = set()

    # -- helpers -----------------------------------------------------------------------------

    def expr(self, path: Path) -> int:
        e = self.a.exprs[path]
        key = canonical_json(e.model_dump(mode="json"))
        idx = self.expr_index.get(key)
        if idx is None:
            idx = self.expr_index[key] = len(self.exprs)
            self.exprs.append(e)
        return idx

    def loc(self, g: FlowGraph, path: Path, node: str, edge: str | None = None) -> SourceLoc:
        pos, _ = self.smap.find(path)
        if pos is None:
            return SourceLoc(file=self.smap.root_display, flow=g.name, node=node, edge=edge)
        return SourceLoc(
            file=pos.file, line=pos.line, col=pos.col, flow=g.name, node=node, edge=edge
        )

    def emit(self, cls: type, loc: SourceLoc, **fields: Any) -> None:
        self.tasks.append((cls, fields))
        self.locs.append(loc)

    def prompt(self, node_path: Path, slot: str) -> str | None:
        key = self.a.node_prompts.get((node_path, slot))
        if key is not None:
            self.prompt_keys.add(key)
        return key

    def route(self, g: FlowGraph, target: str | None) -> _Ref | None:
        return _Ref(g.name, target) if target is not None else None

    # -- layout ------------------------------------------------------------------------------

    def flow(self, g: FlowGraph) -> None:
        assert g.start is not None
        stack: list[str] = [g.start]
        while stack:
            nid: str | None = stack.pop()
            while nid is not None and (g.name, nid) not in self.labels:
                pending: list[str] = []
                nid = self.node(g, nid, pending)
                stack.extend(reversed([p for p in pending if (g.name, p) not in self.labels]))

    def node(self, g: FlowGraph, nid: str, pending: list[str]) -> str | None:
        """Emit one node and its exits; return the node to lay out right after it."""
        self.labels[(g.name, nid)] = len(self.tasks)
        node = g.nodes[nid]
        path = g.node_path[nid]
        loc = self.loc(g, path, nid)
        self.body(g, nid, node, path, loc)
        pending.extend(t for _, t in g.routes(nid))
        outs = g.out.get(nid, [])
        conds = [e for e in outs if e.conditional and not e.is_else]
        falls = [e for e in outs if not e.conditional or e.is_else]
        for e in conds:
            self.emit(
                JumpIfTask,
                self.loc(g, (*e.path, "condition"), nid, e.id),
                cond=self.expr((*e.path, "condition")),
                to=_Ref(g.name, e.target),
            )
            pending.append(e.target)
        fall: EdgeInfo | None = falls[0] if falls else None
        if fall is None:
            if conds:
                self.emit(FailTask, loc, reason=f"no condition out of '{nid}' held")
            return None
        if (g.name, fall.target) in self.labels:
            self.emit(JumpTask, self.loc(g, fall.path, nid, fall.id), to=_Ref(g.name, fall.target))
            return None
        return fall.target  # laid out right after this node: no jump needed

    def body(self, g: FlowGraph, nid: str, node: Node, path: Path, loc: SourceLoc) -> None:
        data: Path = (*path, "data")
        if isinstance(node, SayNode):
            self.emit(SayTask, loc, prompt=self.prompt(path, "text"), barge_in=node.data.barge_in)
        elif isinstance(node, GetDataNode):
            self.emit(
                GetDataTask,
                loc,
                ddt=node.data.ddt,
                into=_dotted(node.data.into),
                on_failure=_Ref(g.name, node.data.on_failure),
                on_cancel=self.route(g, node.data.on_cancel),
            )
        elif isinstance(node, SetNode):
            for var in node.data.assign:
                self.emit(SetTask, loc, var=_dotted(var), expr=self.expr((*data, "assign", var)))
        elif isinstance(node, CallBackendNode):
            d = node.data
            self.emit(
                CallBackendTask,
                loc,
                backend=d.backend,
                args={k: self.expr((*data, "args", k)) for k in sorted(d.args)},
                result=dict(sorted(d.result.items())),
                on_error=self.route(g, d.on_error),
                on_timeout=self.route(g, d.on_timeout),
            )
        elif isinstance(node, SendEmailNode):
            self.emit(
                SendEmailTask,
                loc,
                to=self.expr((*data, "to")),
                subject=self.prompt(path, "subject"),
                body=self.prompt(path, "body"),
                on_error=self.route(g, node.data.on_error),
            )
        elif isinstance(node, SendSmsNode):
            self.emit(
                SendSmsTask,
                loc,
                to=self.expr((*data, "to")),
                text=self.prompt(path, "text"),
                on_error=self.route(g, node.data.on_error),
            )
        elif isinstance(node, TransferNode):
            ctx = node.data.context
            self.emit(
                TransferTask,
                loc,
                target=node.data.target,
                context=tuple(ctx) if ctx is not None else None,
                prompt=self.prompt(path, "text"),
            )
        elif isinstance(node, EndNode):
            self.emit(EndTask, loc, reason=node.data.reason, prompt=self.prompt(path, "text"))
        elif isinstance(node, SubflowNode):
            self.called.add(node.data.flow)
            self.emit(CallTask, loc, to=_Ref(node.data.flow))
        elif isinstance(node, ReturnNode):
            self.emit(ReturnTask, loc)
        elif isinstance(node, CustomNode):
            self.emit(CustomTask, loc, kind=node.data.task, params=dict(node.data.params))
        # start and branch nodes emit nothing: only their exits

    # -- the whole program -------------------------------------------------------------------

    def resolve_ref(self, v: Any) -> Any:
        if not isinstance(v, _Ref):
            return v
        if v.node is None:
            g = self.graphs[v.flow]
            assert g.start is not None
            return self.labels[(v.flow, g.start)]
        return self.labels[(v.flow, v.node)]

    def program(self) -> Program:
        main = self.graphs["main"]
        self.flow(main)
        done = {"main"}
        while True:
            todo = sorted(self.called - done)
            if not todo:
                break
            for name in todo:
                done.add(name)
                self.flow(self.graphs[name])
        tasks = [
            cls(**{k: self.resolve_ref(v) for k, v in fields.items()}) for cls, fields in self.tasks
        ]
        used_backends = {f["backend"] for cls, f in self.tasks if cls is CallBackendTask}
        backends = {}
        for name in sorted(used_backends):
            b = self.a.backends[name]
            body = self.a.project.backends[name].body
            if body is not None:
                b = b.model_copy(
                    update={
                        "body": {f: self.expr(("backends", name, "body", f)) for f in sorted(body)}
                    }
                )
            backends[name] = b
        used_ddts = {f["ddt"] for cls, f in self.tasks if cls is GetDataTask}
        p = self.a.project
        return Program(
            project=p.name,
            languages=tuple(dict.fromkeys(p.languages)),
            default_language=self.a.default_language,
            variables=dict(sorted(self.a.variables.items())),
            entry=self.labels[("main", main.start)] if main.start is not None else 0,
            tasks=tuple(tasks),
            exprs=tuple(self.exprs),
            prompts={k: self.a.prompts[k] for k in sorted(self.prompt_keys)},
            ddts={k: self.a.ddts[k] for k in sorted(used_ddts) if k in self.a.ddts},
            backends=backends,
            source_map=tuple(self.locs),
        )


def lower(a: Analysis, smap: SourceMap) -> Program:
    """Lower a checked project (no errors) to its program (without id)."""
    return Lowerer(a, smap).program()


__all__ = ["lower"]
