"""The engine's plain-Python read-back slots and shared slot values give exactly what the
expression evaluator gives: the same text and SSML for every prompt, only cheaper."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import compile_project
from compiler.expressions import parse_template
from ddt_engine.catalogue import BUILTIN_TYPES
from ddt_engine.engine import _fast_slot, _Plan
from ddt_engine.expressions import compile_expr
from schemas.expressions import ExprPart
from schemas.prompts import Prompt
from tests.ddt_engine._ddt_helpers import compile_one

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHAINS = [
    "value | phone",
    "value | digits",
    "value | spell",
    "value | spell(3)",
    "value | spell(4)",
    "value | spell(0)",
    "value | phone | spell",
    "value | phone | spell(2)",
    "value | digits | spell",
    "value | phone | digits",
    "value.x | phone",
]
PHONES = st.sampled_from(
    ["+393331234567", "+390612345678", "0039 333 123 4567", "+447700900123", "800123456"]
)
VALUES = st.one_of(
    PHONES,
    st.text(alphabet="0123456789 +.-/()\u00a0\u2003\tab", max_size=20),
    st.text(max_size=12),
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)


def _expr(src: str) -> Any:
    part = parse_template("{{ " + src + " }}").parts[0]
    assert isinstance(part, ExprPart)
    return part.expr


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_fast_slots_equal_the_evaluator(v: Any) -> None:
    for src in CHAINS:
        e = _expr(src)
        fast = _fast_slot(e, "it")
        assert fast is not None, src
        memory = {"value": v, "x": v} if "value.x" not in src else {"value": {"x": v}}
        assert fast(memory, NOW) == compile_expr(e, lang="it")(memory, NOW), (src, v)


def test_other_slots_are_left_to_the_evaluator() -> None:
    for src in ("value", "value | upper", "value | spell(n)", "len(value) | spell", "3 | spell"):
        assert _fast_slot(_expr(src), "it") is None, src


@cache
def _prompts() -> tuple[Prompt, ...]:
    """Every voice prompt with slots: each type's defaults as compiled, and the examples'."""
    ddts = []
    for name, spec in BUILTIN_TYPES.items():
        if spec.internal:
            continue
        choices = {"a": {"it": ["uno"], "en": ["one"]}} if spec.options else {}
        ddts.append(compile_one({"type": name, "choices": choices} if choices else {"type": name}))
    for project in sorted(EXAMPLES.iterdir()):
        program = compile_project(project).program
        assert program is not None
        ddts += list(program.ddts.values())
    out: list[Prompt] = []
    for ddt in ddts:
        for node in (ddt.root, *ddt.root.children):
            for per_lang in node.prompts.values():
                for levels in per_lang.values():
                    out += [p for p in levels if p.voice is not None]
    assert len(out) > 50
    return tuple(out)


@settings(max_examples=60, deadline=None)
@given(VALUES)
def test_a_voice_prompt_sharing_slot_values_says_what_it_said_alone(v: Any) -> None:
    memory = {"value": v, "slots": ["09:00", v], "customer": {"name": v}}
    for prompt in _prompts():
        for lang in ("it", "en"):
            shared = _Plan("k", prompt, lang, "voice")
            alone = _Plan("k", prompt, lang, "voice")
            alone.shares = False
            assert shared.say(memory, NOW) == alone.say(memory, NOW)


def test_the_phone_read_back_shares_its_slot() -> None:
    ddt = compile_one({"type": "phone"})
    plan = _Plan("k", ddt.root.prompts["confirmation"]["it"][0], "it", "voice")
    assert plan.shares
    said = plan.say({"value": "+393331234567"}, NOW)
    assert said.text == "Ho capito: 333 123 4567. È corretto?"
    assert said.ssml == (
        '<speak>Ho capito: 3 3 3, 1 2 3, 4 5 6 7. <break time="300ms"/> È corretto?</speak>'
    )
