"""ddtflow schemas: the pydantic models every other package agrees on."""

from schemas._base import canonical_json
from schemas.actions import (
    Action,
    CallBackendAction,
    CustomAction,
    DtmfListen,
    EndAction,
    ExtractAction,
    ListenAction,
    SayAction,
    SendEmailAction,
    SendSmsAction,
    TransferAction,
)
from schemas.ddt import (
    DIALOGUE_STATES,
    CompiledDdt,
    DataNode,
    DdtStep,
    DtmfSpec,
    Extractor,
    Limits,
    MachineRule,
    MachineSpec,
    ValidationRule,
)
from schemas.diagnostics import Diagnostic
from schemas.events import (
    BackendResultEvent,
    Event,
    ExtractionResultEvent,
    HangupEvent,
    NBest,
    NoInputEvent,
    StartEvent,
    UserInputEvent,
)
from schemas.expressions import Expr, Template
from schemas.program import Program, SourceLoc, Task
from schemas.project import Project
from schemas.prompts import Prompt
from schemas.session import DdtState, SessionState
from schemas.turns import TurnRecord

__all__ = [
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
