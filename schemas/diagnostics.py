"""Compiler diagnostics: code, severity, location, message and hint."""

from __future__ import annotations

from typing import Literal

from schemas._base import Value

Severity = Literal["error", "warning"]


class Diagnostic(Value):
    code: str  # stable, e.g. "E102"
    severity: Severity
    file: str
    line: int = 0  # 1-based; 0 = unknown
    col: int = 0  # 1-based; 0 = unknown
    end_col: int = 0
    pointer: str = ""  # JSON pointer into the project document
    message: str
    hint: str | None = None
    snippet: str | None = None  # the source line, when known
