"""Stage 3a, resolve: flows as graphs (node ids, edges, start), and every reference.

Builds one ``FlowGraph`` per flow (``main`` and each subflow) with nodes and edges sorted by
id, then resolves what nodes point at: DDTs, backends, prompts, variables, subflows and
route targets; parses and type-checks every expression and prompt template. The result,
an ``Analysis``, is what the graph checks and the lowering read.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler._ssml import empty_text, placeholder_typo, placeholder_warning, ssml_problem
from compiler.ddt import compile_ddt, ddt_value_type
from compiler.errors import did_you_mean
from compiler.expressions import (
    ExprSyntaxError,
    TypeIssue,
    ascii_name_hint,
    check_expr,
    expr_vars,
    fold_constants,
    parse_expr,
    parse_template,
    template_vars,
)
from compiler.source import Path, SourceMap
from compiler.validate import Ghosts
from schemas.ddt import CompiledDdt
from schemas.diagnostics import Diagnostic
from schemas.expressions import ExprPart, Template
from schemas.program import CompiledBackend, VariableSpec
from schemas.project import (
    Backend,
    CallBackendNode,
    CustomNode,
    EndNode,
    GetDataNode,
    Node,
    Project,
    PromptText,
    ReturnNode,
    SayNode,
    SendEmailNode,
    SendSmsNode,
    SetNode,
    StartNode,
    SubflowNode,
    TransferNode,
)
from schemas.prompts import Prompt

Expr = Any  # schemas.expressions.Expr (an Annotated union; Any keeps signatures readable)

FINAL_KINDS = frozenset({"end", "transfer", "return"})
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_RESPONSE_PATH = re.compile(r"^[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+|\[[0-9]+\])*$")


@dataclass
class EdgeInfo:
    id: str
    source: str
    target: str
    condition: str | None
    is_else: bool
    priority: int
    path: Path  # JSON path of the edge

    @property
    def conditional(self) -> bool:
        return self.condition is not None


# what a DDT name may not hold: the prompt-key separator, whitespace, control characters
_BAD_DDT_NAME = re.compile(r"[/\s\x00-\x1f\x7f-\x9f]+")


def _describe_char(run: str) -> str:
    c = run[0]
    if c == "/":
        return "a '/'"
    if c == " ":
        return "a space"
    if c.isspace():
        return f"a white-space character (U+{ord(c):04X})"
    return f"a control character (U+{ord(c):04X})"


@dataclass
class FlowGraph:
    name: str  # "main" or the subflow's name
    base: Path  # () or ("subflows", name)
    nodes: dict[str, Node] = field(default_factory=dict)  # by id, sorted
    node_path: dict[str, Path] = field(default_factory=dict)
    edges: list[EdgeInfo] = field(default_factory=list)  # valid edges, sorted by id
    out: dict[str, list[EdgeInfo]] = field(default_factory=dict)
    start: str | None = None
    broken: set[str] = field(default_factory=set)  # nodes with an edge to an unknown node

    def routes(self, nid: str) -> list[tuple[str, str]]:
        """Non-edge jumps out of a node: (field, target) for failure/error routes."""
        node = self.nodes[nid]
        out: list[tuple[str, str]] = []
        if isinstance(node, GetDataNode):
            out.append(("on_failure", node.data.on_failure))
            if node.data.on_cancel is not None:
                out.append(("on_cancel", node.data.on_cancel))
        elif isinstance(node, CallBackendNode):
            for f in ("on_error", "on_timeout"):
                t = getattr(node.data, f)
                if t is not None:
                    out.append((f, t))
        elif isinstance(node, SendEmailNode | SendSmsNode) and node.data.on_error is not None:
            out.append(("on_error", node.data.on_error))
        return out

    def successors(self, nid: str) -> list[str]:
        succ = [e.target for e in self.out.get(nid, [])]
        succ += [t for _, t in self.routes(nid) if t in self.nodes]
        return succ


@dataclass
class Analysis:
    """Everything later stages need, keyed by the source path it came from."""

    project: Project
    graphs: list[FlowGraph] = field(default_factory=list)
    exprs: dict[Path, Expr] = field(default_factory=dict)  # folded
    expr_types: dict[Path, str] = field(default_factory=dict)
    prompts: dict[str, dict[str, Prompt]] = field(default_factory=dict)  # key -> lang
    node_prompts: dict[tuple[Path, str], str] = field(default_factory=dict)  # (node, slot)
    used_prompts: set[str] = field(default_factory=set)
    backends: dict[str, CompiledBackend] = field(default_factory=dict)
    ddts: dict[str, CompiledDdt] = field(default_factory=dict)
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    var_types: dict[str, str] = field(default_factory=dict)
    default_language: str = "it"


def _issue_code(issue: TypeIssue) -> str:
    if issue.message.startswith("unknown variable"):
        return "E202"
    if issue.message.startswith("unknown function"):
        return "E211"
    return "E203"


_A_TYPE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "time": "a time (HH:MM)",
    "datetime": "a datetime (ISO 8601)",
    "list": "a list",
    "object": "a mapping",
}
_DEFAULT_HINT = {
    "date": "write it as 2024-03-01",
    "time": "write it as '09:30' (quoted)",
    "string": "quote it",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(?::\d{2})?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1  # the program's JSON numbers are 64-bit (orjson)


def _unstorable(value: Any, path: Path) -> tuple[Path, str, str] | None:
    """The first number inside ``value`` that the program's JSON cannot hold — an integer
    beyond 64 bits (orjson refuses it: it was an internal error) or .inf/.nan (written as
    null: a silent wrong value) — as (its path, "is …" for the message, a hint)."""
    stack: list[tuple[Path, Any]] = [(path, value)]
    while stack:
        p, v = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and not _INT_MIN <= v <= _INT_MAX:
            shown = str(v) if len(str(v)) <= 30 else str(v)[:27] + "..."
            return (
                p,
                f"is out of range: {shown} (integers are 64-bit)",
                f"integers go from {_INT_MIN} to {_INT_MAX}; "
                "quote a long code to keep it as a text",
            )
        if isinstance(v, float) and not math.isfinite(v):
            shown = ".nan" if math.isnan(v) else ("-.inf" if v < 0 else ".inf")
            return (
                p,
                f"is not a finite number ({shown})",
                "a program cannot hold .inf or .nan (they would be null): write a number",
            )
        if isinstance(v, Mapping):
            stack.extend(reversed([((*p, k), x) for k, x in v.items()]))
        elif isinstance(v, list | tuple):
            stack.extend(reversed([((*p, i), x) for i, x in enumerate(v)]))
    return None


def _inside(at: Path, base: Path, what: str) -> str:
    """``the default of 'o'`` or ``'a/1' in the default of 'o'`` for a value at ``at``."""
    rest = "/".join(str(k) for k in at[len(base) :])
    return f"'{rest}' in {what}" if rest else what


def _fits(value: Any, var_type: str) -> bool:
    """Does a default value fit the variable's declared type?"""
    if var_type == "any":
        return True
    if var_type == "boolean":
        return isinstance(value, bool)
    if var_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if var_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if var_type == "list":
        return isinstance(value, list)
    if var_type == "object":
        return isinstance(value, dict)
    if not isinstance(value, str):
        return False
    pattern = {"date": _DATE, "time": _TIME, "datetime": _DATETIME}.get(var_type)
    if pattern is None:
        return True
    if not pattern.match(value):
        return False
    parse: dict[str, Callable[[str], object]] = {
        "date": dt.date.fromisoformat,
        "time": dt.time.fromisoformat,
        "datetime": dt.datetime.fromisoformat,
    }
    try:  # the shape is not enough: 2024-02-30 and 25:99 are no date and no time
        parse[var_type](value)
    except ValueError:
        return False
    return True


def compatible(value_type: str, var_type: str) -> bool:
    """Can a value of ``value_type`` be stored in a variable declared ``var_type``?"""
    if var_type == "any" or value_type in ("any", "null") or value_type == var_type:
        return True
    return value_type == "integer" and var_type == "number"


class Resolver:
    def __init__(self, project: Project, smap: SourceMap, ghosts: Ghosts | None = None) -> None:
        self.p = project
        self.smap = smap
        self.ghosts = ghosts or Ghosts()
        self.diags: list[Diagnostic] = []
        self.a = Analysis(project=project)
        self.backend_args: dict[str, set[str]] = {}  # backend -> the args.* names it reads
        self.langs = list(dict.fromkeys(project.languages))
        self.ptab: dict[str, dict[str, PromptText]] = {
            str(lang): dict(table) for lang, table in project.prompts.items()
        }
        self.rule_prompts = {
            rule.prompt
            for ddt in project.ddts.values()
            for rule in [*ddt.validate_, *(r for sd in ddt.subdata.values() for r in sd.validate_)]
            if isinstance(rule.prompt, str)
        }

    # -- helpers -----------------------------------------------------------------------------

    def err(self, code: str, path: Path, msg: str, hint: str | None = None, **kw: Any) -> None:
        self.diags.append(self.smap.diag(code, path, msg, hint, **kw))

    def warn(self, code: str, path: Path, msg: str, hint: str | None = None, **kw: Any) -> None:
        self.diags.append(self.smap.diag(code, path, msg, hint, severity="warning", **kw))

    def expr(
        self, path: Path, text: str, *, want: str | None = None, locals: Mapping[str, str] = {}
    ) -> Expr | None:
        """Parse, type-check and fold the expression at ``path``; None on syntax error."""
        try:
            tree = parse_expr(text)
        except ExprSyntaxError as exc:
            msg = f"syntax error in expression: {exc.message}"
            self.err("E201", path, msg, exc.hint, offset=exc.col, expr_text=text)
            return None
        typ, issues = check_expr(tree, self.a.var_types, locals=locals)
        for issue in issues:
            self.err(
                _issue_code(issue), path, issue.message, issue.hint, offset=issue.col,
                expr_text=text,
            )  # fmt: skip
        if want == "boolean" and not issues and typ not in ("boolean", "any", "null"):
            self.err(
                "E208",
                path,
                f"a condition must be true or false, but this is {typ}",
                "compare it, e.g. 'x == 1' or 'x is set'",
            )
        self.a.expr_types[path] = typ
        folded = fold_constants(tree)
        self.a.exprs[path] = folded
        return folded

    def template(self, path: Path, text: str, locals: Mapping[str, str] = {}) -> Template | None:
        try:
            tpl = parse_template(text)
        except ExprSyntaxError as exc:
            msg = f"syntax error in template: {exc.message}"
            self.err("E204", path, msg, exc.hint, offset=exc.col, expr_text=text)
            return None
        for part in tpl.parts:
            if isinstance(part, ExprPart):
                for issue in check_expr(part.expr, self.a.var_types, locals=locals)[1]:
                    self.err(
                        _issue_code(issue), path, issue.message, issue.hint, offset=issue.col,
                        expr_text=text,
                    )  # fmt: skip
        return Template(
            parts=tuple(
                ExprPart(expr=fold_constants(p.expr)) if isinstance(p, ExprPart) else p
                for p in tpl.parts
            )
        )

    def prompt(self, path: Path, text: PromptText, local: Mapping[str, str] = {}) -> Prompt | None:
        if isinstance(text, str):
            t = self.said(path, self.template(path, text, local))
            return Prompt(text=t) if t is not None else None
        main = self.said((*path, "text"), self.template((*path, "text"), text.text, local))
        voice = chat = None
        if text.voice is not None:
            voice = self.said((*path, "voice"), self.template((*path, "voice"), text.voice, local))
            if voice is not None and (bad := ssml_problem(text.voice)) is not None:
                self.err(
                    "E218", (*path, "voice"), bad.message, bad.hint, offset=bad.col,
                    expr_text=text.voice,
                )  # fmt: skip
                voice = None
        if text.chat is not None:
            chat = self.said((*path, "chat"), self.template((*path, "chat"), text.chat, local))
        if main is None or (text.voice is not None and voice is None):
            return None
        if text.chat is not None and chat is None:
            return None
        return Prompt(text=main, voice=voice, chat=chat)

    def said(self, path: Path, template: Template | None) -> Template | None:
        """The template, or None (E219) when it would say nothing at all."""
        if template is not None and empty_text(template):
            self.err("E219", path, "empty prompt text: nothing would be said", "write the text")
            return None
        if template is not None and (typo := placeholder_typo(template)) is not None:
            self.warn("W008", path, *placeholder_warning(typo))
        return template

    def var_ref(self, path: Path, name: str, *, what: str, key: bool = False) -> str | None:
        """The declared type of variable ``name`` (E202 when not declared)."""
        if name in self.a.var_types:
            return self.a.var_types[name]
        if name in self.ghosts.variables:
            return "any"
        hint = (
            ascii_name_hint(name, self.a.var_types)
            or did_you_mean(name, self.a.var_types)
            or f"declare it under 'variables': {name}"
        )
        self.err("E202", path, f"{what} '{name}' is not a declared variable", hint, key=key)
        return None

    # -- passes ------------------------------------------------------------------------------

    def run(self) -> Analysis:
        self.languages()
        self.variables()
        self.prompt_table()
        self.backends()
        self.ddts()
        self.graphs()
        for g in self.a.graphs:
            for nid, node in g.nodes.items():
                self.node(g, nid, node)
            for e in g.edges:
                if e.condition is not None:
                    self.expr((*e.path, "condition"), e.condition, want="boolean")
        return self.a

    def languages(self) -> None:
        seen: set[str] = set()
        for i, lang in enumerate(self.p.languages):
            if lang in seen:
                self.err("E216", ("languages", i), f"language '{lang}' listed twice")
            seen.add(lang)
        dl = self.p.default_language or self.p.languages[0]
        if dl not in seen:
            self.err(
                "E216",
                ("default_language",),
                f"default language '{dl}' is not one of the project's languages",
                f"add it to 'languages' ({', '.join(self.langs)}) or pick one of them",
            )
        self.a.default_language = dl

    def variables(self) -> None:
        names = sorted(self.p.variables)
        invalid: set[str] = set()
        for name in names:
            v = self.p.variables[name]
            if not _VAR_NAME.match(name):
                self.err(
                    "E210",
                    ("variables", name),
                    f"invalid variable name '{name}'",
                    ascii_name_hint(name)
                    or "use ASCII letters, digits and '_', with '.' between parts (patient.cf)",
                    key=True,
                )
                invalid.add(name)  # reported once: its uses are not unknown variables
                continue
            parts = name.split(".")
            for i in range(1, len(parts)):
                head = ".".join(parts[:i])
                ht = self.p.variables.get(head)
                if ht is not None and ht.type not in ("object", "any"):
                    self.err(
                        "E210",
                        ("variables", name),
                        f"variable '{name}' is inside '{head}', which is declared {ht.type}",
                        f"declare '{head}' as object (or any), or rename one of them",
                        key=True,
                    )
            base: Path = ("variables", name, "default")
            bad = _unstorable(v.default, base)
            if bad is not None:
                what = _inside(bad[0], base, f"the default of '{name}'")
                self.err("E209", bad[0], f"{what} {bad[1]}", bad[2])
            elif v.default is not None and not _fits(v.default, v.type):
                self.err(
                    "E209",
                    ("variables", name, "default"),
                    f"the default of '{name}' is not {_A_TYPE.get(v.type, v.type)}",
                    _DEFAULT_HINT.get(v.type),
                )
            self.a.var_types[name] = v.type
            self.a.variables[name] = VariableSpec(
                type=v.type, default=v.default, sensitive=v.sensitive
            )
        for name in sorted(self.ghosts.variables | invalid):
            self.a.var_types.setdefault(name, "any")  # invalid declaration, already reported

    def prompt_table(self) -> None:
        declared = set(self.langs)
        ids: set[str] = set()
        for lang in sorted(self.p.prompts):
            table = self.p.prompts[lang]
            if lang not in declared:
                self.warn(
                    "W005",
                    ("prompts", lang),
                    f"prompts in '{lang}', which is not a project language, are ignored",
                    f"add '{lang}' to 'languages' or remove them",
                    key=True,
                )
                continue
            ids.update(table)
        for pid in sorted(ids):
            for lang in self.langs:
                table = self.ptab.get(lang, {})
                if pid not in table and pid in self.ghosts.prompts:
                    continue  # its text in that language is invalid, already reported
                if pid not in table:
                    other = next(lg for lg in self.langs if pid in self.ptab.get(lg, {}))
                    self.err(
                        "E205",
                        ("prompts", other, pid),
                        f"prompt '{pid}' has no text in '{lang}'",
                        f"add it under prompts: {lang}: {pid}",
                        key=True,
                    )
                    continue
                # prompts of DDT validation rules may speak of the candidate `value`
                local = {"value": "any"} if pid in self.rule_prompts else {}
                compiled = self.prompt(("prompts", lang, pid), table[pid], local)
                if compiled is not None:
                    self.a.prompts.setdefault(pid, {})[lang] = compiled

    def use_prompt(
        self, node: Path, path: Path, slot: str, pid: str | None, inline: Any, key: str
    ) -> None:
        """Resolve a prompt choice (id or inline per language) of a node slot."""
        if pid is not None and inline is not None:
            self.err(
                "E213",
                path,
                "give either 'prompt' (an id) or 'text' (inline), not both",
                key=True,
            )
            return
        if pid is not None:
            if pid in self.ghosts.prompts and not all(
                pid in self.ptab.get(lg, {}) for lg in self.langs
            ):
                return
            if not any(pid in self.ptab.get(lg, {}) for lg in self.langs):
                ids = {k for lg in self.langs for k in self.ptab.get(lg, {})}
                self.err(
                    "E206",
                    (*path, "prompt"),
                    f"unknown prompt '{pid}'",
                    did_you_mean(pid, ids) or "define it under 'prompts'",
                )
                return
            self.a.used_prompts.add(pid)
            self.a.node_prompts[(node, slot)] = pid
            return
        if inline is None:
            return
        tpath = (*path, "text")
        if key in self.a.prompts or any(key in self.ptab.get(lg, {}) for lg in self.langs):
            self.err(
                "E214",
                tpath,
                f"the inline text's generated key '{key}' is also a prompt id",
                "rename that prompt",
            )
            return
        compiled: dict[str, Prompt] = {}
        for lang in self.langs:
            if lang not in inline:
                self.err(
                    "E205",
                    tpath,
                    f"inline text has no '{lang}' version",
                    f"add '{lang}: …' (the project's languages: {', '.join(self.langs)})",
                    key=True,
                )
                continue
            c = self.prompt((*tpath, lang), inline[lang])
            if c is not None:
                compiled[lang] = c
        for lang in sorted(set(inline) - set(self.langs)):
            self.warn(
                "W005",
                (*tpath, lang),
                f"text in '{lang}', which is not a project language, is ignored",
                key=True,
            )
        if len(compiled) == len(self.langs):
            self.a.prompts[key] = compiled
            self.a.used_prompts.add(key)
            self.a.node_prompts[(node, slot)] = key

    def backends(self) -> None:
        for name in sorted(self.p.backends):
            b: Backend = self.p.backends[name]
            base: Path = ("backends", name)
            local = {"args": "object"}
            url = self.template((*base, "url"), b.url, local)
            host = re.match(r"^https?://([^/?#\s]+)", b.url)
            if host is None or "{" in host.group(1) or "}" in host.group(1):
                self.err(
                    "E212",
                    (*base, "url"),
                    "a backend URL must start with http:// or https:// and a host",
                    "the host is fixed in the project; only the path and query may be templates",
                )
            headers = {
                h: self.template((*base, "headers", h), t, local)
                for h, t in sorted(b.headers.items())
            }
            used: set[str] = set()
            for tpl in (url, *headers.values()):
                used |= template_vars(tpl) if tpl is not None else set()
            if b.body is not None:
                for f, text in sorted(b.body.items()):
                    body = self.expr((*base, "body", f), text, locals=local)
                    used |= expr_vars(body) if body is not None else set()
            self.backend_args[name] = {v.split(".")[1] for v in used if v.startswith("args.")}
            if url is None or any(t is None for t in headers.values()):
                continue
            self.a.backends[name] = CompiledBackend(
                url=url,
                method=b.method,
                headers={h: t for h, t in headers.items() if t is not None},
                body=None,  # filled with expression indexes by the lowering
                timeout_ms=b.timeout_ms,
                retries=b.retries,
                backoff_ms=b.backoff_ms,
                max_response_bytes=b.max_response_bytes,
            )

    def ddts(self) -> None:
        prompts = self.ptab
        for name in sorted(self.p.ddts):
            self.ddt_name(name)

            def locate(suffix: str, _name: str = name) -> tuple[str, int, int]:
                parts = [
                    int(x) if x.isdigit() else x.replace("~1", "/").replace("~0", "~")
                    for x in suffix.split("/")
                    if x
                ]
                return self.smap.locate(("ddts", _name, *parts))

            try:
                compiled, diags = compile_ddt(
                    name,
                    self.p.ddts[name],
                    languages=self.langs,
                    prompts=prompts,
                    var_types=self.a.var_types,
                    locate=locate,
                )
            except Exception as exc:  # a bug there must not become a traceback here
                self.err(
                    "E399",
                    ("ddts", name),
                    f"internal error while compiling DDT '{name}': {type(exc).__name__}: {exc}",
                    "please report it",
                    key=True,
                )
                continue
            self.diags.extend(diags)
            if compiled is not None:
                self.a.ddts[name] = compiled
            ddt = self.p.ddts[name]
            rules = [*ddt.validate_, *(r for sd in ddt.subdata.values() for r in sd.validate_)]
            for rule in rules:
                if isinstance(rule.prompt, str):
                    self.a.used_prompts.add(rule.prompt)

    def ddt_name(self, name: str) -> None:
        """A DDT's name starts its prompt keys, ``<ddt>/<data>/<state>/<level>``: a ``/``
        there is read as a separator (an export masks a sensitive DDT's prompts by the key's
        first part), and whitespace or a control character makes a key nobody can type."""
        bad = _BAD_DDT_NAME.search(name) if name else None
        if name and bad is None:
            return
        what = "is empty" if not name else f"holds {_describe_char(bad.group())}" if bad else ""
        fixed = _BAD_DDT_NAME.sub("_", name).strip("_") or "data"
        self.err(
            "E329", ("ddts", name), f"invalid DDT name {name!r}: it {what}",
            f"a DDT's name starts its prompt keys (<ddt>/<data>/<state>/<level>): no '/', "
            f"spaces or control characters (accented letters are fine); write '{fixed}'",
            key=True,
        )  # fmt: skip

    # -- graphs ------------------------------------------------------------------------------

    def graphs(self) -> None:
        flows: list[tuple[str, Path, Sequence[Node], Sequence[Any], str | None]] = [
            ("main", (), self.p.nodes, self.p.edges, self.p.start)
        ]
        for name in sorted(self.p.subflows):
            f = self.p.subflows[name]
            flows.append((name, ("subflows", name), f.nodes, f.edges, f.start))
        for name, base, nodes, edges, start in flows:
            self.a.graphs.append(self.graph(name, base, nodes, edges, start))

    def graph(
        self, name: str, base: Path, nodes: Sequence[Node], edges: Sequence[Any], start: str | None
    ) -> FlowGraph:
        g = FlowGraph(name=name, base=base)
        where = "the main flow" if name == "main" else f"subflow '{name}'"
        first: dict[str, tuple[int, Path]] = {}
        ghost_ids = self.ghosts.node_ids(name)
        g.broken |= self.ghosts.broken.get(name, set())
        for i, node in sorted(enumerate(nodes), key=lambda t: (t[1].id, t[0])):
            path: Path = (*base, "nodes", self.ghosts.original((*base, "nodes"), i))
            if node.id in first:
                line = self.smap.find(first[node.id][1])[0]
                at = f" (first at line {line.line})" if line and line.line else ""
                self.err(
                    "E103", (*path, "id"), f"duplicate node id '{node.id}' in {where}{at}",
                    "node ids must be unique within a flow",
                )  # fmt: skip
                continue
            first[node.id] = (i, path)
        for nid in sorted(first):
            g.node_path[nid] = first[nid][1]
            g.nodes[nid] = nodes[first[nid][0]]
        ids = list(g.nodes)
        seen_edges: dict[str, Path] = {}
        infos: list[EdgeInfo] = []
        for i, e in enumerate(edges):
            path = (*base, "edges", self.ghosts.original((*base, "edges"), i))
            eid = e.id if e.id is not None else f"{e.source}->{e.target}"
            lost = [x for x in (e.source, e.target) if x not in g.nodes]
            if any(self.ghosts.may_be_node(name, x) for x in lost):
                g.broken.add(e.source)  # touches an invalid node, already reported
                continue
            ok = True
            if e.source not in g.nodes:
                self.err(
                    "E101", (*path, "source"), f"edge starts at unknown node '{e.source}'",
                    did_you_mean(e.source, ids),
                )  # fmt: skip
                ok = False
            if e.target not in g.nodes:
                self.err(
                    "E102", (*path, "target"), f"edge targets unknown node '{e.target}'",
                    did_you_mean(e.target, ids),
                )  # fmt: skip
                ok = False
            if e.else_ and e.condition is not None:
                self.err(
                    "E111", (*path, "else"), "an 'else' edge cannot have a condition",
                    "drop the condition, or drop 'else: true'", key=True,
                )  # fmt: skip
            infos.append(EdgeInfo(eid, e.source, e.target, e.condition, e.else_, e.priority, path))
            if not ok:
                g.broken.add(e.source)
                infos[-1].source = ""  # keep it out of the graph
        for info in sorted(infos, key=lambda x: (x.id, x.path)):
            if info.id in seen_edges:
                self.err(
                    "E104", info.path, f"duplicate edge id '{info.id}' in {where}",
                    "give the edges distinct 'id's" if "->" in info.id
                    else "edge ids must be unique",
                )  # fmt: skip
                continue
            seen_edges[info.id] = info.path
            if info.source:
                g.edges.append(info)
                g.out.setdefault(info.source, []).append(info)
        for lst in g.out.values():
            lst.sort(key=lambda x: (x.priority, x.id))
        # the start node
        start_path: Path = (*base, "start")
        if start is not None:
            if start not in g.nodes and self.ghosts.may_be_node(name, start):
                pass  # the start node itself is invalid, already reported
            elif start not in g.nodes:
                self.err(
                    "E105", start_path, f"start node '{start}' does not exist in {where}",
                    did_you_mean(start, ids),
                )  # fmt: skip
            else:
                g.start = start
        else:
            starts = [nid for nid, n in g.nodes.items() if isinstance(n, StartNode)]
            if not starts and (ghost_ids or name in self.ghosts.unnamed):
                pass  # perhaps the start node is among the invalid ones
            elif not starts:
                self.err(
                    "E105", (*base, "nodes"), f"{where} has no start node",
                    "add a node with 'kind: start', or set 'start:' to the first node's id",
                    key=True,
                )  # fmt: skip
            elif len(starts) > 1:
                for extra in starts[1:]:
                    self.err(
                        "E106", g.node_path[extra], f"{where} has more than one start node "
                        f"('{starts[0]}' and '{extra}')", "keep one 'kind: start' node per flow",
                    )  # fmt: skip
            else:
                g.start = starts[0]
        return g

    # -- nodes -------------------------------------------------------------------------------

    def node(self, g: FlowGraph, nid: str, node: Node) -> None:
        path = g.node_path[nid]
        data: Path = (*path, "data")
        prefix = "" if g.name == "main" else f"{g.name}/"
        key = f"{prefix}{nid}"
        for field_name, target in g.routes(nid):
            if target not in g.nodes and self.ghosts.may_be_node(g.name, target):
                g.broken.add(nid)
            elif target not in g.nodes:
                self.err(
                    "E114", (*data, field_name), f"{field_name} names unknown node '{target}'",
                    did_you_mean(target, list(g.nodes)),
                )  # fmt: skip
        if isinstance(node, SayNode):
            if node.data.prompt is None and node.data.text is None:
                self.err("E213", data, "a say node needs 'prompt' (an id) or 'text' (inline)")
            self.use_prompt(path, data, "text", node.data.prompt, node.data.text, f"{key}.text")
        elif isinstance(node, TransferNode | EndNode):
            self.use_prompt(path, data, "text", node.data.prompt, node.data.text, f"{key}.text")
            if isinstance(node, TransferNode) and node.data.context:
                for i, v in enumerate(node.data.context):
                    self.var_ref((*data, "context", i), v, what="context variable")
        elif isinstance(node, SendSmsNode):
            if node.data.prompt is None and node.data.text is None:
                self.err("E213", data, "an SMS needs 'prompt' (an id) or 'text' (inline)")
            self.use_prompt(path, data, "text", node.data.prompt, node.data.text, f"{key}.text")
            self.recipient((*data, "to"), node.data.to)
        elif isinstance(node, SendEmailNode):
            for slot in ("subject", "body"):
                choice = getattr(node.data, slot)
                if choice.prompt is None and choice.text is None:
                    self.err("E213", (*data, slot), f"the e-mail {slot} needs 'prompt' or 'text'")
                self.use_prompt(
                    path, (*data, slot), slot, choice.prompt, choice.text, f"{key}.{slot}"
                )
            self.recipient((*data, "to"), node.data.to)
        elif isinstance(node, GetDataNode):
            self.get_data(data, node)
        elif isinstance(node, SetNode):
            for var, text in node.data.assign.items():
                vt = self.var_ref((*data, "assign", var), var, what="assigned", key=True)
                e = self.expr((*data, "assign", var), text)
                et = self.a.expr_types.get((*data, "assign", var))
                if vt is not None and e is not None and et is not None and not compatible(et, vt):
                    self.err(
                        "E209", (*data, "assign", var),
                        f"'{var}' is declared {vt} but this value is {et}",
                        "convert it (str(), int(), …) or change the variable's type",
                    )  # fmt: skip
        elif isinstance(node, CallBackendNode):
            backend = node.data.backend
            if backend not in self.p.backends and backend not in self.ghosts.backends:
                self.err(
                    "E207", (*data, "backend"), f"unknown backend '{node.data.backend}'",
                    did_you_mean(node.data.backend, self.p.backends)
                    or "define it under 'backends'",
                )  # fmt: skip
            for arg, text in sorted(node.data.args.items()):
                self.expr((*data, "args", arg), text)
            for arg in sorted(self.backend_args.get(backend, set()) - set(node.data.args)):
                close = difflib.get_close_matches(arg, list(node.data.args), n=1)
                self.err(
                    "E217", (*data, "args") if node.data.args else (*data, "backend"),
                    f"backend '{backend}' uses args.{arg}, which this call does not pass",
                    f"this call passes '{close[0]}': rename one of them" if close
                    else f"add args: {{{arg}: <expression>}} to this node",
                )  # fmt: skip
            for var, rpath in sorted(node.data.result.items()):
                self.var_ref((*data, "result", var), var, what="result variable", key=True)
                if not _RESPONSE_PATH.match(rpath):
                    self.err(
                        "E215", (*data, "result", var), f"invalid response path '{rpath}'",
                        "a dotted path into the JSON response, e.g. slots or data.items[0].id",
                    )  # fmt: skip
        elif isinstance(node, SubflowNode):
            if node.data.flow not in self.p.subflows and node.data.flow not in self.ghosts.subflows:
                self.err(
                    "E115", (*data, "flow"), f"unknown subflow '{node.data.flow}'",
                    did_you_mean(node.data.flow, self.p.subflows) or "define it under 'subflows'",
                )  # fmt: skip
        elif isinstance(node, CustomNode):
            base = (*data, "params")
            bad = _unstorable(node.data.params, base)
            if bad is not None:
                what = _inside(bad[0], base, f"the params of custom node '{nid}'")
                self.err("E023", bad[0], f"{what} {bad[1]}", bad[2])
        elif isinstance(node, ReturnNode) and g.name == "main":
            self.err(
                "E117", path, f"return node '{nid}' in the main flow",
                "the main flow ends with an end or transfer node; return is for subflows",
            )  # fmt: skip

    def recipient(self, path: Path, text: str) -> None:
        """An e-mail address or phone number: an expression that must give a string."""
        e = self.expr(path, text)
        t = self.a.expr_types.get(path)
        if e is not None and t not in ("string", "any", "null", None):
            self.err(
                "E203",
                path,
                f"the recipient must be a string (an address or a number), but this is {t}",
                "name the variable that holds it, e.g. patient.phone",
            )

    def get_data(self, data: Path, node: GetDataNode) -> None:
        d = node.data
        if d.ddt not in self.p.ddts and d.ddt not in self.ghosts.ddts:
            self.err(
                "E350", (*data, "ddt"), f"unknown DDT '{d.ddt}'",
                did_you_mean(d.ddt, self.p.ddts) or "define it under 'ddts'",
            )  # fmt: skip
        vt = self.var_ref((*data, "into"), d.into, what="into")
        if d.ddt in self.p.ddts and vt is not None:
            ddt = self.p.ddts[d.ddt]
            value_type = ddt_value_type(ddt.type)
            if value_type is not None and not compatible(value_type, vt):
                self.err(
                    "E351", (*data, "into"),
                    f"DDT '{d.ddt}' collects {value_type} (type {ddt.type}) but '{d.into}' "
                    f"is declared {vt}",
                    f"declare '{d.into}' as {value_type} (or any)",
                )  # fmt: skip
            if ddt.sensitive and d.into in self.a.variables:
                spec = self.a.variables[d.into]
                self.a.variables[d.into] = spec.model_copy(update={"sensitive": True})


def resolve(
    project: Project, smap: SourceMap, ghosts: Ghosts | None = None
) -> tuple[Analysis, list[Diagnostic]]:
    """Resolve references and parse expressions; diagnostics for everything that is wrong.

    ``ghosts`` names elements dropped as invalid: references to them are not reported."""
    r = Resolver(project, smap, ghosts)
    analysis = r.run()
    return analysis, r.diags


__all__ = [
    "FINAL_KINDS",
    "Analysis",
    "EdgeInfo",
    "FlowGraph",
    "compatible",
    "resolve",
]
