"""The catalogue of built-in data types: data only, shared by the compiler and the engine.

For each type: the memory type of its value, its sub-data, its extractor chain, its default
confirmation policy, validations, DTMF support and the default prompts of every dialogue
state and escalation level in Italian and English (voice and chat variants). The compiler
turns ``type: date`` plus this data into a complete, explicit ``CompiledDdt``; nothing here
imports the engine or the extractors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ddt_engine.prompts import en, it
from schemas.ddt import Extractor, MachineRule, MachineSpec

__all__ = [
    "BUILTIN_TYPES",
    "CATALOGUE_LANGS",
    "CONDITIONS",
    "DtmfFormat",
    "PROMPT_STATES",
    "CHILD_PROMPT_STATES",
    "PromptSpec",
    "RuleSpec",
    "STANDARD_MACHINE",
    "SubDataSpec",
    "TRIGGERS",
    "TypeSpec",
    "again_words",
    "label_for",
    "or_word",
]

CATALOGUE_LANGS: tuple[str, ...] = ("it", "en")

PROMPT_STATES: tuple[str, ...] = (
    "start",
    "noMatch",
    "noInput",
    "invalid",
    "confirmation",
    "notConfirmed",
    "success",
    "failed",
    "help",
)
"""Prompt sets of a main data node: every dialogue state that speaks, plus ``help``."""

CHILD_PROMPT_STATES: tuple[str, ...] = ("start", "noMatch", "noInput", "invalid", "help")
"""Prompt sets of a sub-data node (confirmation happens on the main data)."""

DtmfFormat = Literal["digits", "date_ddmmyyyy", "time_hhmm", "yes_no_12", "choice_index"]
Compose = Literal["date", "datetime"]


@dataclass(frozen=True, slots=True)
class PromptSpec:
    """One default prompt: ``text`` (plain, also the chat form), ``voice`` (may hold SSML)."""

    text: str
    voice: str | None = None
    chat: str | None = None


Levels = tuple[PromptSpec, ...]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A default validation: ``expr`` (source, ``value`` bound) and its prompts per language."""

    code: str
    expr: str
    prompts: MappingProxyType[str, Levels]


@dataclass(frozen=True, slots=True)
class SubDataSpec:
    name: str
    type: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A built-in type, as data."""

    name: str
    value_type: str
    extractors: tuple[Extractor, ...]
    confirm: Literal["always", "never", "when_uncertain"]
    labels: MappingProxyType[str, str]
    prompts: MappingProxyType[str, MappingProxyType[str, Levels]]  # state -> lang -> levels
    subdata: tuple[SubDataSpec, ...] = ()
    compose: Compose | None = None  # how the value is assembled from the sub-data
    validations: tuple[RuleSpec, ...] = ()
    dtmf: DtmfFormat | None = None
    internal: bool = False  # a sub-data type, not offered to designers
    options: bool = False  # needs ``choices``
    # lang -> the example sentence the default prompts hold (voice, chat), "" when none: a
    # DDT's own ``example`` replaces it (the compiler splices it in)
    examples: MappingProxyType[str, tuple[str, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )


# -- prompt assembly ---------------------------------------------------------------------

_LANG_MODULES = {"it": it, "en": en}
_Text = str | tuple[str, str]


def _pair(text: _Text) -> tuple[str, str]:
    return (text, text) if isinstance(text, str) else text


def _fill(template: _Text, pieces: dict[str, _Text]) -> PromptSpec:
    voice, chat = _pair(template)
    # help first: it holds $example, so that a DDT's own example reaches the help too
    for key in ("help", "ask", "example", "readback", "invalid"):
        marker = "$" + key
        if marker in voice or marker in chat:
            piece_voice, piece_chat = _pair(pieces.get(key, ""))
            voice = voice.replace(marker, piece_voice)
            chat = chat.replace(marker, piece_chat)
    voice, chat = voice.strip(), chat.strip()
    return PromptSpec(text=chat, voice=None if voice == chat else voice)


def _prompts(type_name: str) -> MappingProxyType[str, MappingProxyType[str, Levels]]:
    out: dict[str, dict[str, Levels]] = {}
    for state in PROMPT_STATES:
        per_lang: dict[str, Levels] = {}
        for lang, mod in _LANG_MODULES.items():
            pieces = mod.TYPE_TEXTS[type_name]
            levels = mod.OVERRIDES.get(type_name, {}).get(state) or mod.GENERIC[state]
            per_lang[lang] = tuple(_fill(level, pieces) for level in levels)
        out[state] = per_lang
    return MappingProxyType({s: MappingProxyType(v) for s, v in out.items()})


def _rule(code: str, expr: str, type_name: str) -> RuleSpec:
    prompts: dict[str, Levels] = {}
    for lang, mod in _LANG_MODULES.items():
        pieces = mod.TYPE_TEXTS[type_name]
        prompts[lang] = tuple(_fill(level, pieces) for level in mod.RULES[code])
    return RuleSpec(code=code, expr=expr, prompts=MappingProxyType(prompts))


def _examples(type_name: str) -> MappingProxyType[str, tuple[str, str]]:
    return MappingProxyType(
        {
            lang: _pair(mod.TYPE_TEXTS[type_name].get("example", ""))
            for lang, mod in _LANG_MODULES.items()
        }
    )


def _labels(type_name: str) -> MappingProxyType[str, str]:
    return MappingProxyType({lang: mod.LABELS[type_name] for lang, mod in _LANG_MODULES.items()})


def _type(
    name: str,
    value_type: str,
    chain: tuple[tuple[Literal["pattern", "grammar"], str], ...],
    confirm: Literal["always", "never", "when_uncertain"],
    *,
    subdata: tuple[SubDataSpec, ...] = (),
    compose: Compose | None = None,
    rules: tuple[tuple[str, str], ...] = (),
    dtmf: DtmfFormat | None = None,
    internal: bool = False,
    options: bool = False,
) -> TypeSpec:
    return TypeSpec(
        name=name,
        value_type=value_type,
        extractors=tuple(Extractor(layer=layer, name=fn) for layer, fn in chain),
        confirm=confirm,
        labels=_labels(name),
        prompts=_prompts(name),
        subdata=subdata,
        compose=compose,
        validations=tuple(_rule(code, expr, name) for code, expr in rules),
        dtmf=dtmf,
        internal=internal,
        options=options,
        examples=_examples(name),
    )


_P: Literal["pattern"] = "pattern"
_G: Literal["grammar"] = "grammar"

BUILTIN_TYPES: MappingProxyType[str, TypeSpec] = MappingProxyType(
    {
        t.name: t
        for t in (
            _type(
                "date",
                "date",
                ((_G, "date"),),
                "when_uncertain",
                subdata=(
                    SubDataSpec("day", "day"),
                    SubDataSpec("month", "month"),
                    SubDataSpec("year", "year"),
                ),
                compose="date",
                dtmf="date_ddmmyyyy",
            ),
            _type(
                "day",
                "integer",
                ((_G, "day"),),
                "never",
                internal=True,
                dtmf="digits",
                rules=(("day_range", "value >= 1 and value <= 31"),),
            ),
            _type(
                "month",
                "integer",
                ((_G, "month"),),
                "never",
                internal=True,
                dtmf="digits",
                rules=(("month_range", "value >= 1 and value <= 12"),),
            ),
            _type(
                "year",
                "integer",
                ((_G, "year"),),
                "never",
                internal=True,
                dtmf="digits",
                rules=(("year_range", "value >= 1900 and value <= 2100"),),
            ),
            _type("time", "time", ((_G, "time"),), "when_uncertain", dtmf="time_hhmm"),
            _type(
                "datetime",
                "datetime",
                ((_G, "datetime"),),
                "when_uncertain",
                subdata=(SubDataSpec("date", "date"), SubDataSpec("time", "time")),
                compose="datetime",
            ),
            _type("integer", "integer", ((_P, "integer"),), "when_uncertain", dtmf="digits"),
            _type("number", "number", ((_P, "number"),), "when_uncertain", dtmf="digits"),
            _type(
                "money",
                "number",
                ((_G, "money"),),
                "when_uncertain",
                rules=(("money_positive", "value > 0"),),
            ),
            _type("phone", "string", ((_P, "phone"),), "always", dtmf="digits"),
            _type("email", "string", ((_P, "email"),), "always"),
            _type("iban", "string", ((_P, "iban"),), "always"),
            _type("codice_fiscale", "string", ((_P, "codice_fiscale"),), "always"),
            _type("partita_iva", "string", ((_P, "partita_iva"),), "always", dtmf="digits"),
            _type("cap", "string", ((_P, "cap"),), "when_uncertain", dtmf="digits"),
            _type("yes_no", "boolean", ((_G, "yes_no"),), "never", dtmf="yes_no_12"),
            _type(
                "choice", "string", ((_G, "choice"),), "never", dtmf="choice_index", options=True
            ),
            _type("text", "string", ((_G, "text"),), "never"),
            # a code of digits (a card's last four) can be keyed in on voice
            _type("spelled", "string", ((_G, "spelled"),), "always", dtmf="digits"),
        )
    }
)
"""Every built-in type by name (``day``, ``month``, ``year`` are internal sub-data types)."""


def label_for(type_name: str, lang: str) -> str:
    """The default label of a type in a language (English when the language is unknown)."""
    spec = BUILTIN_TYPES[type_name]
    return spec.labels.get(lang) or spec.labels["en"]


def or_word(lang: str) -> str:
    """The word joining the last two options of a list ("o", "or")."""
    return it.OR if lang == "it" else en.OR


def again_words(lang: str) -> str | None:
    """The words before a validation prompt said again right after itself ("Come dicevo,",
    "As I said,"); None for a language the catalogue does not speak."""
    mod = _LANG_MODULES.get(lang)
    return None if mod is None else mod.AGAIN


# -- the standard dialogue machine -------------------------------------------------------

TRIGGERS: tuple[str, ...] = (
    "matched",
    "unmatched",
    "no_input",
    "invalid",
    "confirmed",
    "denied",
    "corrected",
    "exhausted",
)

CONDITIONS: tuple[str, ...] = ("has_missing_children", "needs_confirmation")
"""Named conditions the engine evaluates; a rule fires only if all its conditions hold."""

_COLLECTING = ("start", "noMatch", "noInput", "invalid", "notConfirmed")


def _standard_rules() -> tuple[MachineRule, ...]:
    rules: list[MachineRule] = []
    for src in _COLLECTING:
        rules += [
            MachineRule(
                trigger="matched", source=src, dest="start", conditions=("has_missing_children",)
            ),
            MachineRule(
                trigger="matched",
                source=src,
                dest="confirmation",
                conditions=("needs_confirmation",),
            ),
            MachineRule(trigger="matched", source=src, dest="success"),
            MachineRule(trigger="unmatched", source=src, dest="noMatch"),
            MachineRule(trigger="no_input", source=src, dest="noInput"),
            MachineRule(trigger="invalid", source=src, dest="invalid"),
            MachineRule(trigger="exhausted", source=src, dest="failed"),
        ]
    rules += [
        MachineRule(trigger="confirmed", source="confirmation", dest="success"),
        MachineRule(trigger="denied", source="confirmation", dest="notConfirmed"),
        MachineRule(trigger="corrected", source="confirmation", dest="confirmation"),
        MachineRule(trigger="unmatched", source="confirmation", dest="confirmation"),
        MachineRule(trigger="no_input", source="confirmation", dest="confirmation"),
        MachineRule(trigger="invalid", source="confirmation", dest="invalid"),
        MachineRule(trigger="exhausted", source="confirmation", dest="failed"),
    ]
    return tuple(rules)


STANDARD_MACHINE = MachineSpec(
    states=(
        "start",
        "noMatch",
        "noInput",
        "invalid",
        "confirmation",
        "notConfirmed",
        "success",
        "failed",
    ),
    initial="start",
    transitions=_standard_rules(),
)
"""The dialogue machine of every data node: collecting states, confirmation, two finals."""
