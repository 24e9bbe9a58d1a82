"""Hot-path helpers of runtime.tasks equal their validated pydantic counterparts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from runtime.orchestrator import _next_state
from runtime.tasks import build, response_path
from schemas.actions import CallBackendAction, EndAction, SayAction, TransferAction
from schemas.session import DdtState, SessionState


def test_build_equals_validated_models() -> None:
    cases: list[tuple[type[BaseModel], dict[str, Any]]] = [
        (SayAction, {"text": "Ciao", "prompt": "p"}),
        (SayAction, {"text": "Hi", "ssml": "<speak>Hi</speak>", "prompt": None}),
        (EndAction, {}),
        (TransferAction, {"target": "op", "context": {"a": 1}}),
        (CallBackendAction, {"backend": "b", "method": "GET", "url": "http://x", "body": None}),
    ]
    for cls, values in cases:
        fast = build(cls, **values)
        slow = cls(**values)
        assert fast == slow
        assert fast.model_dump(mode="json") == slow.model_dump(mode="json")
        assert fast.model_dump_json() == slow.model_dump_json()
    a, b = build(TransferAction, target="x"), build(TransferAction, target="y")
    assert a.context is not b.context  # default factories give fresh values


def test_next_state_equals_model_copy() -> None:
    s = SessionState(session_id="s", program_id="p", memory={"a": {"b": 1}})
    update = {
        "seq": 3,
        "pc": 7,
        "ddt": DdtState(ddt="d"),
        "status": "waiting_input",
        "awaiting": "input",
    }
    fast = _next_state(s, dict(update))
    slow = s.model_copy(update=update)
    assert fast == slow and fast.digest() == slow.digest()
    assert s.seq == 0 and s.status == "running"  # the old state is untouched


def test_response_path() -> None:
    body = {"data": {"slots": ["09:00", "10:30"], "n": 0, "ok": False}}
    assert response_path(body, "data.slots.1") == "10:30"
    assert response_path(body, "data.slots.-1") == "10:30"
    assert response_path(body, "data.slots.5") is None
    assert response_path(body, "data.n") == 0
    assert response_path(body, "data.ok") is False
    assert response_path(body, "data.missing.x") is None
    assert response_path(body, "") == body
    assert response_path([1, 2], "0") == 1
    assert response_path("text", "a") is None
