"""Properties of the DDT engine: deterministic, never raises, small records."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddt_engine.engine import DdtEngine, _fast
from schemas.ddt import DdtStep
from schemas.events import (
    Event,
    ExtractionResultEvent,
    HangupEvent,
    NBest,
    NoInputEvent,
    UserInputEvent,
)
from schemas.session import DdtState
from tests.ddt_engine._ddt_helpers import AT, compile_one

DDTS: dict[str, dict[str, Any]] = {
    "birth": {
        "type": "date",
        "confirm": "always",
        "extract": {"ner": True, "llm": True},
        "validate": [{"rule": "value < today()", "prompt": {"it": "No.", "en": "No."}}],
    },
    "phone": {"type": "phone"},
    "slot": {"type": "datetime"},
    "kind": {"type": "choice", "choices": {"a": {"it": ["prima"]}, "b": {"en": ["second"]}}},
    "note": {"type": "text"},
    "guests": {
        "type": "integer",
        "validate": [{"rule": "value <= max_guests", "prompt": {"it": "{{ value }}?", "en": "x"}}],
    },
}


@cache
def engine() -> DdtEngine:
    return DdtEngine({name: compile_one(data, name) for name, data in DDTS.items()})


WORDS = st.sampled_from(
    [
        "sì", "no", "no, il 15", "il 3 marzo", "marzo 1980", "1980", "3 marzo 1980", "15",
        "45", "31/02/2020", "333 123 4567", "ripeta", "aiuto", "operatore", "basta", "boh",
        "yes", "nope", "March 3rd", "domani alle 10", "prima", "second", "", "   ", "👍",
    ]
)  # fmt: skip
TEXTS = st.one_of(WORDS, st.text(max_size=60), st.lists(WORDS, max_size=4).map(" ".join))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
EVENTS = st.one_of(
    st.builds(
        UserInputEvent,
        at=st.just(AT),
        text=TEXTS,
        dtmf=st.none() | st.text("0123456789*#", max_size=12),
        confidence=st.none() | st.floats(0, 1),
        nbest=st.lists(st.builds(NBest, text=TEXTS, confidence=st.floats(0, 1)), max_size=3).map(
            tuple
        ),
    ),
    st.builds(NoInputEvent, at=st.just(AT)),
    st.builds(
        ExtractionResultEvent,
        at=st.just(AT),
        layer=st.sampled_from(["ner", "llm"]),
        value=JSONISH,
        no_match=st.booleans(),
    ),
    st.builds(HangupEvent, at=st.just(AT)),
)


def run(
    ddt: str, events: list[Event], lang: str, channel: str, memory: dict[str, Any]
) -> list[DdtStep]:
    eng = engine()
    steps = [eng.begin(ddt, memory=memory, language=lang, channel=channel, at=AT)]
    state = steps[0].state
    for ev in events:
        if state is None:
            break
        step = eng.handle(state, ev, memory=memory, language=lang, channel=channel)
        steps.append(step)
        if step.state is not None:
            state = step.state
        elif step.outcome != "continue":
            state = None
    return steps


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ddt=st.sampled_from(sorted(DDTS)),
    events=st.lists(EVENTS, max_size=8),
    lang=st.sampled_from(["it", "en", "de"]),
    channel=st.sampled_from(["voice", "chat"]),
    max_guests=st.none() | st.integers() | st.text(max_size=3),
)
def test_never_raises_and_is_deterministic(
    ddt: str, events: list[Event], lang: str, channel: str, max_guests: Any
) -> None:
    memory = {"max_guests": max_guests}
    first = run(ddt, events, lang, channel, memory)
    again = run(ddt, events, lang, channel, memory)
    assert [s.model_dump_json() for s in first] == [s.model_dump_json() for s in again]
    for step in first:
        assert not (step.reason or "").startswith("internal_error"), step.reason
        if step.outcome == "continue" and step.state is not None:
            assert len(step.state.model_dump_json()) < 1024
            # a continue step says and listens (or extracts) unless the event was ignored
            assert step.actions or (step.reason or "").startswith("ignored_event"), step
        if step.outcome == "success":
            assert step.value is not None


@settings(max_examples=200, deadline=None)
@given(
    node=st.lists(st.text(max_size=5), max_size=2).map(tuple),
    state=st.sampled_from(["start", "noMatch", "confirmation", "invalid", "bogus", "success"]),
    counters=st.dictionaries(st.text(max_size=8), st.integers(-5, 50), max_size=3),
    values=st.dictionaries(st.sampled_from(["day", "month", "year", "x"]), JSONISH, max_size=4),
    candidate=JSONISH,
    last=st.none() | st.tuples(st.text(max_size=12), st.integers(-3, 9)),
    rule=st.none() | st.text(max_size=8),
    pending=st.none() | st.text(max_size=20),
    event=EVENTS,
)
def test_arbitrary_records_never_raise(
    node: tuple[str, ...],
    state: str,
    counters: dict[str, int],
    values: dict[str, Any],
    candidate: Any,
    last: tuple[str, int] | None,
    rule: str | None,
    pending: str | None,
    event: Event,
) -> None:
    record = DdtState(
        ddt="birth",
        node=node,
        state=state,
        counters=counters,
        values=values,
        candidate=candidate,
        last_prompt=last,
        rule=rule,
        pending=pending,
    )
    step = engine().handle(record, event, memory={}, language="it", channel="voice")
    assert not (step.reason or "").startswith("internal_error"), step.reason
    again = engine().handle(record, event, memory={}, language="it", channel="voice")
    assert step == again


def test_huge_and_odd_inputs() -> None:
    big = ("3 marzo 1980 " + "ä€😀\u200b\x00" * 7) * 3000
    assert len(big) > 100_000
    for ddt in DDTS:
        for text in (big, "", "\x00", "\ud7ff" * 10, "9" * 100_000):
            steps = run(
                ddt, [UserInputEvent(at=AT, text=text, dtmf=text[:64] or None)], "it", "voice", {}
            )
            assert steps[-1].outcome in {"continue", "success", "failure", "transfer", "cancel"}
            assert not (steps[-1].reason or "").startswith("internal_error")
            if steps[-1].state is not None:
                assert len(steps[-1].state.model_dump_json()) < 1024


def test_fast_construction_equals_validated_models() -> None:
    fields = {
        "ddt": "x",
        "node": ("day",),
        "state": "noMatch",
        "counters": {"day:noMatch": 1},
        "total": 1,
        "values": {"month": 3},
        "candidate": None,
        "uncertain": False,
        "last_prompt": ("noMatch", 1),
        "rule": None,
        "pending": None,
    }
    fast = _fast(DdtState, dict(fields))
    slow = DdtState(**fields)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_copy(update={"total": 2}) == slow.model_copy(update={"total": 2})
    assert DdtState.model_validate_json(fast.model_dump_json()) == slow


def test_fast_say_action_equals_validated() -> None:
    from compiler.expressions import parse_template
    from ddt_engine.engine import _Plan
    from schemas.actions import SayAction
    from schemas.prompts import Prompt

    # the engine's own say actions (a prebuilt one, and one rendered at each turn): every
    # field set, so they compare and dump like validated ones (a field added to SayAction
    # and not to the engine's _fast dicts fails here)
    const = _Plan("k", Prompt(text=parse_template("a")), "it", "chat").action
    rendered = _Plan("k", Prompt(text=parse_template("a{{ x }}")), "it", "chat").say({"x": 1}, AT)
    for fast, text in ((const, "a"), (rendered, "a1")):
        assert fast == SayAction(text=text, prompt="k")
        assert fast.model_dump_json() == SayAction(text=text, prompt="k").model_dump_json()
        assert fast.__dict__ == SayAction(text=text, prompt="k").__dict__


RULES = st.sampled_from(
    [
        "value >= 1 and value <= 31",
        "value > 0",
        "1900 <= value",
        "value < 2.5 and value >= -3",
        "value >= 1 and value <= 12 and value != 7",  # not a pure range: evaluator only
    ]
)
VALUES = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.none(), st.booleans(),
    st.text(max_size=3), st.lists(st.integers(), max_size=2),
)  # fmt: skip


@given(rule=RULES, value=VALUES)
def test_fast_range_rules_agree_with_the_evaluator(rule: str, value: Any) -> None:
    from compiler.expressions import parse_expr
    from ddt_engine.engine import _fast_rule
    from ddt_engine.expressions import evaluate

    expr = parse_expr(rule)
    fast = _fast_rule(expr)
    slow = evaluate(expr, {"value": value}, AT) is True
    if "!=" in rule:
        assert fast is None
        return
    assert fast is not None
    got = fast(value)
    assert got is None or got == slow, (rule, value, got, slow)
    if type(value) in (int, float):
        assert got is not None
