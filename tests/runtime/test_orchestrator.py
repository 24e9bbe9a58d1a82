"""step() on hand-built programs: one test per task op, events that do not fit, budget."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from pydantic import BaseModel

from runtime.orchestrator import (
    InvalidEventError,
    ProgramMismatchError,
    SessionClosedError,
    UnsupportedLanguageError,
    new_session,
    run_step,
    step,
)
from runtime.tasks import CustomTaskContext, CustomTaskResult, TaskPlugin, TaskRegistry
from schemas.actions import (
    CallBackendAction,
    CustomAction,
    EndAction,
    SayAction,
    SendEmailAction,
    SendSmsAction,
    TransferAction,
)
from schemas.ddt import DdtStep
from schemas.events import (
    BackendResultEvent,
    Event,
    HangupEvent,
    NoInputEvent,
    StartEvent,
    UserInputEvent,
)
from schemas.expressions import Binary, ExprPart, Lit, Template, TextPart, Var
from schemas.program import (
    CallBackendTask,
    CallTask,
    CompiledBackend,
    CustomTask,
    EndTask,
    FailTask,
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
    VariableSpec,
)
from schemas.prompts import Prompt
from schemas.session import DdtState, SessionState

AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


class NoDdts:
    """The programs here have no get_data task: the engine is never asked."""

    def begin(self, ddt: str, **kw: Any) -> DdtStep:
        raise AssertionError("no DDT in this program")

    def handle(self, state: DdtState, event: Event, **kw: Any) -> DdtStep:
        raise AssertionError("no DDT in this program")


ENGINE = NoDdts()
NOPLUGINS = TaskRegistry()


def tpl(*parts: str | tuple[str, ...]) -> Template:
    return Template(
        parts=tuple(
            TextPart(text=p) if isinstance(p, str) else ExprPart(expr=Var(path=p)) for p in parts
        )
    )


def prompt(
    it: Template, en: Template | None = None, *, voice: Template | None = None
) -> dict[str, Prompt]:
    return {"it": Prompt(text=it, voice=voice), "en": Prompt(text=en or it, voice=voice)}


def program(tasks: list[Any], **kw: Any) -> Program:
    base: dict[str, Any] = {
        "project": "t",
        "languages": ("it", "en"),
        "default_language": "it",
        "tasks": tuple(tasks),
        "source_map": tuple(
            SourceLoc(file="flow.yaml", line=10 + i, node=f"n{i}") for i in range(len(tasks))
        ),
    }
    base.update(kw)
    return Program(**base).with_id()


def start(
    p: Program, channel: str = "chat", lang: str = "it", **variables: Any
) -> tuple[SessionState, list[Any]]:
    s = new_session(p, "s1", language=lang, channel=channel)  # type: ignore[arg-type]
    return step(p, s, StartEvent(at=AT, variables=variables), engine=ENGINE, plugins=NOPLUGINS)


def test_say_set_jump_if_end() -> None:
    p = program(
        [
            SayTask(prompt="hello"),
            SetTask(var=("order", "n"), expr=0),
            JumpIfTask(cond=1, to=4),
            FailTask(reason="no branch matched"),
            EndTask(reason="done", prompt="bye"),
        ],
        exprs=(Lit(v=3), Binary(op="==", a=Var(path=("order", "n")), b=Lit(v=3))),
        prompts={
            "hello": prompt(tpl("Ciao ", ("name",)), tpl("Hi ", ("name",))),
            "bye": prompt(tpl("Arrivederci"), tpl("Goodbye")),
        },
        variables={"name": VariableSpec(type="string")},
    )
    s, actions = start(p, name="Anna")
    assert actions == [
        SayAction(text="Ciao Anna", prompt="hello"),
        SayAction(text="Arrivederci", prompt="bye"),
        EndAction(reason="done"),
    ]
    assert (s.status, s.reason, s.seq, s.awaiting) == ("ended", "done", 1, None)
    assert s.memory == {"name": "Anna", "order": {"n": 3}}
    s2, actions2 = start(p, lang="en", name="Bob")
    assert [a.text for a in actions2 if isinstance(a, SayAction)] == ["Hi Bob", "Goodbye"]


def test_jump_if_false_falls_through_to_fail_with_location() -> None:
    p = program(
        [JumpIfTask(cond=0, to=2), FailTask(reason="no branch matched"), EndTask()],
        exprs=(Lit(v=False),),
    )
    s, actions = start(p)
    assert actions == []
    assert (s.status, s.reason) == ("failed", "no branch matched at flow.yaml:11 (node n1)")


def test_voice_ssml_escapes_values_and_keeps_designer_markup() -> None:
    p = program(
        [SayTask(prompt="p"), SayTask(prompt="plain"), SayTask(prompt="const"), EndTask()],
        prompts={
            "p": prompt(
                tpl("Ciao"),
                voice=tpl('<speak>Ciao <break time="300ms"/>', ("name",), "</speak>"),
            ),
            "plain": prompt(tpl("Tu & io ", ("name",))),
            "const": prompt(tpl("Rossi & Figli: meno di 3 < 5")),
        },
    )
    s, actions = start(p, channel="voice", name="<b>Tom & Jerry</b>")
    assert actions[0] == SayAction(
        text="Ciao <b>Tom & Jerry</b>",
        ssml='<speak>Ciao <break time="300ms"/>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</speak>',
        prompt="p",
    )
    assert actions[1] == SayAction(
        text="Tu & io <b>Tom & Jerry</b>",
        ssml="<speak>Tu &amp; io &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</speak>",
        prompt="plain",
    )
    # a prompt without a voice variant is text, not markup: all of it is escaped
    assert actions[2] == SayAction(
        text="Rossi & Figli: meno di 3 < 5",
        ssml="<speak>Rossi &amp; Figli: meno di 3 &lt; 5</speak>",
        prompt="const",
    )
    for a in actions[:3]:
        assert isinstance(a, SayAction) and a.ssml is not None
        ElementTree.fromstring(a.ssml)  # well-formed XML, as a speech engine requires


def backend_program(**task_kw: Any) -> Program:
    return program(
        [
            CallBackendTask(
                backend="lookup",
                args={"cf": 0},
                result={"patient.name": "data.name", "patient.slot": "data.slots.1"},
                **task_kw,
            ),
            EndTask(reason="found", prompt="found"),
            TransferTask(target="operator", prompt="sorry", context=("patient.cf",)),
            EndTask(reason="timeout"),
        ],
        exprs=(Var(path=("patient", "cf")), Var(path=("token",))),
        prompts={
            "found": prompt(tpl("Trovato ", ("patient", "name"), " ", ("patient", "slot"))),
            "sorry": prompt(tpl("Ti passo un operatore")),
        },
        backends={
            "lookup": CompiledBackend(
                url=tpl("https://api.example.org/patients/", ("cf",), "?q=", ("patient", "q")),
                headers={"x-token": tpl(("token",))},
                timeout_ms=500,
                retries=2,
            )
        },
        variables={
            "patient.cf": VariableSpec(type="string", sensitive=True),
            "patient.q": VariableSpec(type="string"),
            "token": VariableSpec(type="string"),
        },
    )


def test_call_backend_encodes_caller_input_and_maps_result() -> None:
    p = backend_program(on_error=2)
    s, actions = start(
        p, patient={"cf": "RSS/../admin?x=1", "q": "a&b=c d"}, token="t\r\nX-Evil: 1"
    )
    assert actions == [
        CallBackendAction(
            backend="lookup",
            method="GET",
            url="https://api.example.org/patients/RSS%2F..%2Fadmin%3Fx%3D1?q=a%26b%3Dc%20d",
            headers={"x-token": "t  X-Evil: 1"},
            timeout_ms=500,
            retries=2,
        )
    ]
    assert (s.status, s.awaiting, s.pc) == ("running", "backend", 0)
    body = {"data": {"name": "Mario", "slots": ["09:00", "10:30"]}}
    r = run_step(
        p,
        s,
        BackendResultEvent(at=AT, backend="lookup", ok=True, status=200, body=body),
        engine=ENGINE,
        plugins=NOPLUGINS,
    )
    assert r.critical
    assert r.state.memory["patient"] == {
        "cf": "RSS/../admin?x=1",
        "q": "a&b=c d",
        "name": "Mario",
        "slot": "10:30",
    }
    assert [a.text for a in r.actions if isinstance(a, SayAction)] == ["Trovato Mario 10:30"]
    assert r.state.status == "ended"


def test_call_backend_error_route_and_transfer_context() -> None:
    p = backend_program(on_error=2)
    s, _ = start(p, patient={"cf": "RSSMRA80A01H501U"})
    s2, actions = step(
        p,
        s,
        BackendResultEvent(at=AT, backend="lookup", ok=False, error="error", status=500),
        engine=ENGINE,
        plugins=NOPLUGINS,
    )
    assert actions == [
        SayAction(text="Ti passo un operatore", prompt="sorry"),
        TransferAction(
            target="operator", reason="flow", context={"patient.cf": "RSSMRA80A01H501U"}
        ),
    ]
    assert (s2.status, s2.reason) == ("transferred", "flow")


def test_call_backend_timeout_route_and_no_route_fails() -> None:
    p = backend_program(on_error=2, on_timeout=3)
    s, _ = start(p)
    timeout = BackendResultEvent(at=AT, backend="lookup", ok=False, error="timeout")
    s2, actions = step(p, s, timeout, engine=ENGINE, plugins=NOPLUGINS)
    assert (s2.status, s2.reason, actions) == ("ended", "timeout", [EndAction(reason="timeout")])
    # timeout without on_timeout takes on_error
    p = backend_program(on_error=2)
    s, _ = start(p)
    s2, _ = step(p, s, timeout, engine=ENGINE, plugins=NOPLUGINS)
    assert s2.status == "transferred"
    # no route at all: failed, naming the backend and where
    p = backend_program()
    s, _ = start(p)
    s2, _ = step(
        p,
        s,
        BackendResultEvent(
            at=AT, backend="lookup", ok=False, error="invalid_response", detail="not JSON"
        ),
        engine=ENGINE,
        plugins=NOPLUGINS,
    )
    assert (s2.status, s2.reason) == (
        "failed",
        "lookup failed (invalid_response: not JSON) at flow.yaml:10 (node n0)",
    )


def test_events_that_do_not_fit() -> None:
    p = backend_program(on_error=2)
    s, _ = start(p)
    with pytest.raises(InvalidEventError, match="user_input while the session waits for backend"):
        step(p, s, UserInputEvent(at=AT, text="hi"), engine=ENGINE, plugins=NOPLUGINS)
    with pytest.raises(InvalidEventError, match="for 'other' while waiting for 'lookup'"):
        step(
            p,
            s,
            BackendResultEvent(at=AT, backend="other", ok=True),
            engine=ENGINE,
            plugins=NOPLUGINS,
        )
    with pytest.raises(InvalidEventError, match="already started"):
        step(p, s, StartEvent(at=AT), engine=ENGINE, plugins=NOPLUGINS)
    with pytest.raises(InvalidEventError, match="unknown variable 'nope'"):
        start(p, nope=1)
    ended, _ = step(p, s, HangupEvent(at=AT), engine=ENGINE, plugins=NOPLUGINS)
    with pytest.raises(SessionClosedError, match="session is ended"):
        step(p, ended, NoInputEvent(at=AT), engine=ENGINE, plugins=NOPLUGINS)
    other = program([EndTask()])
    with pytest.raises(ProgramMismatchError):
        step(other, s, HangupEvent(at=AT), engine=ENGINE, plugins=NOPLUGINS)
    with pytest.raises(UnsupportedLanguageError):
        new_session(p, "x", language="fr")


def test_hangup_ends_in_any_state() -> None:
    p = backend_program(on_error=2)
    s, _ = start(p)
    r = run_step(p, s, HangupEvent(at=AT), engine=ENGINE, plugins=NOPLUGINS)
    assert (r.state.status, r.state.reason, r.state.awaiting, r.critical) == (
        "ended",
        "hangup",
        None,
        True,
    )
    assert r.actions == [EndAction(reason="hangup")]


def test_send_email_and_sms_results() -> None:
    p = program(
        [
            SendEmailTask(to=0, subject="subj", body="body", on_error=3),
            SendSmsTask(to=1, text="sms"),
            EndTask(reason="sent"),
            EndTask(reason="email_failed"),
        ],
        exprs=(Var(path=("email",)), Var(path=("phone",))),
        prompts={
            "subj": prompt(tpl("Pratica ", ("id",))),
            "body": prompt(tpl("Gentile cliente, pratica ", ("id",), " ricevuta.")),
            "sms": prompt(tpl("Promemoria ", ("id",))),
        },
    )
    s, actions = start(p, email="a@b.it", phone="+39333", id="X1")
    assert actions == [
        SendEmailAction(
            to="a@b.it", subject="Pratica X1", body="Gentile cliente, pratica X1 ricevuta."
        )
    ]
    s, actions = step(
        p, s, BackendResultEvent(at=AT, backend="email", ok=True), engine=ENGINE, plugins=NOPLUGINS
    )
    assert actions == [SendSmsAction(to="+39333", text="Promemoria X1")]
    s2, actions = step(
        p, s, BackendResultEvent(at=AT, backend="sms", ok=True), engine=ENGINE, plugins=NOPLUGINS
    )
    assert (s2.status, s2.reason) == ("ended", "sent")
    # a refused e-mail takes its on_error route
    s, _ = start(p, email="a@b.it", phone="+39333", id="X1")
    s, _ = step(
        p,
        s,
        BackendResultEvent(at=AT, backend="email", ok=False, error="refused"),
        engine=ENGINE,
        plugins=NOPLUGINS,
    )
    assert (s.status, s.reason) == ("ended", "email_failed")


def test_call_and_return() -> None:
    p = program(
        [
            CallTask(to=3),
            SayTask(prompt="back"),
            EndTask(),
            SayTask(prompt="sub"),
            ReturnTask(),
        ],
        prompts={"back": prompt(tpl("back")), "sub": prompt(tpl("sub"))},
    )
    s, actions = start(p)
    assert [a.text for a in actions if isinstance(a, SayAction)] == ["sub", "back"]
    assert (s.status, s.stack) == ("ended", ())
    p = program([ReturnTask()])
    s, _ = start(p)
    assert (s.status, s.reason) == ("failed", "return outside a subflow at flow.yaml:10 (node n0)")


def test_task_budget_exceeded_names_the_task() -> None:
    p = program([SetTask(var=("i",), expr=0), JumpTask(to=0)], exprs=(Lit(v=1),))
    s, actions = start(p)
    assert s.status == "failed"
    assert s.reason is not None
    assert s.reason.startswith("task budget exceeded (10000 tasks in one step) at flow.yaml:1")


def test_jump_outside_program_fails() -> None:
    p = program([JumpTask(to=7)])
    s, _ = start(p)
    assert (s.status, s.reason) == ("failed", "jump to task 7 outside the program (0..0)")


class Discount(BaseModel):
    percent: int
    into: str


def _discount(ctx: CustomTaskContext) -> CustomTaskResult:
    params = ctx.params
    assert isinstance(params, Discount)
    price = ctx.memory.get("price", 0)
    if params.percent > 90:
        return CustomTaskResult(outcome="fail", reason="discount too large")
    return CustomTaskResult(
        updates={params.into: price * (100 - params.percent) // 100},
        actions=(CustomAction(kind="discount", params={"percent": params.percent}),),
    )


DISCOUNT = TaskPlugin(kind="discount", params=Discount, handler=_discount)


def test_custom_task_plugin() -> None:
    reg = TaskRegistry((DISCOUNT,))
    assert reg.check_params("discount", {"percent": 10, "into": "x"}) == []
    assert reg.check_params("discount", {"percent": "lots"}) == [
        "percent: Input should be a valid integer, unable to parse string as an integer",
        "into: Field required",
    ]
    assert reg.check_params("nope", {}) == ["unknown task kind 'nope' (registered: discount)"]
    p = program(
        [
            CustomTask(kind="discount", params={"percent": 20, "into": "final.price"}),
            CustomTask(kind="discount", params={"percent": 95, "into": "x"}),
        ]
    )
    s = new_session(p, "s")
    s, actions = step(p, s, StartEvent(at=AT, variables={"price": 200}), engine=ENGINE, plugins=reg)
    assert s.memory["final"] == {"price": 160}
    assert actions == [CustomAction(kind="discount", params={"percent": 20})]
    assert (s.status, s.reason) == ("failed", "discount too large at flow.yaml:11 (node n1)")
    s2, _ = start(p)  # no plugin registered
    assert (s2.status, s2.reason) == (
        "failed",
        "unknown task kind 'discount' at flow.yaml:10 (node n0)",
    )


def test_plugins_from_entry_points(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ddtflow_greet.py").write_text(
        "from pydantic import BaseModel\n"
        "from runtime.tasks import CustomTaskResult, TaskPlugin\n"
        "class Params(BaseModel):\n"
        "    into: str\n"
        "def handle(ctx):\n"
        "    return CustomTaskResult(updates={ctx.params.into: ctx.now.date().isoformat()})\n"
        "def plugin():\n"
        "    return TaskPlugin(kind='today', params=Params, handler=handle)\n"
    )
    dist = tmp_path / "ddtflow_greet-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ddtflow-greet\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ddtflow.tasks]\ntoday = ddtflow_greet:plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = TaskRegistry.from_entry_points()
    assert reg.kinds() == ("today",)
    assert reg.check_params("today", {}) == ["into: Field required"]
    p = program([CustomTask(kind="today", params={"into": "d"}), EndTask()])
    s = new_session(p, "s")
    s, _ = step(p, s, StartEvent(at=AT), engine=ENGINE, plugins=reg)
    assert s.memory == {"d": "2026-03-01"}


def test_step_does_not_touch_its_inputs() -> None:
    p = backend_program(on_error=2)
    s, _ = start(p, patient={"cf": "X"})
    before = s.model_dump()
    body = {"data": {"name": "M", "slots": []}}
    ev = BackendResultEvent(at=AT, backend="lookup", ok=True, body=body)
    a = step(p, s, ev, engine=ENGINE, plugins=NOPLUGINS)
    b = step(p, s, ev, engine=ENGINE, plugins=NOPLUGINS)
    assert s.model_dump() == before
    assert a == b and a[0].digest() == b[0].digest()
    assert body == {"data": {"name": "M", "slots": []}}
