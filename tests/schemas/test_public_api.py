"""Pins the public API of ``schemas`` and basic properties of its models."""

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

import schemas
from schemas import Event, Program, SessionState


def test_all_is_pinned() -> None:
    assert sorted(schemas.__all__) == sorted(
        [
            "DIALOGUE_STATES",
            "Action",
            "BackendResultEvent",
            "CallBackendAction",
            "CompiledDdt",
            "CustomAction",
            "DataNode",
            "DdtState",
            "DdtStep",
            "Diagnostic",
            "DtmfListen",
            "DtmfSpec",
            "EndAction",
            "Event",
            "ExtractAction",
            "ExtractionResultEvent",
            "Extractor",
            "Expr",
            "HangupEvent",
            "Limits",
            "ListenAction",
            "MachineRule",
            "MachineSpec",
            "NBest",
            "NoInputEvent",
            "Program",
            "Project",
            "Prompt",
            "SayAction",
            "SendEmailAction",
            "SendSmsAction",
            "SessionState",
            "SourceLoc",
            "StartEvent",
            "Task",
            "Template",
            "TransferAction",
            "TurnRecord",
            "UserInputEvent",
            "ValidationRule",
            "canonical_json",
        ]
    )
    for name in schemas.__all__:
        assert hasattr(schemas, name)


def test_events_are_a_tagged_union() -> None:
    adapter: TypeAdapter[Event] = TypeAdapter(Event)
    ev = adapter.validate_python({"type": "user_input", "at": "2025-06-11T10:30:00Z", "text": "sì"})
    assert ev.type == "user_input"
    assert ev.at == datetime(2025, 6, 11, 10, 30, tzinfo=UTC)
    with pytest.raises(ValidationError, match="bogus"):
        adapter.validate_python({"type": "user_input", "at": "2025-06-11T10:30:00Z", "bogus": 1})


def test_program_id_is_content_addressed() -> None:
    p = Program(project="x", languages=("it",), default_language="it", tasks=()).with_id()
    q = Program(project="x", languages=("it",), default_language="it", tasks=()).with_id()
    r = Program(project="y", languages=("it",), default_language="it", tasks=()).with_id()
    assert p.id == q.id != r.id
    assert p.id.startswith("sha256:") and len(p.id) == 7 + 64


def test_state_digest_changes_with_state() -> None:
    s = SessionState(session_id="s1", program_id="p")
    assert s.digest() == SessionState(session_id="s1", program_id="p").digest()
    assert s.digest() != s.model_copy(update={"seq": 1}).digest()
