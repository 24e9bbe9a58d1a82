"""Task handlers: one pure function per ``op`` of the compiled program, and plugin tasks.

Each handler reads and updates a :class:`Ctx` (the working copy of one ``step``) and
returns True when the session must stop (it waits for something from outside or has
ended), False to go on with the task at ``ctx.pc``. Handlers never do I/O: effects leave
as actions (``call_backend``, ``send_email``, ``send_sms``) and their results come back as
``backend_result`` events.
"""

from __future__ import annotations

import html
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from ddt_engine.expressions import compile_expr, compile_template, get_path, set_path
from runtime.effects import EMAIL_BACKEND, SMS_BACKEND
from schemas.actions import (
    Action,
    CallBackendAction,
    EndAction,
    ExtractAction,
    ListenAction,
    SayAction,
    SendEmailAction,
    SendSmsAction,
    TransferAction,
)
from schemas.ddt import DdtStep
from schemas.events import BackendResultEvent, Event
from schemas.expressions import Template, TextPart
from schemas.program import (
    CallBackendTask,
    CallTask,
    CompiledBackend,
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
    TransferTask,
)
from schemas.session import Awaiting, DdtState, Status

__all__ = [
    "EMAIL_BACKEND",
    "ENTRY_POINT_GROUP",
    "SMS_BACKEND",
    "Ctx",
    "CustomTaskContext",
    "CustomTaskResult",
    "DdtEnginePort",
    "ProgramPlan",
    "TaskPlugin",
    "TaskRegistry",
    "build",
    "construct",
    "default_registry",
    "plan_for",
    "response_path",
]

ENTRY_POINT_GROUP = "ddtflow.tasks"


class DdtEnginePort(Protocol):
    """What the orchestrator needs of ``ddt_engine.engine.DdtEngine``."""

    def begin(
        self, ddt: str, *, memory: Mapping[str, Any], language: str, channel: str, at: datetime
    ) -> DdtStep: ...

    def handle(
        self,
        state: DdtState,
        event: Event,
        *,
        memory: Mapping[str, Any],
        language: str,
        channel: str,
    ) -> DdtStep: ...


# --------------------------------------------------------------------------- fast values

_M = TypeVar("_M", bound=BaseModel)
# per model class: its field names, every field with its static default (in field order),
# and the fields whose default comes from a factory
_Shape = tuple[frozenset[str], dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...]]
_SHAPES: dict[type[BaseModel], _Shape] = {}


def _shape(cls: type[BaseModel]) -> _Shape:
    fields = cls.model_fields
    shape: _Shape = (
        frozenset(fields),
        {name: f.default for name, f in fields.items()},
        tuple(
            (name, f.default_factory)  # type: ignore[misc]
            for name, f in fields.items()
            if f.default_factory is not None
        ),
    )
    _SHAPES[cls] = shape
    return shape


def build(cls: type[_M], **values: Any) -> _M:
    """``cls(**values)`` without validation, for values ``step`` made itself (the hot path).

    Like ``model_construct`` but with the field shapes computed once per class; every field
    is set (defaults included), so the object dumps and compares like a validated one.
    """
    names, defaults, factories = _SHAPES.get(cls) or _shape(cls)
    d = defaults.copy()  # field order kept: update() only replaces values
    if values.keys() <= names:
        d.update(values)
    else:  # a name that is not a field is left out
        d.update({k: v for k, v in values.items() if k in names})
    for name, factory in factories:
        if name not in values:
            d[name] = factory()
    return construct(cls, d, set(values))


def construct(cls: type[_M], fields: dict[str, Any], fields_set: set[str]) -> _M:
    """A ``cls`` holding ``fields`` (every field, already valid) as they are."""
    obj = _new(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", fields_set)
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


_new = object.__new__
_set = object.__setattr__


# --------------------------------------------------------------------------- plugins


@dataclass(frozen=True, slots=True)
class CustomTaskContext:
    """What a plugin handler sees: its validated parameters and a read-only view of the session."""

    params: BaseModel
    memory: Mapping[str, Any]
    now: datetime
    language: str
    channel: str


@dataclass(frozen=True, slots=True)
class CustomTaskResult:
    """What a plugin handler returns. ``updates`` maps dotted variables to new values."""

    updates: Mapping[str, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    outcome: Literal["next", "fail"] = "next"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class TaskPlugin:
    """A custom task kind. ``params`` is a pydantic model: the compiler checks a node's
    ``params`` against it (``params.model_json_schema()`` for editors); ``handler`` must be
    pure (no clock, no I/O: time is ``ctx.now``)."""

    kind: str
    params: type[BaseModel]
    handler: Callable[[CustomTaskContext], CustomTaskResult]
    description: str = ""


class TaskRegistry:
    """Custom task kinds by name. Built once (e.g. from entry points) and then only read."""

    def __init__(self, plugins: tuple[TaskPlugin, ...] = ()) -> None:
        self._plugins: dict[str, TaskPlugin] = {}
        for p in plugins:
            self.register(p)

    def register(self, plugin: TaskPlugin) -> None:
        if plugin.kind in self._plugins:
            raise ValueError(f"task kind {plugin.kind!r} is registered twice")
        self._plugins[plugin.kind] = plugin

    def get(self, kind: str) -> TaskPlugin | None:
        return self._plugins.get(kind)

    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._plugins))

    def check_params(self, kind: str, params: Mapping[str, Any]) -> list[str]:
        """Problems with ``params`` for a task of ``kind`` (empty when fine): for the compiler."""
        plugin = self._plugins.get(kind)
        if plugin is None:
            known = ", ".join(self.kinds()) or "none"
            return [f"unknown task kind {kind!r} (registered: {known})"]
        try:
            plugin.params.model_validate(dict(params))
        except ValidationError as e:
            return [
                f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}"
                for err in e.errors()
            ]
        return []

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> TaskRegistry:
        """Every plugin advertised under the entry-point ``group`` (a TaskPlugin, or a
        callable returning one)."""
        plugins: list[TaskPlugin] = []
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            obj = ep.load()
            plugin = obj if isinstance(obj, TaskPlugin) else obj()
            if not isinstance(plugin, TaskPlugin):
                raise TypeError(f"entry point {ep.name!r} does not give a TaskPlugin")
            plugins.append(plugin)
        return cls(tuple(plugins))


_DEFAULT_REGISTRY: list[TaskRegistry] = []


def default_registry() -> TaskRegistry:
    """The registry of the installed entry points, loaded once per process."""
    if not _DEFAULT_REGISTRY:
        _DEFAULT_REGISTRY.append(TaskRegistry.from_entry_points())
    return _DEFAULT_REGISTRY[0]


# --------------------------------------------------------------------------- context


class Ctx:
    """The working copy of a session during one ``step`` (local to that call)."""

    __slots__ = (
        "actions",
        "awaiting",
        "channel",
        "critical",
        "ddt",
        "engine",
        "language",
        "memory",
        "now",
        "pc",
        "plan",
        "plugins",
        "program",
        "reason",
        "stack",
        "status",
    )

    def __init__(
        self,
        program: Program,
        engine: DdtEnginePort,
        plugins: TaskRegistry | None,
        now: datetime,
        language: str,
        channel: str,
        memory: dict[str, Any],
        pc: int,
        stack: tuple[int, ...],
        ddt: DdtState | None,
    ) -> None:
        self.program = program
        self.plan = plan_for(program)
        self.engine = engine
        self.plugins = plugins
        self.now = now
        self.language = language
        self.channel = channel
        self.memory = memory
        self.pc = pc
        self.stack = stack
        self.ddt = ddt
        self.status: Status = "running"
        self.awaiting: Awaiting | None = None
        self.reason: str | None = None
        self.actions: list[Action] = []
        self.critical = False

    def where(self, pc: int | None = None) -> str:
        """``file:line (node X)`` of the task at ``pc`` (the current one by default)."""
        i = self.pc if pc is None else pc
        sm = self.program.source_map
        if 0 <= i < len(sm):
            loc = sm[i]
            node = f" (node {loc.node})" if loc.node else ""
            flow = f" in flow {loc.flow}" if loc.flow != "main" else ""
            return f"{loc.file}:{loc.line}{node}{flow}"
        return f"task {i}"

    def fail(self, reason: str) -> bool:
        self.status = "failed"
        self.reason = reason
        self.awaiting = None
        self.ddt = None
        self.critical = True
        return True

    def write(self, path: tuple[str, ...], value: Any) -> None:
        self.memory = set_path(self.memory, path, value)


# --------------------------------------------------------------------------- plan

_TAG = re.compile(r"<[^>]+>")

# A rendering piece: literal text, or a one-part template whose value is formatted by
# ``render`` (and escaped for its place: SSML, URL).
_Piece = str | Template
# The same piece compiled for one language: literal text, or ``(memory, now) -> text``.
_Compiled = str | Callable[[Mapping[str, Any], datetime], str]


def _pieces(template: Template) -> tuple[_Piece, ...]:
    out: list[_Piece] = []
    for part in template.parts:
        if isinstance(part, TextPart):
            if out and isinstance(out[-1], str):
                out[-1] += part.text
            else:
                out.append(part.text)
        else:
            out.append(Template.model_construct(parts=(part,)))
    return tuple(out)


def _compile(pieces: tuple[_Piece, ...], lang: str) -> tuple[_Compiled, ...]:
    return tuple(p if isinstance(p, str) else compile_template(p, lang) for p in pieces)


class _PromptPlan:
    """One prompt for one language and channel; ``const`` when it has no expression.

    On the voice channel ``markup`` says whether the template is SSML (the designer's voice
    variant: its tags stay, the values put into it are escaped) or plain text (a prompt
    without a voice variant: the whole text is escaped, so "Rossi & Figli" is valid SSML)."""

    __slots__ = ("const", "key", "markup", "pieces", "plain", "voice")

    def __init__(
        self, key: str, template: Template, voice: bool, lang: str, *, markup: bool = True
    ) -> None:
        self.key = key
        self.voice = voice
        self.markup = voice and markup
        self.pieces = _compile(_pieces(template), lang)
        self.const: SayAction | None = None
        if all(isinstance(p, str) for p in self.pieces):
            self.const = self._action("".join(p for p in self.pieces if isinstance(p, str)))
        # plain text escapes nothing piece by piece: the whole template compiled at once
        # gives the same text
        plain = not self.markup and self.const is None
        self.plain = compile_template(template, lang) if plain else None

    def _action(self, raw: str) -> SayAction:
        if not self.voice:
            return build(SayAction, text=raw, ssml=None, prompt=self.key)
        if not self.markup:
            ssml = f"<speak>{html.escape(raw, quote=False)}</speak>"
            return build(SayAction, text=raw, ssml=ssml, prompt=self.key)
        if "<" in raw:
            ssml = raw if raw.lstrip().startswith("<speak") else f"<speak>{raw}</speak>"
            text = html.unescape(" ".join(_TAG.sub(" ", raw).split()))
        else:
            text, ssml = html.unescape(raw), f"<speak>{raw}</speak>"
        return build(SayAction, text=text, ssml=ssml, prompt=self.key)

    def say(self, memory: Mapping[str, Any], now: datetime) -> SayAction:
        if self.const is not None:
            return self.const
        if self.plain is not None:
            return self._action(self.plain(memory, now))
        out: list[str] = []
        for p in self.pieces:
            if isinstance(p, str):
                out.append(p)
            elif self.voice:  # designer SSML stays; values are escaped
                out.append(html.escape(p(memory, now), quote=False))
            else:
                out.append(p(memory, now))
        return self._action("".join(out))


class _BackendPlan:
    __slots__ = ("_by_lang", "backend", "headers", "url")

    def __init__(self, backend: CompiledBackend) -> None:
        self.backend = backend
        self.url = _pieces(backend.url)
        self.headers = {k: _pieces(v) for k, v in backend.headers.items()}
        self._by_lang: dict[str, tuple[tuple[_Compiled, ...], dict[str, tuple[_Compiled, ...]]]]
        self._by_lang = {}

    def compiled(self, lang: str) -> tuple[tuple[_Compiled, ...], dict[str, tuple[_Compiled, ...]]]:
        """The URL and header pieces compiled for ``lang`` (on first use)."""
        hit = self._by_lang.get(lang)
        if hit is None:
            hit = (
                _compile(self.url, lang),
                {k: _compile(v, lang) for k, v in self.headers.items()},
            )
            self._by_lang[lang] = hit
        return hit


class ProgramPlan:
    """What ``step`` precomputes once per program: prompt plans per (key, language,
    channel) and backend URL pieces. Derived data only: it never changes a result."""

    def __init__(self, program: Program) -> None:
        self.prompts: dict[tuple[str, str, str], _PromptPlan] = {}
        for key, by_lang in program.prompts.items():
            for lang in program.languages:
                p = by_lang.get(lang) or by_lang.get(program.default_language)
                if p is None:
                    p = next(iter(by_lang.values()))
                if p.voice is not None:
                    voice = _PromptPlan(key, p.voice, True, lang)
                else:
                    voice = _PromptPlan(key, p.text, True, lang, markup=False)
                self.prompts[(key, lang, "voice")] = voice
                self.prompts[(key, lang, "chat")] = _PromptPlan(key, p.chat or p.text, False, lang)
        self.backends = {name: _BackendPlan(b) for name, b in program.backends.items()}
        self.exprs: tuple[Callable[[Mapping[str, Any], datetime], Any], ...] = tuple(
            compile_expr(e) for e in program.exprs
        )
        # dotted variables that backend results are written to, split once
        self.paths: dict[str, tuple[str, ...]] = {
            var: tuple(var.split("."))
            for t in program.tasks
            if isinstance(t, CallBackendTask)
            for var in t.result
        }


_PLANS: dict[int, tuple[weakref.ref[Program], ProgramPlan]] = {}


def plan_for(program: Program) -> ProgramPlan:
    """The plan of ``program``, built on first use and kept while the program lives."""
    hit = _PLANS.get(id(program))
    if hit is not None and hit[0]() is program:
        return hit[1]
    if len(_PLANS) > 256:
        for k in [k for k, (ref, _) in _PLANS.items() if ref() is None]:
            del _PLANS[k]
    plan = ProgramPlan(program)
    _PLANS[id(program)] = (weakref.ref(program), plan)
    return plan


def say_action(ctx: Ctx, key: str) -> SayAction:
    """The say action for prompt ``key`` in the session's language and channel variant."""
    pp = ctx.plan.prompts.get((key, ctx.language, "voice" if ctx.channel == "voice" else "chat"))
    if pp is None:
        return build(SayAction, text=f"[{key}]", ssml=None, prompt=key)
    return pp.say(ctx.memory, ctx.now)


# --------------------------------------------------------------------------- DDT outcomes


def apply_ddt_step(ctx: Ctx, task: GetDataTask, ds: DdtStep) -> bool:
    """Fold the engine's answer into the session; True when the session must wait or stop."""
    ctx.actions.extend(ds.actions)
    if ds.critical:
        ctx.critical = True
    outcome = ds.outcome
    if outcome == "continue":
        if ds.state is None:
            return ctx.fail(f"DDT {task.ddt!r} continued without a state at {ctx.where()}")
        ctx.ddt = ds.state
        last = ds.actions[-1] if ds.actions else None
        kind = type(last)  # mostly a listen: no ABC isinstance check then
        if kind is ExtractAction or (kind is not ListenAction and isinstance(last, ExtractAction)):
            ctx.status, ctx.awaiting = "running", "extraction"
        else:
            ctx.status, ctx.awaiting = "waiting_input", "input"
        return True
    ctx.ddt = None
    ctx.awaiting = None
    ctx.critical = True
    if outcome == "success":
        ctx.write(task.into, ds.value)
        ctx.pc += 1
        return False
    if outcome == "transfer":
        # the caller asked for a person: the flow's own transfer when the failure route is
        # one (its queue, context and prompt), else the generic "operator"
        reason = ds.reason or "caller_request"
        tasks = ctx.program.tasks
        target = tasks[task.on_failure] if 0 <= task.on_failure < len(tasks) else None
        if isinstance(target, TransferTask):
            ctx.pc = task.on_failure
            if target.prompt:
                ctx.actions.append(say_action(ctx, target.prompt))
            return _transfer(ctx, target.target, target.context, reason)
        return _transfer(ctx, "operator", None, reason)
    # the caller's cancel ("annulla") takes the node's cancel route when it has one; failure
    # (attempts exhausted), and a cancel without a cancel route, take the failure route
    if outcome == "cancel" and task.on_cancel is not None:
        ctx.pc = task.on_cancel
        return False
    ctx.pc = task.on_failure
    return False


# --------------------------------------------------------------------------- handlers


def op_say(ctx: Ctx, task: SayTask) -> bool:
    action = say_action(ctx, task.prompt)
    if task.barge_in is not None and ctx.channel == "voice":
        # barge-in is a voice matter: on chat the say is unchanged
        action = build(SayAction, **{**action.__dict__, "barge_in": task.barge_in})
    ctx.actions.append(action)
    ctx.pc += 1
    return False


def op_get_data(ctx: Ctx, task: GetDataTask) -> bool:
    ds = ctx.engine.begin(
        task.ddt, memory=ctx.memory, language=ctx.language, channel=ctx.channel, at=ctx.now
    )
    return apply_ddt_step(ctx, task, ds)


def op_set(ctx: Ctx, task: SetTask) -> bool:
    ctx.write(task.var, ctx.plan.exprs[task.expr](ctx.memory, ctx.now))
    ctx.pc += 1
    return False


def op_jump(ctx: Ctx, task: JumpTask) -> bool:
    ctx.pc = task.to
    return False


def op_jump_if(ctx: Ctx, task: JumpIfTask) -> bool:
    if ctx.plan.exprs[task.cond](ctx.memory, ctx.now) is True:
        ctx.pc = task.to
    else:
        ctx.pc += 1
    return False


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _url_part(value: str) -> str:
    # Caller input in a URL: percent-encode everything but unreserved characters, so a
    # value can neither add a path segment nor a query parameter.
    if _UNRESERVED.fullmatch(value):
        return value  # what quote() gives for it, without its bytes round trip
    return quote(value, safe="")


def _header_value(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _render_pieces(
    pieces: tuple[_Compiled, ...],
    scope: Mapping[str, Any],
    now: datetime,
    encode: Callable[[str], str],
) -> str:
    return "".join([p if isinstance(p, str) else encode(p(scope, now)) for p in pieces])


def op_call_backend(ctx: Ctx, task: CallBackendTask) -> bool:
    bp = ctx.plan.backends.get(task.backend)
    if bp is None:
        return ctx.fail(f"unknown backend {task.backend!r} at {ctx.where()}")
    backend = bp.backend
    url, header_pieces = bp.compiled(ctx.language)
    exprs = ctx.plan.exprs
    memory, now = ctx.memory, ctx.now
    args = {name: exprs[i](memory, now) for name, i in task.args.items()}
    scope: dict[str, Any] = {**memory, **args, "args": args}
    headers = {k: _render_pieces(v, scope, now, _header_value) for k, v in header_pieces.items()}
    body = (
        None if backend.body is None else {k: exprs[i](scope, now) for k, i in backend.body.items()}
    )
    ctx.actions.append(
        build(
            CallBackendAction,
            backend=task.backend,
            method=backend.method,
            url=_render_pieces(url, scope, now, _url_part),
            headers=headers,
            body=body,
            timeout_ms=backend.timeout_ms,
            retries=backend.retries,
            backoff_ms=backend.backoff_ms,
            max_response_bytes=backend.max_response_bytes,
        )
    )
    ctx.status, ctx.awaiting = "running", "backend"
    return True


def op_send_email(ctx: Ctx, task: SendEmailTask) -> bool:
    to = ctx.plan.exprs[task.to](ctx.memory, ctx.now)
    subject = say_action(ctx, task.subject).text
    body = say_action(ctx, task.body).text
    ctx.actions.append(
        build(SendEmailAction, to="" if to is None else str(to), subject=subject, body=body)
    )
    ctx.status, ctx.awaiting = "running", "backend"
    return True


def op_send_sms(ctx: Ctx, task: SendSmsTask) -> bool:
    to = ctx.plan.exprs[task.to](ctx.memory, ctx.now)
    text = say_action(ctx, task.text).text
    ctx.actions.append(build(SendSmsAction, to="" if to is None else str(to), text=text))
    ctx.status, ctx.awaiting = "running", "backend"
    return True


def _context(ctx: Ctx, names: tuple[str, ...] | None) -> dict[str, Any]:
    if names is not None:
        return {n: get_path(ctx.memory, tuple(n.split("."))) for n in names}
    # every collected, non-sensitive declared variable (sensitive ones must be named)
    out: dict[str, Any] = {}
    for name, spec in ctx.program.variables.items():
        if spec.sensitive:
            continue
        v = get_path(ctx.memory, tuple(name.split(".")))
        if v is not None:
            out[name] = v
    return out


def _transfer(ctx: Ctx, target: str, names: tuple[str, ...] | None, reason: str) -> bool:
    ctx.actions.append(
        build(TransferAction, target=target, reason=reason, context=_context(ctx, names))
    )
    ctx.status = "transferred"
    ctx.awaiting = None
    ctx.ddt = None
    ctx.reason = reason
    ctx.critical = True
    return True


def op_transfer(ctx: Ctx, task: TransferTask) -> bool:
    if task.prompt:
        ctx.actions.append(say_action(ctx, task.prompt))
    return _transfer(ctx, task.target, task.context, "flow")


def op_end(ctx: Ctx, task: EndTask) -> bool:
    if task.prompt:
        ctx.actions.append(say_action(ctx, task.prompt))
    ctx.actions.append(build(EndAction, reason=task.reason))
    ctx.status = "ended"
    ctx.awaiting = None
    ctx.reason = task.reason
    ctx.critical = True
    return True


MAX_STACK = 64


def op_call(ctx: Ctx, task: CallTask) -> bool:
    if len(ctx.stack) >= MAX_STACK:
        return ctx.fail(f"subflow calls nested deeper than {MAX_STACK} at {ctx.where()}")
    ctx.stack = (*ctx.stack, ctx.pc + 1)
    ctx.pc = task.to
    return False


def op_return(ctx: Ctx, task: ReturnTask) -> bool:
    if not ctx.stack:
        return ctx.fail(f"return outside a subflow at {ctx.where()}")
    ctx.pc = ctx.stack[-1]
    ctx.stack = ctx.stack[:-1]
    return False


def op_fail(ctx: Ctx, task: FailTask) -> bool:
    return ctx.fail(f"{task.reason} at {ctx.where()}")


def op_custom(ctx: Ctx, task: CustomTask) -> bool:
    plugin = ctx.plugins.get(task.kind) if ctx.plugins is not None else None
    if plugin is None:
        return ctx.fail(f"unknown task kind {task.kind!r} at {ctx.where()}")
    try:
        params = plugin.params.model_validate(task.params)
    except ValidationError as e:
        return ctx.fail(f"bad parameters for task {task.kind!r} at {ctx.where()}: {e.errors()}")
    res = plugin.handler(
        CustomTaskContext(
            params=params,
            memory=ctx.memory,
            now=ctx.now,
            language=ctx.language,
            channel=ctx.channel,
        )
    )
    for var, value in res.updates.items():
        ctx.write(tuple(var.split(".")), value)
    ctx.actions.extend(res.actions)
    if res.outcome == "fail":
        return ctx.fail(f"{res.reason or task.kind + ' failed'} at {ctx.where()}")
    ctx.pc += 1
    return False


Handler = Callable[[Ctx, Any], bool]

HANDLERS: dict[str, Handler] = {
    "say": op_say,
    "get_data": op_get_data,
    "set": op_set,
    "jump": op_jump,
    "jump_if": op_jump_if,
    "call_backend": op_call_backend,
    "send_email": op_send_email,
    "send_sms": op_send_sms,
    "transfer": op_transfer,
    "end": op_end,
    "call": op_call,
    "return": op_return,
    "fail": op_fail,
    "custom": op_custom,
}


# --------------------------------------------------------------------------- results


def response_path(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` of a JSON response (numeric segments index lists);
    ``""`` or ``"."`` is the whole body. None when absent."""
    if path in ("", "."):
        return body
    cur = body
    for seg in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(seg)
        elif isinstance(cur, list) and (seg.isdigit() or (seg[:1] == "-" and seg[1:].isdigit())):
            i = int(seg)
            cur = cur[i] if -len(cur) <= i < len(cur) else None
        else:
            return None
        if cur is None:
            return None
    return cur


def backend_name(task: Any) -> str:
    if isinstance(task, CallBackendTask):
        return task.backend
    if isinstance(task, SendEmailTask):
        return EMAIL_BACKEND
    return SMS_BACKEND


def apply_backend_result(ctx: Ctx, task: Any, ev: BackendResultEvent) -> None:
    """Resume after a call_backend/send_email/send_sms: map the result or take a route."""
    ctx.awaiting = None
    ctx.status = "running"
    ctx.critical = True
    if ev.ok:
        if isinstance(task, CallBackendTask):
            paths = ctx.plan.paths
            for var, path in task.result.items():
                where = paths.get(var) or tuple(var.split("."))
                ctx.write(where, response_path(ev.body, path))
        ctx.pc += 1
        return
    route: int | None
    if isinstance(task, CallBackendTask) and ev.error == "timeout" and task.on_timeout is not None:
        route = task.on_timeout
    else:
        route = task.on_error
    if route is None:
        what = ev.error or "error"
        detail = f": {ev.detail}" if ev.detail else ""
        ctx.fail(f"{backend_name(task)} failed ({what}{detail}) at {ctx.where()}")
        return
    ctx.pc = route
