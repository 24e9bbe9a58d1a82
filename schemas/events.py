"""Events: the only inputs of ``step``. Time enters only as ``at``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from schemas._base import Value


class NBest(Value):
    text: str
    confidence: float = Field(ge=0.0, le=1.0)


class StartEvent(Value):
    type: Literal["start"] = "start"
    at: datetime
    variables: dict[str, Any] = Field(default_factory=dict)


class UserInputEvent(Value):
    type: Literal["user_input"] = "user_input"
    at: datetime
    text: str = ""
    dtmf: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    nbest: tuple[NBest, ...] = ()


class NoInputEvent(Value):
    type: Literal["no_input"] = "no_input"
    at: datetime


BackendError = Literal["timeout", "error", "invalid_response", "circuit_open", "refused"]


class BackendResultEvent(Value):
    """The result of a ``call_backend``/``send_email``/``send_sms`` action."""

    type: Literal["backend_result"] = "backend_result"
    at: datetime
    backend: str
    ok: bool
    status: int | None = None
    body: Any = None
    error: BackendError | None = None
    detail: str | None = None


class ExtractionResultEvent(Value):
    """The answer of an out-of-engine extraction layer (NER or LLM) to an ``extract`` action."""

    type: Literal["extraction_result"] = "extraction_result"
    at: datetime
    layer: Literal["ner", "llm"]
    value: Any = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    no_match: bool = False


class HangupEvent(Value):
    type: Literal["hangup"] = "hangup"
    at: datetime


Event = Annotated[
    StartEvent
    | UserInputEvent
    | NoInputEvent
    | BackendResultEvent
    | ExtractionResultEvent
    | HangupEvent,
    Field(discriminator="type"),
]
