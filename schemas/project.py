"""The source project format: what a visual editor saves or a designer writes in YAML.

Format 1. Every model forbids unknown fields, so a typo is an error that the
compiler reports with the closest known field name, and every model is strict: a value
of the wrong type is an error, never converted (``retries: true`` is not 1,
``sensitive: "yes"`` is not true, ``max_digits: "8"`` is not 8); only an integer is taken
where a number is expected. These models are read from the designer's files only; the
compiled program, the session and the runtime's JSON have their own models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from schemas._base import Value


class Source(Value):
    """A model of the designer's source: immutable, unknown fields and loose scalars are
    errors (strict: ``true`` is not 1, ``"8"`` is not 8, 1 is not true)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


Lang = Literal["it", "en"]
LANGS: tuple[str, ...] = ("it", "en")

VarType = Literal[
    "string", "integer", "number", "boolean", "date", "time", "datetime", "list", "object", "any"
]

DialogueStateName = Literal[
    "start", "noMatch", "noInput", "invalid", "confirmation", "notConfirmed", "success"
]

ConfirmPolicy = Literal["always", "never", "when_uncertain"]


class PromptVariants(Source):
    """A prompt with channel variants; ``voice`` may contain SSML."""

    text: str
    voice: str | None = None
    chat: str | None = None


PromptText = str | PromptVariants
"""A prompt template in one language: ``"Buongiorno {{ name }}"`` or its variants."""

InlineText = dict[Lang, PromptText]
"""A prompt written inline, one text per language."""


class Variable(Source):
    """A declared session variable (memory slot)."""

    type: VarType = "any"
    default: Any = None
    sensitive: bool = False
    description: str = ""


class _NodeBase(Source):
    id: str = Field(min_length=1, max_length=200)
    label: str | None = None
    position: dict[str, float] | None = None  # kept by visual editors, ignored by the compiler


class _PromptChoice(Source):
    """A prompt by id (``prompts`` table) or inline per language; exactly one of them."""

    prompt: str | None = None
    text: InlineText | None = None


class StartNode(_NodeBase):
    kind: Literal["start"]
    data: dict[str, Any] = Field(default_factory=dict)


class SayData(_PromptChoice):
    # voice: false = the prompt is played whole (a legal notice, a reference number), the
    # caller cannot interrupt it; true = it may be interrupted even where the listen after
    # it says otherwise; unset = as the listen of the turn says (its DDT's barge_in)
    barge_in: bool | None = None


class SayNode(_NodeBase):
    kind: Literal["say"]
    data: SayData


class GetDataData(Source):
    ddt: str
    into: str
    on_failure: str
    # where a caller's cancel ("annulla", "lasci stare") goes; unset: the failure route
    on_cancel: str | None = None


class GetDataNode(_NodeBase):
    kind: Literal["get_data"]
    data: GetDataData


class SetData(Source):
    assign: dict[str, str] = Field(min_length=1)  # variable -> expression


class SetNode(_NodeBase):
    kind: Literal["set"]
    data: SetData


class BranchNode(_NodeBase):
    kind: Literal["branch"]
    data: dict[str, Any] = Field(default_factory=dict)


class CallBackendData(Source):
    backend: str
    args: dict[str, str] = Field(default_factory=dict)  # name -> expression
    result: dict[str, str] = Field(default_factory=dict)  # variable -> response path
    on_error: str | None = None
    on_timeout: str | None = None


class CallBackendNode(_NodeBase):
    kind: Literal["call_backend"]
    data: CallBackendData


class SendEmailData(Source):
    to: str  # expression
    subject: _PromptChoice
    body: _PromptChoice
    on_error: str | None = None


class SendEmailNode(_NodeBase):
    kind: Literal["send_email"]
    data: SendEmailData


class SendSmsData(_PromptChoice):
    to: str  # expression
    on_error: str | None = None


class SendSmsNode(_NodeBase):
    kind: Literal["send_sms"]
    data: SendSmsData


class TransferData(_PromptChoice):
    target: str = "operator"
    context: list[str] | None = None  # variables handed over; None = every collected variable


class TransferNode(_NodeBase):
    kind: Literal["transfer"]
    data: TransferData = Field(default_factory=TransferData)


class EndData(_PromptChoice):
    reason: str = "completed"


class EndNode(_NodeBase):
    kind: Literal["end"]
    data: EndData = Field(default_factory=EndData)


class SubflowData(Source):
    flow: str


class SubflowNode(_NodeBase):
    kind: Literal["subflow"]
    data: SubflowData


class ReturnNode(_NodeBase):
    kind: Literal["return"]
    data: dict[str, Any] = Field(default_factory=dict)


class CustomData(Source):
    task: str  # a task kind registered by a plugin
    params: dict[str, Any] = Field(default_factory=dict)


class CustomNode(_NodeBase):
    kind: Literal["custom"]
    data: CustomData


Node = Annotated[
    StartNode
    | SayNode
    | GetDataNode
    | SetNode
    | BranchNode
    | CallBackendNode
    | SendEmailNode
    | SendSmsNode
    | TransferNode
    | EndNode
    | SubflowNode
    | ReturnNode
    | CustomNode,
    Field(discriminator="kind"),
]

NODE_KINDS: tuple[str, ...] = (
    "start",
    "say",
    "get_data",
    "set",
    "branch",
    "call_backend",
    "send_email",
    "send_sms",
    "transfer",
    "end",
    "subflow",
    "return",
    "custom",
)


class Edge(Source):
    """A directed edge. Conditional edges out of one node are tried in (priority, id) order."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str | None = None  # default: "<source>-><target>"
    source: str
    target: str
    condition: str | None = None
    else_: bool = Field(default=False, alias="else")
    priority: int = 0
    label: str | None = None


class Flow(Source):
    """A subflow: its own nodes and edges, entered at its start node, left by a return node."""

    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    start: str | None = None


class Limits(Source):
    """Attempts allowed per dialogue state, and in total, before the failure route."""

    no_match: int = Field(default=3, ge=1, le=10)
    no_input: int = Field(default=3, ge=1, le=10)
    invalid: int = Field(default=3, ge=1, le=10)
    confirmation: int = Field(default=2, ge=1, le=10)
    total: int = Field(default=12, ge=1, le=50)


class ValidationDef(Source):
    """A validation rule: an expression over ``value`` (and memory) that must be true."""

    rule: str
    prompt: str | InlineText  # prompt id or inline text
    code: str | None = None


class DtmfDef(Source):
    allowed: bool = True
    max_digits: int = Field(default=20, ge=1, le=64)
    finish_key: Literal["#", "*"] | None = "#"  # a digit would end the caller's input


LISTEN_TIMEOUT_MS = (1000, 60000)
"""The bounds of a listen's no-input timeout (E326 outside them)."""


class ListenDef(Source):
    """How a voice gateway listens for this data: the no-input timeout, whether the caller
    may interrupt the prompts before the listen, and ASR phrase hints per language. On a
    sub-data, the fields it sets replace the main data's; the others are inherited."""

    timeout_ms: int = Field(
        default=5000,
        json_schema_extra={"minimum": LISTEN_TIMEOUT_MS[0], "maximum": LISTEN_TIMEOUT_MS[1]},
    )  # the bounds are checked by the compiler (E326), not here (E023 has no DDT context)
    barge_in: bool = True
    hints: dict[Lang, list[str]] = Field(default_factory=dict)


class ExtractDef(Source):
    """Optional extraction layers outside the engine (NER, LLM), off by default."""

    ner: bool = False
    llm: bool = False


class SubDataDef(Source):
    """Overrides for one sub-data of a built-in type (e.g. ``day`` of a ``date``)."""

    label: dict[Lang, str] | None = None
    required: bool | None = None
    prompts: dict[DialogueStateName, dict[Lang, list[PromptText]]] = Field(default_factory=dict)
    validate_: list[ValidationDef] = Field(default_factory=list, alias="validate")
    listen: ListenDef | None = None  # the fields set here replace the main data's

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class DdtDef(Source):
    """A Data Dialogue Template: how to collect one piece of data."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    type: str  # a built-in type name (date, phone, codice_fiscale, …)
    label: dict[Lang, str] | None = None
    # the example sentence the default prompts give after a miss, per language, in place of
    # the type's ("Per esempio: lunedì prossimo." for a visit, not a date of birth)
    example: dict[Lang, str] | None = None
    confirm: ConfirmPolicy | None = None  # default from the type
    sensitive: bool = False
    max_attempts: Limits = Field(default_factory=Limits)
    validate_: list[ValidationDef] = Field(default_factory=list, alias="validate")
    prompts: dict[DialogueStateName, dict[Lang, list[PromptText]]] = Field(default_factory=dict)
    subdata: dict[str, SubDataDef] = Field(default_factory=dict)
    choices: dict[str, dict[Lang, list[str]]] = Field(default_factory=dict)  # value -> synonyms
    patterns: list[str] = Field(default_factory=list)  # extra regexes (group 1 or whole match)
    dtmf: DtmfDef | None = None
    extract: ExtractDef = Field(default_factory=ExtractDef)
    # an expression giving, at run time, the list the caller picks from by position
    # ("la seconda", "the last one", DTMF 2), e.g. the free times a backend returned
    options_from: str | None = None
    # a date said without its year ("il 15 dicembre"): ask for it (the default), or take
    # the coming such day (on or after today: a booking) or the past one (on or before
    # today: an incident)
    missing_year: Literal["ask", "coming", "past"] = "ask"
    # voice: the no-input timeout, barge-in and ASR hints of this DDT's listen (and of its
    # sub-data, unless they set their own)
    listen: ListenDef | None = None


class Backend(Source):
    """A named HTTP call. ``url``, header values and body values are templates/expressions."""

    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, str] | None = None  # field -> expression
    timeout_ms: int = Field(default=3000, ge=10, le=60000)
    retries: int = Field(default=1, ge=0, le=5)
    backoff_ms: int = Field(default=200, ge=0, le=10000)
    max_response_bytes: int = Field(default=1_048_576, ge=1, le=16_777_216)


class Project(Source):
    """A whole flow project (format 1)."""

    format: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    description: str = ""
    languages: list[Lang] = Field(min_length=1)
    default_language: Lang | None = None
    start: str | None = None
    variables: dict[str, Variable] = Field(default_factory=dict)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    subflows: dict[str, Flow] = Field(default_factory=dict)
    ddts: dict[str, DdtDef] = Field(default_factory=dict)
    prompts: dict[Lang, dict[str, PromptText]] = Field(default_factory=dict)
    backends: dict[str, Backend] = Field(default_factory=dict)

    @field_validator("format", mode="before")
    @classmethod
    def _format_is_a_number(cls, value: Any) -> Any:
        # a Literal compares by equality (True == 1.0 == 1): even strict, 'format: true' passed
        if isinstance(value, bool | float):
            raise PydanticCustomError("literal_error", "Input should be 1", {"expected": "1"})
        return value
