"""Request and response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRequest(_In):
    program: str = Field(pattern=NAME, description="program id (sha256:…) or alias")
    channel: Literal["chat", "voice"] = "chat"
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    variables: dict[str, Any] = Field(
        default_factory=dict, description="initial variables (declared by the program)"
    )
    session_id: str | None = Field(
        default=None,
        pattern=SESSION_ID,
        description="the channel's own id (e.g. a call id); generated when absent",
    )


class NBestIn(_In):
    text: str = Field(max_length=TEXT_MAX)
    confidence: float = Field(ge=0.0, le=1.0)


class EventRequest(_In):
    """A channel event. Its time (``at``) is stamped by the server clock."""

    event: Literal["user_input", "no_input", "dtmf", "hangup"]
    seq: int = Field(ge=0, le=2**62, description="the seq of the last response the channel saw")
    text: str = Field(default="", max_length=TEXT_MAX, description="recognised utterance")
    dtmf: str | None = Field(default=None, pattern=r"^[0-9*#A-D]{1,64}$")
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    nbest: list[NBestIn] = Field(default_factory=list, max_length=10)


class ProgramUpload(_In):
    """Either a compiled program (what ``ddtflow compile`` writes) or a project document
    (compiled on upload; its diagnostics come back in a 422)."""

    program: dict[str, Any] | None = None
    project: dict[str, Any] | None = None


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
