"""Stage 2, validate: the merged document -> ``schemas.project.Project``.

Every pydantic error becomes one located diagnostic with a one-line message and a hint.
Union noise is removed: for ``str | PromptVariants`` only the member that matches the
shape of the input reports; for the node union the real problem (unknown kind, a field of
that kind) is reported, not one error per kind.
"""

from __future__ import annotations

import re
import types
import typing
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from compiler.errors import did_you_mean
from compiler.source import Path, SourceMap
from schemas.diagnostics import Diagnostic
from schemas.project import NODE_KINDS, Project

_SCALARS = {"str", "int", "float", "bool", "none"}
_NODE_CLASSES = {
    "StartNode",
    "SayNode",
    "GetDataNode",
    "SetNode",
    "BranchNode",
    "CallBackendNode",
    "SendEmailNode",
    "SendSmsNode",
    "TransferNode",
    "EndNode",
    "SubflowNode",
    "ReturnNode",
    "CustomNode",
}
_NOUNS = {
    "Project": "project",
    "Edge": "edge",
    "Flow": "subflow",
    "DdtDef": "DDT",
    "Backend": "backend",
    "Variable": "variable",
    "Limits": "max_attempts",
    "ValidationDef": "validation rule",
    "SubDataDef": "sub-data",
    "DtmfDef": "dtmf",
    "ExtractDef": "extract",
    "PromptVariants": "prompt",
    "_PromptChoice": "prompt",
}


def _strip(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _members(tp: Any) -> list[Any]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [_strip(a) for a in typing.get_args(tp) if a is not type(None)]
    return []


def _label(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(typing.get_origin(tp) or tp)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field(model: type[BaseModel], key: Any) -> Any:
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f.annotation
    return None


def _tag_of(member: Any) -> str | None:
    if _is_model(member):
        ann = _field(member, "kind")
        if typing.get_origin(ann) is typing.Literal:
            return str(typing.get_args(ann)[0])
    return None


def _match_member(tp: Any, label: Any) -> Any:
    for m in _members(tp):
        if label == _tag_of(m) or label == _label(m):
            return m
        origin = typing.get_origin(m)
        if origin is not None and isinstance(label, str):
            if label.startswith(getattr(origin, "__name__", "")):
                return m
    return None


class _Walk:
    """The data path, union choice and model type for one pydantic error location."""

    def __init__(self, loc: tuple[Any, ...], data: Any) -> None:
        self.path: list[Any] = []
        self.union_at: tuple[Any, ...] | None = None
        self.union_label: str | None = None
        self.parent_model: Any = None
        self.is_key = False
        tp: Any = Project
        value = data
        for elem in loc:
            tp = _strip(tp)
            if _members(tp):
                member = _match_member(tp, elem)
                if member is not None:
                    if True:  # the innermost union decides
                        self.union_at = tuple(self.path)
                        self.union_label = (
                            "model"
                            if _is_model(member) or typing.get_origin(member) is dict
                            else "list"
                            if typing.get_origin(member) in (list, tuple)
                            else "scalar"
                        )
                    tp = member
                    continue
            if elem == "[key]":
                self.is_key = True
                break
            if _is_model(tp):
                self.parent_model = tp
                tp = _field(tp, elem)
            elif typing.get_origin(tp) is dict:
                tp = typing.get_args(tp)[1]
            elif typing.get_origin(tp) in (list, tuple):
                args = typing.get_args(tp)
                tp = args[0] if args else Any
            else:
                tp = Any
            self.path.append(elem)
            if isinstance(value, Mapping):
                value = value.get(elem)
            elif isinstance(value, list) and isinstance(elem, int) and 0 <= elem < len(value):
                value = value[elem]
            else:
                value = None
        self.value = value
        self.type = _strip(tp)


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean {str(v).lower()}"
    if isinstance(v, int | float):
        return f"number {v}"
    if isinstance(v, str):
        return f"string '{v}'" if len(v) <= 40 else "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        if isinstance(data, Mapping):
            data = data.get(p)
        elif isinstance(data, list) and isinstance(p, int) and 0 <= p < len(data):
            data = data[p]
        else:
            return None
    return data


def _noun(path: tuple[Any, ...], model: Any, data: Any) -> str:
    """How a message names the element at ``path`` (whose type is ``model``)."""
    name = getattr(model, "__name__", "")
    node_i = None
    for i in range(len(path) - 1):
        if path[i] == "nodes" and isinstance(path[i + 1], int):
            node_i = i + 1
    if node_i is not None and node_i >= len(path) - 2:
        node = _get(data, path[: node_i + 1])
        nid = node.get("id") if isinstance(node, Mapping) else None
        kind = node.get("kind") if isinstance(node, Mapping) else None
        what = f"{kind} node" if isinstance(kind, str) and kind in NODE_KINDS else "node"
        label = f"{what} '{nid}'" if isinstance(nid, str) else f"{what} #{path[node_i]}"
        if node_i == len(path) - 1:
            return label
        if path[-1] == "data":
            return f"data of {label}"
    if name == "Edge":
        edge = _get(data, path)
        if isinstance(edge, Mapping) and isinstance(edge.get("source"), str):
            return f"edge from '{edge['source']}'"
        return "edge"
    if name in ("DdtDef", "Backend", "Variable", "Flow") and path:
        return f"{_NOUNS[name]} '{path[-1]}'"
    if name in _NOUNS:
        return _NOUNS[name]
    if name in _NODE_CLASSES:
        return "node"
    return "'" + "/".join(str(p) for p in path) + "'" if path else "project"


def _field_name(path: tuple[Any, ...], data: Any) -> str:
    """``'timeout_ms'``, ``node 'ask'``, ``item 2 of 'languages'`` for messages."""
    if not path:
        return "the project"
    last = path[-1]
    if isinstance(last, int):
        if len(path) >= 2 and path[-2] == "nodes":
            return _noun(path, None, data)
        if len(path) >= 2 and path[-2] == "edges":
            return f"edge #{last}"
        return f"item {last} of '{path[-2]}'" if len(path) >= 2 else f"item {last}"
    return f"'{last}'"


def _fields_of(model: Any) -> list[str]:
    if not _is_model(model):
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _expected(ctx: Mapping[str, Any] | None) -> list[str]:
    text = str((ctx or {}).get("expected", "") or (ctx or {}).get("expected_tags", ""))
    return re.findall(r"'([^']*)'", text) or re.findall(r"(\w+)", text)


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


_NUMERIC = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")
_YAML11_BOOLS = frozenset(
    ["yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"]
)


def _scalar_hint(want: str, value: Any, style: str | None) -> str | None:
    """What to write instead of a loose scalar. Project models are strict, nothing is
    converted: ``"8"`` is not 8, ``yes`` is not true, ``true`` is not 1. ``style`` is the
    YAML scalar style of the value ("" plain, '"' or "'" quoted; None: not known)."""
    quoted = style in ('"', "'")
    if want == "a string":
        if isinstance(value, int | float | bool):
            return "quote the value to make it a string"
        return None
    if want == "true or false":
        if isinstance(value, str) and style == "" and value in _YAML11_BOOLS:
            return f"write true or false: in YAML 1.2 '{value}' is a text, not a boolean"
        if isinstance(value, str) and quoted:
            return "write true or false, without quotes"
        if isinstance(value, str):
            return f"write true or false ('{value}' is a text)"
        if isinstance(value, int | float):
            return "write true or false: a number is not a yes/no"
        return None
    whole = want == "an integer"
    if isinstance(value, bool):
        return "write a number: true and false are not numbers"
    if isinstance(value, str) and _NUMERIC.match(value):
        if whole and not value.strip().lstrip("+-").isdigit():
            return "a whole number is needed here"
        number = value.strip()
        return f"write the number without quotes: {number}" if quoted else f"write {number}"
    if whole and isinstance(value, float):
        if value.is_integer():
            return f"write it without a decimal point: {int(value)}"
        return "a whole number is needed here"
    return None


def _empty_table_above(path: Path, data: Any, smap: SourceMap) -> str | None:
    """The table left empty (``ddts:`` with nothing under it) nearest above the top-level
    key at ``path``, in the same file: its entries were not indented under it."""
    here, _ = smap.find(path, key=True)
    if here is None or not isinstance(data, Mapping):
        return None
    best: tuple[int, str] | None = None
    for name, value in data.items():
        if value is not None or name not in Project.model_fields:
            continue
        at = smap.keys.get((name,))
        if at is not None and at.file == here.file and at.line < here.line:
            if best is None or at.line > best[0]:
                best = (at.line, str(name))
    return best[1] if best is not None else None


def _shape_hint(want: str, value: Any, model: Any, path: Path) -> str | None:
    """A mapping or list written as nothing (``ddts:`` with its entries not indented under
    it) or as one word (``birth: date`` for ``birth: {type: date}``)."""
    if value is None and want in ("a mapping", "a list") and path:
        what = "entries" if want == "a mapping" else "items"
        return f"nothing is written under '{path[-1]}': indent its {what} under it, or remove it"
    name = getattr(model, "__name__", "")
    if want == "a mapping" and isinstance(value, str) and name in ("Variable", "DdtDef"):
        return f"write {{type: {value}}}" if value.isidentifier() else None
    return None


def _convert(err: Mapping[str, Any], walk: _Walk, data: Any, smap: SourceMap) -> Diagnostic | None:
    etype = str(err["type"])
    path: Path = tuple(walk.path)
    ctx = err.get("ctx")
    value = walk.value
    field = _field_name(path, data)
    raw = str(path[-1]) if path else ""
    if etype == "extra_forbidden":
        parent = path[:-1]
        noun = _noun(parent, walk.parent_model, data)
        known = _fields_of(walk.parent_model)
        guess = did_you_mean(raw, known)
        msg = f"unknown field '{raw}' in {noun}"
        if guess:
            msg += f"; {guess}"
        hint = f"known fields: {', '.join(known)}" if known else None
        if raw == "<<":  # a merge key written where YAML cannot see one (JSON, quoted)
            hint = "YAML merge keys ('<<') are not supported: write the fields out"
        elif not parent and not guess and (table := _empty_table_above(path, data, smap)):
            hint = f"is it an entry of '{table}', empty above it? indent it under '{table}:'"
        return smap.diag("E020", path, msg, hint, key=True)
    if etype == "missing":
        parent = path[:-1]
        noun = _noun(parent, walk.parent_model, data)
        return smap.diag(
            "E021",
            parent,
            f"missing field '{raw}' in {noun}",
            f"add '{raw}: …'",
            key=bool(parent) and not isinstance(parent[-1], int),
        )
    if etype == "union_tag_invalid":
        kind = str((ctx or {}).get("tag", ""))
        guess = did_you_mean(kind, NODE_KINDS)
        msg = f"unknown node kind '{kind}'" + (f"; {guess}" if guess else "")
        return smap.diag("E024", (*path, "kind"), msg, "node kinds: " + ", ".join(NODE_KINDS))
    if etype == "union_tag_not_found":
        return smap.diag(
            "E024",
            path,
            f"{_noun(path, None, data)} has no 'kind'",
            "add 'kind:' with one of: " + ", ".join(NODE_KINDS),
        )
    if walk.is_key:
        choices = _expected(ctx)
        key = str(err.get("input"))
        guess = did_you_mean(key, choices)
        what = "language" if set(choices) <= {"it", "en"} and choices else "key"
        where = _field_name(path[:-1], data)
        msg = f"unknown {what} '{key}' in {where}" + (f"; {guess}" if guess else "")
        return smap.diag(
            "E023",
            path,
            msg,
            f"expected one of: {', '.join(choices)}" if choices else None,
            key=True,
        )
    if etype in ("literal_error", "enum"):
        choices = _expected(ctx)
        shown = repr(value) if isinstance(value, str) else _type_name(value)
        guess = did_you_mean(str(value), choices) if isinstance(value, str) else None
        hint = f"expected one of: {', '.join(choices)}"
        if isinstance(value, str) and value in choices:  # '1' for the number 1
            guess, hint = None, f"{hint} (a number: write it without quotes)"
        msg = f"invalid value {shown} for {field}" + (f"; {guess}" if guess else "")
        return smap.diag("E023", path, msg, hint)
    if etype in _TYPE_WORDS:
        want = _TYPE_WORDS[etype]
        pos, exact = smap.find(path)
        hint = _scalar_hint(want, value, pos.style if pos is not None and exact else None)
        hint = hint or _shape_hint(want, value, walk.type, path)
        return smap.diag("E022", path, f"{field} must be {want}, not {_type_name(value)}", hint)
    if etype == "string_pattern_mismatch":
        hint = None
        if path == ("name",):
            hint = "use lowercase letters, digits, '_' and '-' (at most 64 characters)"
        return smap.diag(
            "E023",
            path,
            f"invalid value {_type_name(value)} for {field}",
            hint or f"it must match {(ctx or {}).get('pattern')}",
        )
    msg = str(err.get("msg", "invalid value")).replace("Input should", "must")
    msg = msg.replace("List should", "must").replace("Dictionary should", "must")
    msg = msg.replace("String should", "must")
    msg = msg[:1].lower() + msg[1:]
    if etype in ("too_short", "too_long"):  # "… after validation, not 0": say the count once
        msg = msg.split(" after validation")[0].split(",")[0]
        return smap.diag("E023", path, f"{field} {msg}")
    return smap.diag("E023", path, f"{field} {msg}, not {_type_name(value)}")


@dataclass
class Ghosts:
    """Elements dropped because they are invalid; later stages say nothing about them.

    When only some nodes, edges, DDTs, backends, variables, prompts or subflows are invalid,
    the compiler drops them and still resolves and checks the rest, so that one run reports
    every problem; references to a dropped element are not reported again.
    """

    nodes: dict[str, set[str]] = field(default_factory=dict)  # flow -> node ids
    broken: dict[str, set[str]] = field(default_factory=dict)  # flow -> nodes with lost edges
    ddts: set[str] = field(default_factory=set)
    backends: set[str] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)
    prompts: set[str] = field(default_factory=set)
    subflows: set[str] = field(default_factory=set)
    unnamed: set[str] = field(default_factory=set)  # flows that lost a node without a valid id
    # the original list index of each kept node/edge, by list path (("nodes",), …)
    index: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)

    def original(self, path: tuple[Any, ...], i: int) -> int:
        kept = self.index.get(path)
        return kept[i] if kept is not None else i

    def node_ids(self, flow: str) -> set[str]:
        return self.nodes.get(flow, set())

    def may_be_node(self, flow: str, node_id: str) -> bool:
        """Could ``node_id`` name a node of ``flow`` that was dropped as invalid?"""
        return flow in self.unnamed or node_id in self.nodes.get(flow, set())


_TABLES = ("ddts", "backends", "variables", "subflows")


def _bad_elements(walks: list[_Walk]) -> set[tuple[Any, ...]] | None:
    """The elements (paths) that failed; None when the damage is not confined to elements."""
    bad: set[tuple[Any, ...]] = set()
    for w in walks:
        p = tuple(w.path)
        head = p[0] if p else None
        if head in ("nodes", "edges") and len(p) >= 2 and isinstance(p[1], int):
            bad.add(p[:2])
        elif (
            head == "subflows"
            and len(p) >= 4
            and p[2] in ("nodes", "edges")
            and isinstance(p[3], int)
        ):
            bad.add(p[:4])
        elif head in _TABLES and len(p) >= 2:
            bad.add(p[:2])
        elif head == "prompts" and len(p) >= 2:
            bad.add(p[:3])
        else:
            return None
    return bad


def _flow_elements(
    flow: str, base: tuple[Any, ...], doc: Mapping[str, Any], bad: set[tuple[Any, ...]], g: Ghosts
) -> dict[str, Any]:
    out = dict(doc)
    nodes, edges = doc.get("nodes"), doc.get("edges")
    if isinstance(nodes, list):
        out["nodes"] = []
        g.index[(*base, "nodes")] = []
        for i, n in enumerate(nodes):
            if (*base, "nodes", i) not in bad:
                out["nodes"].append(n)
                g.index[(*base, "nodes")].append(i)
            elif isinstance(n, Mapping) and isinstance(n.get("id"), str) and n["id"]:
                g.nodes.setdefault(flow, set()).add(n["id"])
            else:
                g.unnamed.add(flow)
    if isinstance(edges, list):
        out["edges"] = []
        g.index[(*base, "edges")] = []
        for i, e in enumerate(edges):
            if (*base, "edges", i) not in bad:
                out["edges"].append(e)
                g.index[(*base, "edges")].append(i)
            elif isinstance(e, Mapping) and isinstance(e.get("source"), str):
                g.broken.setdefault(flow, set()).add(e["source"])
    return out


def salvage(data: Any, walks: list[_Walk]) -> tuple[Project, Ghosts] | None:
    """The project without its invalid elements, if that is valid; else None."""
    bad = _bad_elements(walks)
    if bad is None or not isinstance(data, Mapping):
        return None
    g = Ghosts()
    doc: dict[str, Any] = _flow_elements("main", (), data, bad, g)
    for table in _TABLES:
        value = data.get(table)
        if not isinstance(value, Mapping):
            continue
        kept: dict[str, Any] = {}
        for name, item in value.items():
            if (table, name) in bad:
                getattr(g, table).add(name)
            elif table == "subflows" and isinstance(item, Mapping):
                kept[name] = _flow_elements(name, ("subflows", name), item, bad, g)
            else:
                kept[name] = item
        doc[table] = kept
    prompts = data.get("prompts")
    if isinstance(prompts, Mapping):
        doc["prompts"] = {}
        for lang, table in prompts.items():
            if ("prompts", lang) in bad or not isinstance(table, Mapping):
                if isinstance(table, Mapping):
                    g.prompts.update(str(k) for k in table)
                continue
            doc["prompts"][lang] = {}
            for pid, text in table.items():
                if ("prompts", lang, pid) in bad:
                    g.prompts.add(pid)
                else:
                    doc["prompts"][lang][pid] = text
    try:
        return Project.model_validate(doc), g
    except ValidationError:
        return None


def validate_project(data: Any, smap: SourceMap) -> tuple[Project | None, list[Diagnostic]]:
    """Validate the document; on failure return every problem as a diagnostic."""
    project, diags, _ = validate_with_salvage(data, smap)
    return project, diags


def validate_with_salvage(
    data: Any, smap: SourceMap
) -> tuple[Project | None, list[Diagnostic], tuple[Project, Ghosts] | None]:
    """Like ``validate_project``, plus, on failure, the project without its invalid
    elements (when only elements are invalid) for the later stages to check the rest."""
    try:
        return Project.model_validate(data), [], None
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    walks = [_Walk(tuple(e["loc"]), data) for e in errors]
    # union noise: keep only the errors of the member that fits the input's shape
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, w in enumerate(walks):
        if w.union_at is not None:
            groups[w.union_at].append(i)
    drop: set[int] = set()
    synth: list[Diagnostic] = []
    for at, idxs in groups.items():
        value = _get(data, at)
        want = (
            "model"
            if isinstance(value, Mapping)
            else "list"
            if isinstance(value, list)
            else "scalar"
        )
        keep = [i for i in idxs if walks[i].union_label == want]
        drop.update(i for i in idxs if i not in keep)
        if not keep:
            labels = sorted({walks[i].union_label or "" for i in idxs})
            words = {"scalar": "a text", "model": "a mapping", "list": "a list"}
            field = _field_name(at, data)
            synth.append(
                smap.diag(
                    "E022",
                    at,
                    f"{field} must be {' or '.join(words.get(lb, lb) for lb in labels)}, "
                    f"not {_type_name(value)}",
                )
            )
    diags = list(synth)
    for i, (err, walk) in enumerate(zip(errors, walks, strict=True)):
        if i in drop:
            continue
        d = _convert(err, walk, data, smap)
        if d is not None:
            diags.append(d)
    return None, diags, salvage(data, walks)


__all__ = ["Ghosts", "salvage", "validate_project", "validate_with_salvage"]
