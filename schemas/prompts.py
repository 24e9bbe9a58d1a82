"""Compiled prompts: a template per channel variant (plain text, voice with SSML, chat)."""

from __future__ import annotations

from schemas._base import Value
from schemas.expressions import Template


class Prompt(Value):
    """One prompt in one language. ``voice`` (may hold SSML) and ``chat`` override ``text``."""

    text: Template
    voice: Template | None = None
    chat: Template | None = None
