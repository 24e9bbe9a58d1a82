"""Request and response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
)
from pydantic_core import PydanticCustomError

from schemas._base import unstorable
from schemas.session import SessionState
from schemas.turns import TurnRecord

__all__ = [
    "AliasOut",
    "AliasRequest",
    "EventRequest",
    "NBestIn",
    "ProgramOut",
    "ProgramUpload",
    "StartRequest",
    "TurnsOut",
]

TEXT_MAX = 4096
"""Longest utterance accepted (characters); longer gets 413 ``text_too_long``."""
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}$"
SESSION_ID = r"^[A-Za-z0-9._:-]{1,128}$"
DTMF = r"^[0-9*#A-D]{1,64}$"


VALUE_DEPTH = 32
"""Deepest nesting of lists and objects in a start variable's value."""
DOCUMENT_DEPTH = 200
"""Deepest nesting in an uploaded project or program (the compiler's own limits are lower)."""


def _shown(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode()


def _storable_variables(variables: dict[str, Any]) -> dict[str, Any]:
    """Start variables go into the session's state and its turn records: a value their
    JSON cannot hold is refused here (422) rather than failing the turn (500) or being
    stored as null (NaN, Infinity)."""
    for name, value in variables.items():
        found = unstorable(name, VALUE_DEPTH) or unstorable(value, VALUE_DEPTH)
        if found:
            raise PydanticCustomError(
                "json_value",
                "variable '{name}': {why}",
                {"name": _shown(name), "why": found[0]},
            )
    return variables


def _storable_document(document: dict[str, Any]) -> dict[str, Any]:
    """An uploaded project or program is compiled, stored and echoed in diagnostics: a
    string that is not Unicode (or a number JSON cannot hold) is refused here (422)."""
    found = unstorable(document, DOCUMENT_DEPTH)
    if found:
        why, where = found
        raise PydanticCustomError(
            "json_value", "{why} at {where}", {"why": why, "where": _shown(where) or "/"}
        )
    return document


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRequest(_In):
    program: str = Field(pattern=NAME, description="program id (sha256:…) or alias")
    channel: Literal["chat", "voice"] = "chat"
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    variables: Annotated[dict[str, Any], AfterValidator(_storable_variables)] = Field(
        default_factory=dict,
        description="initial variables (declared by the program): JSON values of at most "
        f"{VALUE_DEPTH} levels, integers in the signed 64-bit range",
    )
    session_id: str | None = Field(
        default=None,
        pattern=SESSION_ID,
        description="the channel's own id (e.g. a call id); generated when absent",
    )


class NBestIn(_In):
    text: str = Field(max_length=TEXT_MAX)
    confidence: float = Field(ge=0.0, le=1.0, strict=True)


def _json_integer(value: Any) -> Any:
    """``seq`` is a JSON integer (``3``, or ``3.0`` which JSON Schema counts as one); lax
    validation would also read ``true`` as 1 and ``"3"`` as 3 and run the turn."""
    if isinstance(value, bool | str | bytes):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


class _Event(_In):
    seq: Annotated[int, BeforeValidator(_json_integer)] = Field(
        ge=0, le=2**53 - 1, description="the seq of the last response the channel saw"
    )


class UserInputRequest(_Event):
    """A recognised utterance (and optionally keys pressed with it)."""

    event: Literal["user_input"]
    text: str = Field(default="", max_length=TEXT_MAX, description="recognised utterance")
    dtmf: str | None = Field(default=None, pattern=DTMF)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0, strict=True)
    nbest: list[NBestIn] = Field(default_factory=list, max_length=10)


class DtmfRequest(_Event):
    """Keys pressed on the phone's keypad."""

    event: Literal["dtmf"]
    dtmf: str = Field(pattern=DTMF)


class NoInputRequest(_Event):
    """The caller said nothing before the listen timeout."""

    event: Literal["no_input"]


class HangupRequest(_Event):
    """The caller hung up (or closed the chat)."""

    event: Literal["hangup"]


EventRequest = Annotated[
    UserInputRequest | DtmfRequest | NoInputRequest | HangupRequest,
    Field(discriminator="event"),
]
"""A channel event. Its time (``at``) is stamped by the server clock."""
EVENT_ADAPTER: TypeAdapter[EventRequest] = TypeAdapter(EventRequest)


class CompiledUpload(_In):
    """A compiled program: the JSON ``ddtflow compile`` writes."""

    program: Annotated[dict[str, Any], AfterValidator(_storable_document)]


class ProjectUpload(_In):
    """A project document (what a visual editor saves), compiled on upload; its
    diagnostics come back in a 422."""

    project: Annotated[dict[str, Any], AfterValidator(_storable_document)]


def _upload_kind(body: Any) -> str:
    return "program" if isinstance(body, dict) and "program" in body else "project"


ProgramUpload = Annotated[
    Annotated[CompiledUpload, Tag("program")] | Annotated[ProjectUpload, Tag("project")],
    Discriminator(_upload_kind),
]
"""``{"program": …}`` or ``{"project": …}``: an error names the field of the one sent."""


class ProgramOut(BaseModel):
    id: str
    project: str
    languages: list[str]
    default_language: str
    uploaded_at: str
    created: bool | None = None
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class ProgramList(BaseModel):
    programs: list[ProgramOut]
    aliases: dict[str, str]


class AliasRequest(_In):
    program_id: str = Field(pattern=NAME)


class AliasOut(BaseModel):
    name: str
    program_id: str
    previous: str | None


class TurnsOut(BaseModel):
    session_id: str
    turns: list[TurnRecord]


class SessionOut(BaseModel):
    state: SessionState
