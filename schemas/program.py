"""The compiled program: a flat, versioned list of tasks with jump targets as indexes.

Its ``id`` is the sha256 of its canonical JSON (with ``id`` empty); compiling the same
project twice gives the same bytes.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import Field

from schemas._base import Value, canonical_json
from schemas.ddt import CompiledDdt
from schemas.expressions import Expr, Template
from schemas.prompts import Prompt

PROGRAM_FORMAT = 1


class SourceLoc(Value):
    """Where a task comes from in the designer's project."""

    file: str
    line: int = 0
    col: int = 0
    flow: str = "main"
    node: str | None = None
    edge: str | None = None


class SayTask(Value):
    op: Literal["say"] = "say"
    prompt: str
    # voice: the say action's barge_in (False: played whole). Left out of the JSON when
    # unset, so programs compiled before it existed keep their bytes and their id.
    barge_in: bool | None = Field(default=None, exclude_if=lambda v: v is None)


class GetDataTask(Value):
    op: Literal["get_data"] = "get_data"
    ddt: str
    into: tuple[str, ...]
    on_failure: int
    # the caller's cancel command; unset: on_failure. Left out of the JSON when unset, so
    # programs compiled before it existed keep their bytes and their id.
    on_cancel: int | None = Field(default=None, exclude_if=lambda v: v is None)


class SetTask(Value):
    op: Literal["set"] = "set"
    var: tuple[str, ...]
    expr: int  # index into Program.exprs


class JumpTask(Value):
    op: Literal["jump"] = "jump"
    to: int


class JumpIfTask(Value):
    op: Literal["jump_if"] = "jump_if"
    cond: int  # index into Program.exprs
    to: int


class CallBackendTask(Value):
    op: Literal["call_backend"] = "call_backend"
    backend: str
    args: dict[str, int] = Field(default_factory=dict)  # name -> index into exprs
    result: dict[str, str] = Field(default_factory=dict)  # dotted variable -> response path
    on_error: int | None = None
    on_timeout: int | None = None


class SendEmailTask(Value):
    op: Literal["send_email"] = "send_email"
    to: int  # expr index
    subject: str  # prompt key
    body: str  # prompt key
    on_error: int | None = None


class SendSmsTask(Value):
    op: Literal["send_sms"] = "send_sms"
    to: int  # expr index
    text: str  # prompt key
    on_error: int | None = None


class TransferTask(Value):
    op: Literal["transfer"] = "transfer"
    target: str
    context: tuple[str, ...] | None = None  # dotted variables; None = all collected
    prompt: str | None = None


class EndTask(Value):
    op: Literal["end"] = "end"
    reason: str = "completed"
    prompt: str | None = None


class CallTask(Value):
    op: Literal["call"] = "call"
    to: int


class ReturnTask(Value):
    op: Literal["return"] = "return"


class FailTask(Value):
    """Reached only where the compiler proved nothing else can happen (e.g. no branch matched)."""

    op: Literal["fail"] = "fail"
    reason: str


class CustomTask(Value):
    op: Literal["custom"] = "custom"
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


Task = Annotated[
    SayTask
    | GetDataTask
    | SetTask
    | JumpTask
    | JumpIfTask
    | CallBackendTask
    | SendEmailTask
    | SendSmsTask
    | TransferTask
    | EndTask
    | CallTask
    | ReturnTask
    | FailTask
    | CustomTask,
    Field(discriminator="op"),
]


class VariableSpec(Value):
    type: str = "any"
    default: Any = None
    sensitive: bool = False


class CompiledBackend(Value):
    url: Template
    method: str = "GET"
    headers: dict[str, Template] = Field(default_factory=dict)
    body: dict[str, int] | None = None  # field -> expr index
    timeout_ms: int = 3000
    retries: int = 1
    backoff_ms: int = 200
    max_response_bytes: int = 1_048_576


class Program(Value):
    format: Literal[1] = 1
    id: str = ""
    project: str
    languages: tuple[str, ...]
    default_language: str
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    entry: int = 0
    tasks: tuple[Task, ...]
    exprs: tuple[Expr, ...] = ()
    prompts: dict[str, dict[str, Prompt]] = Field(default_factory=dict)  # key -> lang -> prompt
    ddts: dict[str, CompiledDdt] = Field(default_factory=dict)
    backends: dict[str, CompiledBackend] = Field(default_factory=dict)
    source_map: tuple[SourceLoc, ...] = ()  # parallel to tasks

    def canonical_bytes(self) -> bytes:
        """The canonical JSON of this program (the bytes that ``compile`` writes)."""
        return canonical_json(self.model_dump(mode="json"))

    def with_id(self) -> Program:
        """This program with ``id`` set to the sha256 of its canonical JSON without id."""
        body = canonical_json(self.model_copy(update={"id": ""}).model_dump(mode="json"))
        return self.model_copy(update={"id": "sha256:" + hashlib.sha256(body).hexdigest()})
