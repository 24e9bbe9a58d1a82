"""The built-in catalogue: complete, consistent, and its examples are real values."""

from __future__ import annotations

import re

import pytest

from compiler.expressions import parse_template
from ddt_engine.catalogue import (
    BUILTIN_TYPES,
    CONDITIONS,
    PROMPT_STATES,
    STANDARD_MACHINE,
    TRIGGERS,
)
from ddt_engine.extract import TYPE_NAMES, ExtractOptions, extract
from tests.ddt_engine._ddt_helpers import AT

EXAMPLE = re.compile(r"(?:Per esempio|For example): (.+?)(?:, (?:oppure|or) .*)?\.$")


def test_every_type_has_an_extractor_and_both_languages() -> None:
    assert set(BUILTIN_TYPES) == set(TYPE_NAMES)
    for spec in BUILTIN_TYPES.values():
        assert spec.extractors and all(x.name in TYPE_NAMES for x in spec.extractors)
        assert set(spec.labels) == {"it", "en"}
        assert set(spec.prompts) == set(PROMPT_STATES)
        for sub in spec.subdata:
            assert sub.type in BUILTIN_TYPES
        if spec.subdata:
            assert spec.compose is not None


@pytest.mark.parametrize("name", sorted(BUILTIN_TYPES))
def test_default_prompts_parse(name: str) -> None:
    for per_lang in BUILTIN_TYPES[name].prompts.values():
        for levels in per_lang.values():
            for p in levels:
                for text in (p.text, p.voice, p.chat):
                    if text is not None:
                        parse_template(text.replace("$label", "x").replace("$options", "y"))


@pytest.mark.parametrize(
    "name",
    ["date", "time", "integer", "number", "money", "phone", "email", "iban", "codice_fiscale",
     "partita_iva", "cap", "spelled", "day", "month", "year"],
)  # fmt: skip
@pytest.mark.parametrize("lang", ["it", "en"])
def test_chat_examples_are_values_the_type_understands(name: str, lang: str) -> None:
    examples = set()
    for state in ("noMatch", "invalid"):
        for p in BUILTIN_TYPES[name].prompts[state][lang]:
            m = EXAMPLE.search(p.text)
            if m:
                examples.add(m.group(1))
    assert examples, name
    for example in examples:
        ex = extract(name, example, lang, AT, ExtractOptions())
        assert ex is not None and ex.invalid is None and ex.value is not None, (example, ex)


def test_standard_machine_covers_every_trigger_in_every_waiting_state() -> None:
    waiting = [s for s in STANDARD_MACHINE.states if s not in ("success", "failed")]
    pairs = {(r.source, r.trigger) for r in STANDARD_MACHINE.transitions}
    collecting = {"matched", "unmatched", "no_input", "invalid", "exhausted"}
    confirming = {"confirmed", "denied", "corrected", "unmatched", "no_input", "invalid",
                  "exhausted"}  # fmt: skip
    for state in waiting:
        expected = confirming if state == "confirmation" else collecting
        assert {t for s, t in pairs if s == state} == expected, state
    assert {t for _, t in pairs} == set(TRIGGERS)
    assert {c for r in STANDARD_MACHINE.transitions for c in r.conditions} == set(CONDITIONS)
