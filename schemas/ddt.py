"""The compiled DDT: the contract between the compiler and the DDT engine.

A compiled DDT is complete and explicit: every prompt for every dialogue state,
escalation level and declared language, every extractor, every limit. The engine
decides nothing that the compiler could have decided.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas._base import Value
from schemas.expressions import Expr
from schemas.prompts import Prompt

DIALOGUE_STATES: tuple[str, ...] = (
    "start",
    "noMatch",
    "noInput",
    "invalid",
    "confirmation",
    "notConfirmed",
    "success",
    "failed",
)
"""Stable dialogue state names (never reused for something else)."""

ConfirmPolicy = Literal["always", "never", "when_uncertain"]
ExtractorLayer = Literal["pattern", "grammar", "ner", "llm"]


class Limits(Value):
    """Attempts per dialogue state and in total; the last one leads to the failure route."""

    no_match: int = 3
    no_input: int = 3
    invalid: int = 3
    confirmation: int = 2
    total: int = 12


class Extractor(Value):
    """One extraction step: ``layer`` fixes its place in the pipeline, ``name`` the extractor."""

    layer: ExtractorLayer
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ValidationRule(Value):
    """``expr`` (``value`` bound to the candidate) must be true, else the ``invalid`` state
    plays ``prompts[lang][level]`` for this rule."""

    code: str
    expr: Expr
    prompts: dict[str, tuple[Prompt, ...]]


class DtmfSpec(Value):
    allowed: bool = True
    max_digits: int = 20
    finish_key: str | None = "#"


class ListenSpec(Value):
    """How a voice gateway listens for one data node (the designer's ``listen``, with a
    sub-data's inherited from its main data): its listen actions carry these."""

    timeout_ms: int = 5000
    barge_in: bool = True
    hints: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # lang -> ASR phrases


class DataNode(Value):
    """Main data or sub-data (``path`` is relative to the main data; the root's is ``()``)."""

    name: str
    path: tuple[str, ...] = ()
    type: str
    value_type: str  # the memory type of the normalised value (date, string, number, …)
    label: dict[str, str]
    required: bool = True
    extractors: tuple[Extractor, ...] = ()
    validations: tuple[ValidationRule, ...] = ()
    confirm: ConfirmPolicy = "never"
    limits: Limits = Field(default_factory=Limits)
    prompts: dict[str, dict[str, tuple[Prompt, ...]]]  # dialogue state -> lang -> levels
    children: tuple[DataNode, ...] = ()
    dtmf: DtmfSpec | None = None
    choices: dict[str, dict[str, tuple[str, ...]]] = Field(default_factory=dict)
    patterns: tuple[str, ...] = ()
    # the main data only: the list (evaluated on the session memory at each turn) whose
    # items the caller may pick by position. Left out of the JSON when unset, so programs
    # compiled before it existed keep their bytes and their id.
    options_from: Expr | None = Field(default=None, exclude_if=lambda v: v is None)
    # a date's year when the caller leaves it out (the year sub-data is then not required):
    # the coming or the past such day. Left out of the JSON when unset, as options_from.
    missing_year: Literal["coming", "past"] | None = Field(
        default=None, exclude_if=lambda v: v is None
    )
    # the voice listen settings, when the DDT gives some (else the defaults: 5000 ms,
    # barge-in, no hints). Left out of the JSON when unset, as options_from.
    listen: ListenSpec | None = Field(default=None, exclude_if=lambda v: v is None)


class MachineRule(Value):
    """One transition, as transitions declares it: ``{trigger, source, dest, conditions}``."""

    trigger: str
    source: str
    dest: str
    conditions: tuple[str, ...] = ()


class MachineSpec(Value):
    states: tuple[str, ...]
    initial: str = "start"
    transitions: tuple[MachineRule, ...]


class CompiledDdt(Value):
    name: str
    type: str
    sensitive: bool = False
    root: DataNode
    machine: MachineSpec
    ner: bool = False
    llm: bool = False


DataNode.model_rebuild()


# -- the engine's answer to one event (defined here so the runtime and engine share it) --

from schemas.actions import Action  # noqa: E402
from schemas.session import DdtState  # noqa: E402

DdtOutcome = Literal["continue", "success", "failure", "transfer", "cancel"]


class DdtStep(Value):
    """What the DDT engine returns for one event.

    ``continue``: ``state`` is the new record and the session waits (``actions`` end with a
    listen, or an extract for the NER/LLM layers). ``success``: ``value`` is the collected,
    normalised value (a dict for data with sub-data). ``failure``: attempts exhausted, take
    the failure route. ``transfer``: the caller asked for an operator. ``cancel``: the caller
    gave up. ``critical`` marks turns that must reach MongoDB before they are acknowledged.
    """

    state: DdtState | None = None
    actions: tuple[Action, ...] = ()
    outcome: DdtOutcome = "continue"
    value: Any = None
    critical: bool = False
    reason: str | None = None
