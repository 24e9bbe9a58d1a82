"""compile_ddt: a DdtDef + the catalogue -> a complete CompiledDdt, or located diagnostics."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.ddt import compile_ddt, ddt_value_type, public_type_names
from ddt_engine.catalogue import BUILTIN_TYPES, PROMPT_STATES
from schemas.ddt import CompiledDdt
from schemas.diagnostics import Diagnostic
from schemas.expressions import TextPart
from schemas.project import DdtDef, PromptVariants


def _locate(suffix: str) -> tuple[str, int, int]:
    return ("flow.yaml", 10 + len(suffix), 3)


def _compile(
    data: dict[str, Any],
    *,
    languages: tuple[str, ...] = ("it", "en"),
    prompts: dict[str, dict[str, Any]] | None = None,
    var_types: dict[str, str] | None = None,
) -> tuple[CompiledDdt | None, list[Diagnostic]]:
    return compile_ddt(
        "birth",
        DdtDef.model_validate(data),
        languages=languages,
        prompts=prompts or {},
        var_types=var_types or {},
        locate=_locate,
    )


def _codes(diags: list[Diagnostic]) -> list[tuple[str, str, str]]:
    return [(d.code, d.severity, d.pointer) for d in diags]


def _text(prompt: Any) -> str:
    return "".join(p.text for p in prompt.text.parts if isinstance(p, TextPart))


@pytest.mark.parametrize("type_name", public_type_names())
def test_every_builtin_type_compiles_complete(type_name: str) -> None:
    data: dict[str, Any] = {"type": type_name}
    if type_name == "choice":
        data["choices"] = {"a": {"it": ["prima"], "en": ["first"]}, "b": {}}
    ddt, diags = _compile(data)
    assert diags == []
    assert ddt is not None
    for state in PROMPT_STATES:
        for lang in ("it", "en"):
            assert ddt.root.prompts[state][lang], (state, lang)
    for child in ddt.root.children:
        for state in ("start", "noMatch", "noInput", "invalid"):
            assert child.prompts[state]["it"] and child.prompts[state]["en"]
    assert ddt.machine.states[0] == "start"


def test_date_has_day_month_year_with_range_rules() -> None:
    ddt, _ = _compile({"type": "date"})
    assert ddt is not None
    assert [c.name for c in ddt.root.children] == ["day", "month", "year"]
    day = ddt.root.children[0]
    assert [r.code for r in day.validations] == ["day_range"]
    assert day.dtmf is not None and day.dtmf.allowed
    assert ddt.root.confirm == "when_uncertain"
    assert ddt.root.value_type == "date"


def test_label_is_spliced_into_default_prompts() -> None:
    ddt, _ = _compile({"type": "date", "label": {"it": "la sua data di nascita", "en": "x"}})
    assert ddt is not None
    assert _text(ddt.root.prompts["start"]["it"][0]) == "Mi dice la sua data di nascita?"
    assert _text(ddt.root.prompts["start"]["en"][0]) == "Could you tell me x?"


def test_override_prompt_id_and_variants() -> None:
    ddt, diags = _compile(
        {
            "type": "phone",
            "prompts": {
                "start": {
                    "it": ["ask_phone"],
                    "en": [{"text": "Your number?", "voice": "Your <emphasis>number</emphasis>?"}],
                }
            },
        },
        prompts={"it": {"ask_phone": "Il suo cellulare?"}},
    )
    assert diags == []
    assert ddt is not None
    assert _text(ddt.root.prompts["start"]["it"][0]) == "Il suo cellulare?"
    en = ddt.root.prompts["start"]["en"][0]
    assert en.voice is not None and _text(en) == "Your number?"


def test_choice_options_listed_in_the_question() -> None:
    ddt, _ = _compile(
        {
            "type": "choice",
            "label": {"it": "il tipo di visita", "en": "the kind of visit"},
            "choices": {
                "visita": {"it": ["visita"], "en": ["a visit"]},
                "esame": {"it": ["esame"], "en": ["a test"]},
                "ritiro": {"it": ["ritiro referti"], "en": ["collecting results"]},
            },
        }
    )
    assert ddt is not None
    assert _text(ddt.root.prompts["start"]["it"][0]) == (
        "Mi dice il tipo di visita? Può scegliere tra: visita, esame o ritiro referti."
    )
    assert _text(ddt.root.prompts["start"]["en"][0]) == (
        "Could you tell me the kind of visit? You can choose a visit, a test or collecting results."
    )


def test_custom_rule_and_subdata_override() -> None:
    ddt, diags = _compile(
        {
            "type": "date",
            "validate": [
                {
                    "rule": "value < today()",
                    "code": "past",
                    "prompt": {"it": "Nel passato, prego.", "en": "In the past, please."},
                }
            ],
            "subdata": {"year": {"prompts": {"start": {"it": ["E l'anno?"], "en": ["Year?"]}}}},
        }
    )
    assert diags == []
    assert ddt is not None
    assert [r.code for r in ddt.root.validations] == ["past"]
    year = ddt.root.children[2]
    assert _text(year.prompts["start"]["it"][0]) == "E l'anno?"


def test_errors_are_all_reported_with_locations() -> None:
    ddt, diags = _compile(
        {
            "type": "date",
            "subdata": {"dy": {}},
            "patterns": ["("],
            "validate": [
                {"rule": "value >", "prompt": "nope"},
                {"rule": "value + 1", "prompt": {"it": "a"}},
            ],
            "prompts": {"noMatch": {"it": []}, "start": {"it": ["{{ foo }}"]}},
        },
        prompts={"it": {"nop": "x"}},
    )
    assert ddt is None
    assert sorted(_codes(diags)) == sorted(
        [
            ("E302", "error", "/ddts/birth/subdata/dy"),
            ("E308", "error", "/ddts/birth/patterns/0"),
            ("E305", "error", "/ddts/birth/validate/0/rule"),
            ("E306", "error", "/ddts/birth/validate/1/rule"),
            ("E303", "error", "/ddts/birth/validate/1/prompt"),
            ("E311", "error", "/ddts/birth/prompts/noMatch/it"),
            ("E314", "error", "/ddts/birth/prompts/start/it/0"),
            ("E303", "warning", "/ddts/birth/prompts/noMatch"),
            ("E303", "warning", "/ddts/birth/prompts/start"),
        ]
    )
    sub = next(d for d in diags if d.code == "E302")
    assert sub.hint == "did you mean 'day'?"
    assert (sub.file, sub.line, sub.col) == ("flow.yaml", 10 + len("/subdata/dy"), 3)


def test_unknown_type_did_you_mean() -> None:
    ddt, diags = _compile({"type": "codice_fiscal"})
    assert ddt is None
    assert [(d.code, d.message, d.hint) for d in diags] == [
        ("E301", "unknown data type 'codice_fiscal'", "did you mean 'codice_fiscale'?")
    ]


def test_internal_types_are_not_designer_types() -> None:
    assert ddt_value_type("day") is None
    assert ddt_value_type("nope") is None
    assert ddt_value_type("date") == "date"
    assert ddt_value_type("yes_no") == "boolean"
    assert "day" not in public_type_names()
    ddt, diags = _compile({"type": "day"})
    assert ddt is None and diags[0].code == "E301"


def test_choice_without_choices_is_an_error() -> None:
    ddt, diags = _compile({"type": "choice"})
    assert ddt is None
    assert _codes(diags) == [("E309", "error", "/ddts/birth/type")]


def test_rule_must_be_a_condition() -> None:
    _, diags = _compile(
        {"type": "integer", "validate": [{"rule": "value + 1", "prompt": "p"}]},
        prompts={"it": {"p": "x"}, "en": {"p": "y"}},
    )
    assert [(d.code, d.message) for d in diags] == [
        ("E306", "a validation rule must be a condition, this one is integer")
    ]


def test_unknown_prompt_id_did_you_mean() -> None:
    _, diags = _compile(
        {"type": "integer", "validate": [{"rule": "value > 1", "prompt": "too_smal"}]},
        prompts={"it": {"too_small": "x"}, "en": {"too_small": "y"}},
    )
    assert [(d.code, d.hint) for d in diags] == [("E304", "did you mean 'too_small'?")]


def test_warnings_do_not_fail_the_ddt() -> None:
    ddt, diags = _compile(
        {
            "type": "email",
            "dtmf": {"allowed": True},
            "max_attempts": {"no_match": 1},
            "prompts": {"noMatch": {"it": ["a", "b"], "en": ["c"]}},
        },
    )
    assert ddt is not None
    assert ddt.root.dtmf is None
    assert sorted(_codes(diags)) == [
        ("E312", "warning", "/ddts/birth/prompts/noMatch/it/1"),
        ("E315", "warning", "/ddts/birth/dtmf"),
    ]


def test_catalogue_types_have_both_languages_everywhere() -> None:
    for spec in BUILTIN_TYPES.values():
        for state, per_lang in spec.prompts.items():
            assert set(per_lang) == {"it", "en"}, (spec.name, state)
            for levels in per_lang.values():
                assert levels
                for p in levels:
                    assert "$" not in p.text.replace("$label", "").replace("$options", "")


def test_compile_is_deterministic() -> None:
    a, _ = _compile({"type": "date"})
    b, _ = _compile({"type": "date"})
    assert a is not None and b is not None
    assert a.model_dump_json() == b.model_dump_json()


def test_subdata_prompts_for_a_state_it_is_never_in() -> None:
    ddt, diags = _compile(
        {"type": "date", "subdata": {"day": {"prompts": {"confirmation": {"it": ["x"]}}}}}
    )
    assert ddt is not None
    assert _codes(diags) == [("E317", "warning", "/ddts/birth/subdata/day/prompts/confirmation")]


TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["{{ value }}", "{{ value | date('long') }}", "{{", "}}", "{{ x | }}",
                     "value > 1", "value >", "(", "[a-z]+", "$label", "{{ value | nope }}"]),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    type_name=st.sampled_from([*public_type_names(), "dat", ""]),
    rule=TEXT,
    prompt=TEXT,
    pattern=TEXT,
    sub=st.sampled_from(["day", "month", "year", "date", "time", "nope"]),
    levels=st.lists(TEXT, max_size=3),
)
def test_compile_never_raises(
    type_name: str, rule: str, prompt: str, pattern: str, sub: str, levels: list[str]
) -> None:
    data = {
        "type": type_name,
        "validate": [{"rule": rule, "prompt": {"it": prompt, "en": prompt}}],
        "patterns": [pattern],
        "prompts": {"noMatch": {"it": levels, "en": levels}},
        "subdata": {sub: {"prompts": {"start": {"it": levels}}}},
        "choices": {"a": {"it": [prompt]}},
    }
    ddt, diags = _compile(data)
    assert (ddt is None) == any(d.severity == "error" for d in diags)
    assert all(d.code.startswith("E3") and d.code != "E399" for d in diags), diags


@pytest.mark.parametrize(
    ("pattern", "risky"),
    [
        (r"(a+)+$", True),
        (r"(\d+)*", True),
        (r"([a-z]+\s?)+", True),
        (r"((ab)*)+", True),
        (r"(?:[A-Z]{2}\d{2})+", False),  # fixed-length inside: linear
        (r"\d{1,20}", False),
        (r"^IT\d{2}[A-Z]\d{10}$", False),
        (r"POL-(\d{6})", False),
    ],
)
def test_patterns_that_backtrack_exponentially_are_refused(pattern: str, risky: bool) -> None:
    ddt, diags = _compile({"type": "spelled", "patterns": [pattern]})
    codes = _codes(diags)
    if risky:
        assert ddt is None
        assert codes == [("E318", "error", "/ddts/birth/patterns/0")]
        assert diags[0].message == (
            "regular expression can take exponential time on some answers: "
            "a repeated group contains a repetition of variable length"
        )
    else:
        assert ddt is not None and codes == []


@pytest.mark.parametrize(
    "voice,message",
    [
        ("Ho capito: {{ value }}. A & B?", "not well-formed SSML: invalid token (column 27)"),
        ('Ho capito <break time="300ms"> {{ value }}', "not well-formed SSML: mismatched tag"),
        ("<speak>{{ value }}", "not well-formed SSML: no element found"),
        ("Ho capito <brake/> {{ value }}", "unknown SSML element <brake>"),
        ("<speak><speak>{{ value }}</speak></speak>", "<speak> inside <speak>"),
    ],
)
def test_bad_ssml_in_a_voice_prompt_is_an_error(voice: str, message: str) -> None:
    prompts = {"start": {"it": [{"text": "Mi dice la data?", "voice": voice}], "en": ["Date?"]}}
    ddt, diags = _compile({"type": "date", "prompts": prompts})
    assert ddt is None
    assert [(d.code, d.pointer) for d in diags] == [
        ("E320", "/ddts/birth/prompts/start/it/0/voice")
    ]
    assert diags[0].message.startswith(message), diags[0].message


def test_ssml_that_engines_accept_compiles() -> None:
    voice = (
        "<speak>Ho capito <say-as interpret-as='date'>{{ value }}</say-as>."
        '<break time="300ms"/> <amazon:effect name="whispered">Giusto?</amazon:effect>'
        " Tom &amp; Jerry</speak>"
    )
    prompts = {"start": {"it": [{"text": "Data?", "voice": voice}], "en": ["Date?"]}}
    ddt, diags = _compile({"type": "date", "prompts": prompts})
    assert diags == [] and ddt is not None


def test_an_empty_prompt_text_is_an_error() -> None:
    rule = {"rule": "value < today()", "prompt": {"it": " ", "en": "Again?"}}
    prompts = {"start": {"it": [""], "en": [{"text": "Date?", "voice": ""}]}}
    ddt, diags = _compile({"type": "date", "prompts": prompts, "validate": [rule]})
    assert ddt is None
    assert sorted((d.code, d.pointer) for d in diags) == [
        ("E321", "/ddts/birth/prompts/start/en/0/voice"),
        ("E321", "/ddts/birth/prompts/start/it/0"),
        ("E321", "/ddts/birth/validate/0/prompt/it"),
    ]


def test_a_prompt_of_the_table_is_checked_where_it_is_defined() -> None:
    table = {"it": {"bad": PromptVariants(text="x", voice="A & B")}, "en": {"bad": "x"}}
    prompts = {"start": {"it": ["bad"], "en": ["bad"]}}
    ddt, diags = _compile({"type": "date", "prompts": prompts}, prompts=table)
    assert diags == [] and ddt is not None  # reported once, at prompts.it.bad (E218)


def _all_texts(ddt: CompiledDdt, lang: str) -> list[str]:
    out = []
    for levels in ddt.root.prompts.values():
        for p in levels.get(lang, ()):
            for tpl in (p.text, p.voice, p.chat):
                if tpl is not None:
                    out.append("".join(x.text for x in tpl.parts if isinstance(x, TextPart)))
    for rule in ddt.root.validations:
        for p in rule.prompts.get(lang, ()):
            for tpl in (p.text, p.voice, p.chat):
                if tpl is not None:
                    out.append("".join(x.text for x in tpl.parts if isinstance(x, TextPart)))
    return out


def test_a_ddt_example_replaces_the_types_in_every_default_prompt() -> None:
    example = {"it": "Per esempio: lunedì prossimo.", "en": "For example: next Monday."}
    ddt, diags = _compile({"type": "date", "example": example})
    assert diags == [] and ddt is not None
    it_texts, en_texts = _all_texts(ddt, "it"), _all_texts(ddt, "en")
    # after a miss, on both channels (the type's voice and chat examples differ)
    assert _text(ddt.root.prompts["noMatch"]["it"][1]) == (
        "Non ho capito. Mi dice la data? Per esempio: lunedì prossimo."
    )
    voice = ddt.root.prompts["noMatch"]["it"][1].voice
    assert voice is not None and "Per esempio: lunedì prossimo." in "".join(
        x.text for x in voice.parts if isinstance(x, TextPart)
    )
    assert sum("lunedì prossimo" in t for t in it_texts) >= 6
    assert sum("next Monday" in t for t in en_texts) >= 6
    assert not any(
        "1980" in t or "millenovecentoottanta" in t
        for t in it_texts
        if "esempio:" in t and "giorno, mese e anno" not in t
    )
    # the sub-data keep their own examples
    day = ddt.root.children[0]
    assert "quindici" in "".join(
        x.text
        for p in day.prompts["noMatch"]["it"]
        for tpl in (p.text, p.voice)
        if tpl is not None
        for x in tpl.parts
        if isinstance(x, TextPart)
    )


def test_without_an_example_the_program_is_unchanged() -> None:
    plain, _ = _compile({"type": "date"})
    same, _ = _compile({"type": "date", "example": {"en": "For example: next Monday."}})
    assert plain is not None and same is not None
    assert plain.root.prompts["noMatch"]["it"] == same.root.prompts["noMatch"]["it"]
    assert plain.root.prompts["noMatch"]["en"] != same.root.prompts["noMatch"]["en"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "date", "example": {"it": "Per esempio: {{ today() }}."}}, "cannot hold '{{'"),
        ({"type": "date", "example": {"it": "Tom & Jerry"}}, "cannot hold '&'"),
        ({"type": "date", "example": {"it": "  "}}, "an example is a plain sentence"),
    ],
)
def test_a_bad_example_is_an_error(data: dict[str, Any], message: str) -> None:
    ddt, diags = _compile(data)
    assert ddt is None
    assert [(d.code, d.pointer) for d in diags] == [("E322", "/ddts/birth/example/it")]
    assert message in diags[0].message


def test_a_choice_example_replaces_the_list_of_options() -> None:
    choices = {"a": {"it": ["prima"], "en": ["first"]}, "b": {"it": ["seconda"], "en": ["b"]}}
    data = {"type": "choice", "choices": choices, "example": {"it": "Per esempio: la prima."}}
    ddt, diags = _compile(data)
    assert diags == [] and ddt is not None
    assert _text(ddt.root.prompts["noMatch"]["it"][1]).endswith("Per esempio: la prima.")
    # the other language keeps the type's example: the list of options
    assert _text(ddt.root.prompts["noMatch"]["en"][1]).endswith("The options are: first or b.")


def test_every_builtin_type_has_an_example_a_ddt_can_replace() -> None:
    for name, spec in BUILTIN_TYPES.items():
        for lang in ("it", "en"):
            assert all(spec.examples[lang]), (name, lang)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "date", "dtmf": {"max_digits": 6}}, [("E324", "/ddts/birth/dtmf/max_digits")]),
        ({"type": "time", "dtmf": {"max_digits": 3}}, [("E324", "/ddts/birth/dtmf/max_digits")]),
        ({"type": "date", "dtmf": {"max_digits": 8}}, []),
        ({"type": "date", "dtmf": {"allowed": False, "max_digits": 2}}, []),
        ({"type": "integer", "dtmf": {"max_digits": 2}}, []),
    ],
)
def test_dtmf_max_digits_must_fit_the_type(
    data: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    ddt, diags = _compile(data)
    assert [(d.code, d.pointer) for d in diags] == expected
    assert (ddt is None) == bool(expected)


@pytest.mark.parametrize("key", ["5", "ab", "", "##"])
def test_a_dtmf_finish_key_is_hash_or_star(key: str) -> None:
    with pytest.raises(ValueError, match="finish_key"):
        DdtDef.model_validate({"type": "date", "dtmf": {"finish_key": key}})
    for ok in ("#", "*", None):
        DdtDef.model_validate({"type": "date", "dtmf": {"finish_key": ok}})


@pytest.mark.parametrize("pattern", ["", r"\d*", r"(?:POL)?\d{0,6}", "a|"])
def test_a_pattern_that_matches_an_empty_answer_is_refused(pattern: str) -> None:
    ddt, diags = _compile({"type": "text", "patterns": [pattern]})
    assert ddt is None
    assert [(d.code, d.pointer) for d in diags] == [("E308", "/ddts/birth/patterns/0")]
    assert "matches an empty answer" in diags[0].message


def test_a_pattern_that_needs_a_character_compiles() -> None:
    ddt, diags = _compile({"type": "text", "patterns": [r"POL\d{6}", r"(\d+)"]})
    assert diags == [] and ddt is not None


def test_a_label_without_a_project_language_is_a_warning() -> None:
    ddt, diags = _compile({"type": "date", "label": {"it": "la data del sinistro"}})
    assert ddt is not None
    assert _codes(diags) == [("E325", "warning", "/ddts/birth/label")]
    assert "the default prompts in 'en' say 'the date'" in diags[0].message
    assert _text(ddt.root.prompts["start"]["en"][0]) == "Could you tell me the date?"
    _, diags = _compile({"type": "date", "label": {"it": "la data", "en": "the day"}})
    assert diags == []
