"""The orchestrator: the pure ``step(program, state, event) -> (state, actions)``.

No clock, no randomness, no I/O, no global mutable state: time enters only as
``event.at`` (``now`` for expressions), backend and NER/LLM results enter only as
events, and the DDT engine is injected. Replaying a session's events therefore
reproduces every state and action byte for byte. Each applied event adds 1 to ``seq``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ddt_engine.expressions import set_path
from runtime.ports import RuntimeFault
from runtime.tasks import (
    HANDLERS,
    Ctx,
    DdtEnginePort,
    TaskRegistry,
    apply_backend_result,
    apply_ddt_step,
    backend_name,
    build,
    construct,
    default_registry,
)
from schemas.actions import Action, EndAction
from schemas.events import (
    BackendResultEvent,
    Event,
    ExtractionResultEvent,
    HangupEvent,
    NoInputEvent,
    StartEvent,
    UserInputEvent,
)
from schemas.program import (
    CallBackendTask,
    GetDataTask,
    Program,
    SendEmailTask,
    SendSmsTask,
)
from schemas.session import Channel, SessionState

__all__ = [
    "MAX_TASKS_PER_STEP",
    "InvalidEventError",
    "ProgramMismatchError",
    "SessionClosedError",
    "StepResult",
    "UnsupportedLanguageError",
    "new_session",
    "run_step",
    "step",
]

MAX_TASKS_PER_STEP = 10_000

TERMINAL = frozenset({"ended", "transferred", "failed"})


class InvalidEventError(RuntimeFault):
    """The event does not fit the session's state (user input while a backend call is
    pending, a second start, …). The state is unchanged."""

    code = "invalid_event"


class SessionClosedError(InvalidEventError):
    """An event for a session that has ended, been transferred or failed."""

    code = "session_closed"


class ProgramMismatchError(InvalidEventError):
    """The state belongs to another program (sessions are pinned to their program id)."""

    code = "program_mismatch"


class UnsupportedLanguageError(RuntimeFault):
    code = "unsupported_language"


@dataclass(frozen=True, slots=True)
class StepResult:
    """``step``'s answer plus ``critical``: the turn must reach MongoDB before it is
    acknowledged (a DDT completed or answered a confirmation/validation, a backend or
    message task completed, the session ended)."""

    state: SessionState
    actions: list[Action]
    critical: bool


def new_session(
    program: Program,
    session_id: str,
    *,
    tenant: str = "default",
    language: str | None = None,
    channel: Channel = "chat",
) -> SessionState:
    """The state of a session before its start event (``seq`` 0, status ``running``)."""
    lang = language or program.default_language
    if lang not in program.languages:
        raise UnsupportedLanguageError(
            f"language {lang!r} is not one of the program's ({', '.join(program.languages)})",
            language=lang,
        )
    return SessionState(
        session_id=session_id,
        tenant=tenant,
        program_id=program.id,
        pc=program.entry,
        language=lang,
        channel=channel,
    )


def step(
    program: Program,
    state: SessionState,
    event: Event,
    *,
    engine: DdtEnginePort,
    plugins: TaskRegistry | None = None,
) -> tuple[SessionState, list[Action]]:
    """Apply one event: run tasks from ``state.pc`` until the session waits or ends."""
    r = run_step(program, state, event, engine=engine, plugins=plugins)
    return r.state, r.actions


def _fault(cls: type[InvalidEventError], msg: str, state: SessionState) -> InvalidEventError:
    return cls(
        msg,
        tenant=state.tenant,
        session_id=state.session_id,
        seq=state.seq,
        pc=state.pc,
    )


def _start_memory(program: Program, state: SessionState, ev: StartEvent) -> dict[str, Any]:
    memory: dict[str, Any] = dict(state.memory)
    for name, spec in program.variables.items():
        if spec.default is not None:
            memory = set_path(memory, tuple(name.split(".")), spec.default)
    if ev.variables:
        tops = {n.split(".", 1)[0] for n in program.variables}
        for name, value in ev.variables.items():
            if program.variables and name.split(".", 1)[0] not in tops:
                raise _fault(InvalidEventError, f"unknown variable {name!r} at start", state)
            memory = set_path(memory, tuple(name.split(".")), value)
    return memory


def run_step(
    program: Program,
    state: SessionState,
    event: Event,
    *,
    engine: DdtEnginePort,
    plugins: TaskRegistry | None = None,
    trace: list[int] | None = None,
) -> StepResult:
    """``step`` with the ``critical`` flag of the turn. ``trace``, when given, receives the
    index of every task executed (for coverage); it does not change the result."""
    if state.program_id != program.id:
        raise _fault(
            ProgramMismatchError,
            f"session runs program {state.program_id}, not {program.id}",
            state,
        )
    if state.status in TERMINAL:
        raise _fault(
            SessionClosedError,
            f"session is {state.status} ({state.reason}); no more events accepted",
            state,
        )
    ctx = Ctx(
        program,
        engine,
        plugins if plugins is not None else default_registry(),
        event.at,
        state.language,
        state.channel,
        state.memory,
        state.pc,
        state.stack,
        state.ddt,
    )
    tasks = program.tasks
    run = True
    kind = _KIND.get(type(event))
    if kind is None:  # a subclass: the slow, general check
        kind = next((k for c, k in _KIND.items() if isinstance(event, c)), "?")
    # ``kind`` before isinstance: pydantic classes are ABCs, where a failed check is slow
    if kind == "input":
        if state.awaiting != "input" or state.ddt is None:
            raise _fault(
                InvalidEventError,
                f"{event.type} while the session waits for {state.awaiting or 'nothing'}",
                state,
            )
        run = _resume_ddt(ctx, state, event)
    elif kind == "hangup":
        ctx.actions.append(build(EndAction, reason="hangup"))
        ctx.status, ctx.reason, ctx.ddt, ctx.critical = "ended", "hangup", None, True
        run = False
    elif kind == "start" and isinstance(event, StartEvent):
        if state.seq != 0 or state.status != "running" or state.awaiting is not None:
            raise _fault(InvalidEventError, "the session has already started", state)
        ctx.memory = _start_memory(program, state, event)
    elif kind == "extraction" and isinstance(event, ExtractionResultEvent):
        if state.awaiting != "extraction" or state.ddt is None:
            raise _fault(
                InvalidEventError,
                f"extraction_result while the session waits for {state.awaiting or 'nothing'}",
                state,
            )
        run = _resume_ddt(ctx, state, event)
    elif kind == "backend" and isinstance(event, BackendResultEvent):
        task = tasks[state.pc] if 0 <= state.pc < len(tasks) else None
        if state.awaiting != "backend" or not isinstance(task, _BACKEND_TASKS):
            raise _fault(
                InvalidEventError,
                f"backend_result while the session waits for {state.awaiting or 'nothing'}",
                state,
            )
        expected = backend_name(task)
        if event.backend != expected:
            raise _fault(
                InvalidEventError,
                f"backend_result for {event.backend!r} while waiting for {expected!r}",
                state,
            )
        apply_backend_result(ctx, task, event)
        run = ctx.status == "running"
    else:  # pragma: no cover - the Event union is closed
        raise _fault(InvalidEventError, f"unknown event {type(event).__name__}", state)

    if trace is not None and state.awaiting is not None:
        trace.append(state.pc)
    if run:
        _run(ctx, trace)

    new = _next_state(
        state,
        {
            "seq": state.seq + 1,
            "pc": ctx.pc,
            "stack": ctx.stack,
            "memory": ctx.memory,
            "ddt": ctx.ddt,
            "status": ctx.status,
            "awaiting": ctx.awaiting,
            "reason": ctx.reason,
        },
    )
    return StepResult(new, ctx.actions, ctx.critical)


_KIND: dict[type[Any], str] = {
    UserInputEvent: "input",
    NoInputEvent: "input",
    HangupEvent: "hangup",
    StartEvent: "start",
    ExtractionResultEvent: "extraction",
    BackendResultEvent: "backend",
}

_BACKEND_TASKS = (CallBackendTask, SendEmailTask, SendSmsTask)


def _next_state(state: SessionState, update: dict[str, Any]) -> SessionState:
    """``state.model_copy(update=update)`` without pydantic's generic copy machinery: the
    state is frozen and its values are never mutated (memory is copy-on-write)."""
    d = dict(state.__dict__)
    d.update(update)
    return construct(SessionState, d, state.__pydantic_fields_set__ | update.keys())


def _resume_ddt(ctx: Ctx, state: SessionState, event: Event) -> bool:
    task = ctx.program.tasks[state.pc] if 0 <= state.pc < len(ctx.program.tasks) else None
    if state.ddt is None or (type(task) is not GetDataTask and not isinstance(task, GetDataTask)):
        ctx.fail(f"the session waits in a DDT but task {state.pc} is not a get_data")
        return False
    ds = ctx.engine.handle(
        state.ddt, event, memory=ctx.memory, language=ctx.language, channel=ctx.channel
    )
    return not apply_ddt_step(ctx, task, ds)


def _run(ctx: Ctx, trace: list[int] | None) -> None:
    tasks = ctx.program.tasks
    n = len(tasks)
    budget = MAX_TASKS_PER_STEP
    while True:
        pc = ctx.pc
        if not 0 <= pc < n:
            ctx.fail(f"jump to task {pc} outside the program (0..{n - 1})")
            return
        if budget == 0:
            ctx.fail(
                f"task budget exceeded ({MAX_TASKS_PER_STEP} tasks in one step) "
                f"at {ctx.where()}: a loop that never waits for the caller"
            )
            return
        budget -= 1
        if trace is not None:
            trace.append(pc)
        task = tasks[pc]
        if HANDLERS[task.op](ctx, task):
            return
