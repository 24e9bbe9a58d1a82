"""Actions: the only outputs of ``step``; the effect executor and the channel carry them out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from schemas._base import Value


class SayAction(Value):
    type: Literal["say"] = "say"
    text: str
    ssml: str | None = None
    prompt: str | None = None  # stable key of the prompt played (tests, coverage, analytics)
    # voice: False = this prompt is played whole (the caller's speech and keys during it are
    # not taken); True = it may be interrupted; None (left out of the JSON, so records made
    # before it existed keep their bytes) = as the ``barge_in`` of the turn's listen says
    barge_in: bool | None = Field(default=None, exclude_if=lambda v: v is None)


class DtmfListen(Value):
    max_digits: int = 20
    finish_key: str | None = "#"


class ListenAction(Value):
    """Wait for the caller: after the turn's say actions, listen for ``expect``.

    ``timeout_ms``: silence this long is a ``no_input`` event. ``barge_in``: whether the
    caller may interrupt (by voice or keys) the prompts of this turn played before the
    listen — those whose own ``barge_in`` is not set. ``hints``: ASR phrase hints in the
    session's language (left out of the JSON when there are none). ``confirming``: the
    value was just read back and a yes or a no is awaited (a correction of a value of
    ``expect`` too); left out of the JSON when false. Both were added after records were
    first written: leaving them out when unset keeps those records' bytes.
    """

    type: Literal["listen"] = "listen"
    expect: str = "text"  # the data type expected, for ASR hints
    timeout_ms: int = 5000
    dtmf: DtmfListen | None = None
    barge_in: bool = True
    hints: tuple[str, ...] = Field(default=(), exclude_if=lambda v: not v)
    confirming: bool = Field(default=False, exclude_if=lambda v: not v)


class CallBackendAction(Value):
    type: Literal["call_backend"] = "call_backend"
    backend: str
    method: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    timeout_ms: int = 3000
    retries: int = 1
    backoff_ms: int = 200
    max_response_bytes: int = 1_048_576


class ExtractAction(Value):
    type: Literal["extract"] = "extract"
    layer: Literal["ner", "llm"]
    data_type: str
    text: str
    language: str
    choices: tuple[str, ...] = ()


class SendEmailAction(Value):
    type: Literal["send_email"] = "send_email"
    to: str
    subject: str
    body: str


class SendSmsAction(Value):
    type: Literal["send_sms"] = "send_sms"
    to: str
    text: str


class TransferAction(Value):
    type: Literal["transfer"] = "transfer"
    target: str
    reason: str = ""
    context: dict[str, Any] = Field(default_factory=dict)


class EndAction(Value):
    type: Literal["end"] = "end"
    reason: str = "completed"


class CustomAction(Value):
    type: Literal["custom"] = "custom"
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


Action = Annotated[
    SayAction
    | ListenAction
    | CallBackendAction
    | ExtractAction
    | SendEmailAction
    | SendSmsAction
    | TransferAction
    | EndAction
    | CustomAction,
    Field(discriminator="type"),
]
