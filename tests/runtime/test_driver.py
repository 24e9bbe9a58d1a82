"""The session driver with the embedded default (MemoryStore + JsonlSink): the commit
protocol, one record per event, idempotent retries, conflicts, sink failures."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime.driver import SessionDriver
from runtime.effects import StubEffects, StubResponse
from runtime.orchestrator import InvalidEventError
from runtime.ports import ConflictError, SessionNotFoundError, StoreUnavailableError
from runtime.programs import ProgramNotFoundError, ProgramRegistry
from runtime.sinks.jsonl import JsonlSink, read_turns
from runtime.stores.memory import MemoryStore
from runtime.stores.redis import RedisStore
from runtime.tasks import TaskRegistry
from schemas.actions import SayAction
from schemas.ddt import DdtStep
from schemas.events import Event, HangupEvent
from schemas.expressions import ExprPart, Template, TextPart, Var
from schemas.program import CallBackendTask, CompiledBackend, EndTask, Program, SayTask, SourceLoc
from schemas.prompts import Prompt
from schemas.session import DdtState

AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


class NoDdts:
    def begin(self, ddt: str, **kw: Any) -> DdtStep:
        raise AssertionError("no DDT here")

    def handle(self, state: DdtState, event: Event, **kw: Any) -> DdtStep:
        raise AssertionError("no DDT here")


def _tpl(*parts: str | tuple[str, ...]) -> Template:
    return Template(
        parts=tuple(
            TextPart(text=p) if isinstance(p, str) else ExprPart(expr=Var(path=p)) for p in parts
        )
    )


PROGRAM = Program(
    project="lookup",
    languages=("it",),
    default_language="it",
    tasks=(
        SayTask(prompt="hi"),
        CallBackendTask(backend="lookup", result={"name": "name"}, on_error=4),
        SayTask(prompt="found"),
        EndTask(reason="completed"),
        EndTask(reason="backend_down"),
    ),
    prompts={
        "hi": {"it": Prompt(text=_tpl("Un momento"))},
        "found": {"it": Prompt(text=_tpl("Ciao ", ("name",)))},
    },
    backends={"lookup": CompiledBackend(url=_tpl("http://127.0.0.1:9/lookup"))},
    source_map=tuple(SourceLoc(file="flow.yaml", line=i + 1) for i in range(5)),
).with_id()


def _make_driver(
    tmp_path: Path, responses: dict[str, list[StubResponse]] | None = None, log: Path | None = None
) -> tuple[SessionDriver, ProgramRegistry, Path]:
    programs = ProgramRegistry(engine_factory=lambda ddts: NoDdts(), plugins=TaskRegistry())
    programs.add(PROGRAM)
    log = log or tmp_path / "turns.jsonl"
    driver = SessionDriver(
        MemoryStore(),
        JsonlSink(log),
        programs,
        StubEffects(
            responses
            if responses is not None
            else {"lookup": [StubResponse(body={"name": "Anna"})]}
        ),
        clock=lambda: AT,
        new_id=lambda: "s1",
    )
    return driver, programs, log


@pytest.fixture()
async def make_driver() -> AsyncIterator[
    Callable[..., tuple[SessionDriver, ProgramRegistry, Path]]
]:
    made: list[SessionDriver] = []

    def make(*args: Any, **kw: Any) -> tuple[SessionDriver, ProgramRegistry, Path]:
        out = _make_driver(*args, **kw)
        made.append(out[0])
        return out

    yield make
    for d in made:
        await d.aclose()


Maker = Callable[..., tuple[SessionDriver, ProgramRegistry, Path]]


async def test_start_runs_effects_and_logs_one_record_per_event(
    tmp_path: Path, make_driver: Maker
) -> None:
    driver, _, log = make_driver(tmp_path)
    resp = await driver.start("acme", PROGRAM.id, language="it")
    assert (resp.session_id, resp.tenant, resp.seq, resp.status) == ("s1", "acme", 2, "ended")
    assert resp.actions[:1] == (SayAction(text="Un momento", prompt="hi"),)
    assert [a.type for a in resp.actions] == ["say", "say", "end"]  # call_backend is internal
    records = list(read_turns(log))
    assert [(r.seq, r.event.type, r.critical) for r in records] == [
        (1, "start", False),
        (2, "backend_result", True),
    ]
    await driver.settle()  # the store's copy is dropped after the answer
    stored = await driver.store.load("acme", "s1")
    assert stored is not None and stored.unconfirmed is None
    assert records[-1].state_digest == stored.state.digest()
    assert records[0].actions[-1].type == "call_backend"


async def test_backend_error_takes_route(tmp_path: Path, make_driver: Maker) -> None:
    driver, _, _ = make_driver(tmp_path, {"lookup": [StubResponse(error="timeout", status=0)]})
    resp = await driver.start("acme", PROGRAM.id)
    assert (resp.status, resp.reason) == ("ended", "backend_down")


async def test_idempotent_start_and_conflict(tmp_path: Path, make_driver: Maker) -> None:
    driver, _, _ = make_driver(tmp_path)
    first = await driver.start("t", PROGRAM.id, session_id="abc", idempotency_key="k1")
    again = await driver.start("t", PROGRAM.id, session_id="abc", idempotency_key="k1")
    assert again == first
    with pytest.raises(ConflictError) as e:
        await driver.start("t", PROGRAM.id, session_id="abc", idempotency_key="k2")
    assert e.value.current_seq == 2


async def test_turn_errors(tmp_path: Path, make_driver: Maker) -> None:
    driver, _, _ = make_driver(tmp_path)
    with pytest.raises(SessionNotFoundError):
        await driver.turn("t", "nope", HangupEvent(at=AT), expected_seq=0)
    resp = await driver.start("t", PROGRAM.id)
    with pytest.raises(ConflictError) as e:
        await driver.turn("t", resp.session_id, HangupEvent(at=AT), expected_seq=1)
    assert e.value.current_seq == 2
    with pytest.raises(InvalidEventError, match="session is ended"):
        await driver.turn("t", resp.session_id, HangupEvent(at=AT), expected_seq=2)
    with pytest.raises(ProgramNotFoundError):
        await driver.start("t", "sha256:unknown")


async def test_sink_failure_is_retryable_and_republished(
    tmp_path: Path, make_driver: Maker
) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the log directory should be")
    driver, _, _ = make_driver(tmp_path, log=blocker / "turns.jsonl")
    with pytest.raises(StoreUnavailableError) as e:
        await driver.start("t", PROGRAM.id, session_id="s9", idempotency_key="k")
    assert e.value.retryable
    stored = await driver.store.load("t", "s9")
    assert stored is not None and stored.unconfirmed is not None  # saved, not acknowledged
    assert [r["seq"] for r in orjson.loads(stored.unconfirmed)] == [1, 2]
    # the disk is back: the retry of the same request re-publishes, then answers as before
    blocker.unlink()
    blocker.mkdir()
    resp = await driver.start("t", PROGRAM.id, session_id="s9", idempotency_key="k")
    assert resp.seq == 2 and resp.status == "ended"
    assert [r.seq for r in read_turns(blocker / "turns.jsonl")] == [1, 2]
    await driver.settle()
    stored = await driver.store.load("t", "s9")
    assert stored is not None and stored.unconfirmed is None
    shutil.rmtree(blocker)


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bank_card_block"


@pytest.fixture()
async def bank_driver(tmp_path: Path) -> AsyncIterator[SessionDriver]:
    from compiler import compile_project

    result = compile_project(EXAMPLE)
    assert result.program is not None
    programs = ProgramRegistry()
    programs.add(result.program)
    ok = {
        "match": True,
        "customer": {"first_name": "Mario"},
        "card": {"id": "c1", "masked": "**** 1234"},
    }
    d = SessionDriver(
        MemoryStore(),
        JsonlSink(tmp_path / "bank.jsonl"),
        programs,
        StubEffects(
            {
                "verify_identity": [StubResponse(body=ok)],
                "block_card": [StubResponse(body={"reference": "9"})],
            }
        ),
        clock=lambda: AT,
    )
    yield d
    await d.aclose()


async def test_a_key_reused_for_another_event_is_refused_and_an_old_release_key_still_retries(
    bank_driver: SessionDriver,
) -> None:
    from runtime.ports import IdempotencyKeyReusedError
    from schemas.events import NoInputEvent, UserInputEvent

    d = bank_driver
    assert isinstance(d.programs, ProgramRegistry)
    [program_id] = d.programs.ids()
    first = await d.start("t", program_id, language="it")
    sid = first.session_id
    r1 = await d.turn("t", sid, NoInputEvent(at=AT), expected_seq=1, idempotency_key="k")
    with pytest.raises(IdempotencyKeyReusedError):
        await d.turn("t", sid, HangupEvent(at=AT), expected_seq=1, idempotency_key="k")
    later = AT.replace(minute=5)  # a retry later: the server's clock is not the request
    assert await d.turn("t", sid, NoInputEvent(at=later), expected_seq=1, idempotency_key="k") == r1
    assert (await d.state("t", sid)).seq == 2
    # a session saved by a release that kept the bare key: a retry still gets its answer
    stored = await d.store.load("t", sid)
    assert stored is not None and stored.idempotency_key is not None
    assert stored.idempotency_key.endswith(":k") and stored.idempotency_key != "k"
    await d.store.save(
        stored.state.model_copy(update={"seq": 3}),
        expected_seq=2,
        response=stored.last_response,
        idempotency_key="old-key",
    )
    ev = UserInputEvent(at=AT, text="anything")
    again = await d.turn("t", sid, ev, expected_seq=2, idempotency_key="old-key")
    assert again == r1  # the stored answer, nothing run


async def test_turns_idempotent_retry_and_stale_seq(
    bank_driver: SessionDriver, tmp_path: Path
) -> None:
    from schemas.events import UserInputEvent

    d = bank_driver
    assert isinstance(d.programs, ProgramRegistry)
    [program_id] = d.programs.ids()
    first = await d.start("t", program_id, language="it")
    assert first.program_id == program_id  # pinned
    assert (first.seq, first.status, first.awaiting) == (1, "waiting_input", "input")
    ev = UserInputEvent(at=AT, text="12 marzo 1980")
    r1 = await d.turn("t", first.session_id, ev, expected_seq=1, idempotency_key="req-2")
    # the channel did not get the answer and retries the same request: same response, no new turn
    again = await d.turn("t", first.session_id, ev, expected_seq=1, idempotency_key="req-2")
    assert again == r1 and r1.seq == 2
    # a different request still carrying the old seq loses
    with pytest.raises(ConflictError) as e:
        await d.turn(
            "t",
            first.session_id,
            UserInputEvent(at=AT, text="1234"),
            expected_seq=1,
            idempotency_key="req-3",
        )
    assert e.value.current_seq == 2
    # identity check and its backend result happen inside one request: two records
    r3 = await d.turn(
        "t",
        first.session_id,
        UserInputEvent(at=AT, text="1234"),
        expected_seq=2,
        idempotency_key="req-4",
    )
    assert r3.seq == 4 and r3.status == "waiting_input"
    assert [a.type for a in r3.actions] == ["say", "say", "listen"]
    records = list(read_turns(tmp_path / "bank.jsonl"))
    assert [(r.seq, r.event.type) for r in records] == [
        (1, "start"),
        (2, "user_input"),
        (3, "user_input"),
        (4, "backend_result"),
    ]
    assert [r.critical for r in records] == [False, True, True, True]
    stored = await d.store.load("t", first.session_id)
    assert stored is not None and records[-1].state_digest == stored.state.digest()


async def test_end_hangs_up_once(bank_driver: SessionDriver) -> None:
    d = bank_driver
    assert isinstance(d.programs, ProgramRegistry)
    [program_id] = d.programs.ids()
    first = await d.start("t", program_id)
    ended = await d.end("t", first.session_id, expected_seq=first.seq)
    assert (ended.status, ended.reason, ended.seq) == ("ended", "hangup", 2)
    assert [a.type for a in ended.actions] == ["end"]
    again = await d.end("t", first.session_id)
    assert (again.status, again.seq, again.actions) == ("ended", 2, ())
    with pytest.raises(SessionNotFoundError):
        await d.end("t", "nope")


async def test_a_backend_retry_loop_stops_at_the_internal_event_bound(
    tmp_path: Path, make_driver: Maker
) -> None:
    from runtime.driver import MAX_INTERNAL_EVENTS

    loop = Program(
        project="loop",
        languages=("it",),
        default_language="it",
        tasks=(CallBackendTask(backend="lookup", on_error=0),),  # retries forever on error
        backends={"lookup": CompiledBackend(url=_tpl("http://127.0.0.1:9/x"))},
        source_map=(SourceLoc(file="loop.yaml", line=3, node="retry"),),
    ).with_id()
    driver, programs, log = make_driver(
        tmp_path, {"lookup": [StubResponse(error="error", status=0)]}
    )
    programs.add(loop)
    resp = await driver.start("t", loop.id)
    # the request ends after the bound, the session waits for its backend, nothing is lost
    assert (resp.status, resp.awaiting, resp.seq) == ("running", "backend", MAX_INTERNAL_EVENTS + 1)
    assert len(list(read_turns(log))) == MAX_INTERNAL_EVENTS + 1
    ended = await driver.end("t", resp.session_id)
    assert (ended.status, ended.reason) == ("ended", "hangup")


async def test_llm_extraction_runs_as_an_internal_event(tmp_path: Path) -> None:
    from compiler import compile_project_dict
    from schemas.events import UserInputEvent

    r = compile_project_dict(
        {
            "name": "llm",
            "languages": ["it"],
            "variables": {"cf": {"type": "string"}},
            "nodes": [
                {"id": "start", "kind": "start"},
                {
                    "id": "ask",
                    "kind": "get_data",
                    "data": {"ddt": "cf", "into": "cf", "on_failure": "bye"},
                },
                {"id": "bye", "kind": "end", "data": {"reason": "done"}},
            ],
            "edges": [{"source": "start", "target": "ask"}, {"source": "ask", "target": "bye"}],
            "ddts": {
                "cf": {"type": "codice_fiscale", "confirm": "never", "extract": {"llm": True}}
            },
        }
    )
    assert r.program is not None, [d.message for d in r.diagnostics]
    programs = ProgramRegistry()
    programs.add(r.program)
    log = tmp_path / "llm.jsonl"
    d = SessionDriver(MemoryStore(), JsonlSink(log), programs, StubEffects(), clock=lambda: AT)
    try:
        first = await d.start("t", programs.ids()[0])
        # the pattern layer finds nothing: the DDT asks the LLM layer (an extract action the
        # driver executes; with no LLM configured the answer is "no match")
        resp = await d.turn(
            "t", first.session_id, UserInputEvent(at=AT, text="quello di sempre"), expected_seq=1
        )
        assert (resp.status, resp.awaiting, resp.seq) == ("waiting_input", "input", 3)
        assert [a.type for a in resp.actions] == ["say", "listen"]
        assert [(x.seq, x.event.type) for x in read_turns(log)] == [
            (1, "start"),
            (2, "user_input"),
            (3, "extraction_result"),
        ]
        assert isinstance(d.effects, StubEffects) and [a.type for a in d.effects.calls] == [
            "extract"
        ]
    finally:
        await d.aclose()


async def test_closing_waits_for_the_store_to_drop_published_copies(
    tmp_path: Path, redis_url: str
) -> None:
    """The answer does not wait for ``mark_confirmed``; ``aclose`` does, before it closes
    the store (else the copy would stay behind and be published again by the next load)."""
    programs = ProgramRegistry(engine_factory=lambda ddts: NoDdts(), plugins=TaskRegistry())
    programs.add(PROGRAM)
    tenant = f"t{uuid.uuid4().hex[:8]}"
    driver = SessionDriver(
        RedisStore.from_url(redis_url),
        JsonlSink(tmp_path / "turns.jsonl"),
        programs,
        StubEffects({"lookup": [StubResponse(body={"name": "Anna"})]}),
        clock=lambda: AT,
    )
    responses = [await driver.start(tenant, PROGRAM.id) for _ in range(20)]
    await driver.aclose()
    store = RedisStore.from_url(redis_url)
    try:
        for resp in responses:
            stored = await store.load(tenant, resp.session_id)
            assert stored is not None and stored.state.seq == resp.seq == 2
            assert stored.unconfirmed is None
    finally:
        await store.close()
    assert len(list(read_turns(tmp_path / "turns.jsonl"))) == 40  # each record once
