"""Session state: everything ``step`` needs between two events. Small (< 4 KB)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas._base import Record, canonical_json

Status = Literal["running", "waiting_input", "ended", "transferred", "failed"]
Awaiting = Literal["input", "backend", "extraction"]
Channel = Literal["voice", "chat"]


class DdtState(Record):
    """The active DDT's state record: which data node, which dialogue state, counters."""

    ddt: str
    node: tuple[str, ...] = ()  # path of the data node being asked (() = the main data)
    state: str = "start"  # dialogue state (schemas.ddt.DIALOGUE_STATES)
    counters: dict[str, int] = Field(default_factory=dict)  # "<path>:<state>" -> attempts
    total: int = 0
    values: dict[str, Any] = Field(default_factory=dict)  # "<path>" -> normalised value
    candidate: Any = None  # value waiting for confirmation
    uncertain: bool = False
    last_prompt: tuple[str, int] | None = None  # (dialogue state, level) for "repeat"
    rule: str | None = None  # code of the failed validation rule, in state "invalid"
    pending: str | None = None  # utterance sent to an NER/LLM layer, awaiting its result


class SessionState(Record):
    session_id: str
    tenant: str = "default"
    program_id: str
    seq: int = 0
    pc: int = 0
    stack: tuple[int, ...] = ()
    memory: dict[str, Any] = Field(default_factory=dict)
    ddt: DdtState | None = None
    status: Status = "running"
    awaiting: Awaiting | None = None
    language: str = "it"
    channel: Channel = "chat"
    reason: str | None = None  # why the session ended, was transferred or failed

    def digest(self) -> str:
        """sha256 of the canonical JSON of this state: what each turn record carries."""
        import hashlib

        return hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()
