"""Helpers for the DDT engine scenario tests: compile small DdtDefs, talk to the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from compiler.ddt import compile_ddt
from ddt_engine.engine import DdtEngine
from schemas.actions import ExtractAction, ListenAction, SayAction
from schemas.ddt import CompiledDdt, DdtStep
from schemas.events import (
    Event,
    ExtractionResultEvent,
    HangupEvent,
    NoInputEvent,
    UserInputEvent,
)
from schemas.project import DdtDef
from schemas.session import DdtState

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def compile_one(data: dict[str, Any], name: str = "d", *, prompts: Any = None) -> CompiledDdt:
    ddt, diags = compile_ddt(
        name,
        DdtDef.model_validate(data),
        languages=("it", "en"),
        prompts=prompts or {},
        var_types={"patient": "object", "max_guests": "integer", "slots": "list", "name": "string"},
        locate=lambda suffix: ("test.yaml", 1, 1),
    )
    assert ddt is not None, diags
    assert [d for d in diags if d.severity == "error"] == []
    return ddt


def engine_for(data: dict[str, Any], name: str = "d", **kw: Any) -> DdtEngine:
    return DdtEngine({name: compile_one(data, name, **kw)})


class Talk:
    """One DDT conversation: every step is kept; ``keys``/``texts`` read the last one."""

    def __init__(
        self,
        data: dict[str, Any] | DdtEngine,
        *,
        lang: str = "it",
        channel: str = "chat",
        memory: dict[str, Any] | None = None,
        name: str = "d",
    ) -> None:
        self.engine = data if isinstance(data, DdtEngine) else engine_for(data, name)
        self.name = name
        self.lang = lang
        self.channel = channel
        self.memory = memory or {}
        self.steps: list[DdtStep] = []
        self.state: DdtState | None = None

    def _keep(self, step: DdtStep) -> DdtStep:
        self.steps.append(step)
        if step.state is not None:
            self.state = step.state
        return step

    def start(self) -> DdtStep:
        return self._keep(
            self.engine.begin(
                self.name, memory=self.memory, language=self.lang, channel=self.channel, at=AT
            )
        )

    def event(self, event: Event) -> DdtStep:
        assert self.state is not None
        return self._keep(
            self.engine.handle(
                self.state, event, memory=self.memory, language=self.lang, channel=self.channel
            )
        )

    def say(self, text: str, *, confidence: float | None = None) -> DdtStep:
        return self.event(UserInputEvent(at=AT, text=text, confidence=confidence))

    def dtmf(self, digits: str) -> DdtStep:
        return self.event(UserInputEvent(at=AT, dtmf=digits))

    def silence(self) -> DdtStep:
        return self.event(NoInputEvent(at=AT))

    def hangup(self) -> DdtStep:
        return self.event(HangupEvent(at=AT))

    def extraction(self, layer: str, value: Any = None, *, no_match: bool = False) -> DdtStep:
        return self.event(
            ExtractionResultEvent(
                at=AT,
                layer=layer,
                value=value,
                no_match=no_match,
                confidence=0.9,
            )
        )

    @property
    def last(self) -> DdtStep:
        return self.steps[-1]

    def keys(self) -> list[str]:
        return [a.prompt or "" for a in self.last.actions if isinstance(a, SayAction)]

    def texts(self) -> list[str]:
        return [a.text for a in self.last.actions if isinstance(a, SayAction)]

    def text(self) -> str:
        texts = self.texts()
        assert len(texts) == 1, texts
        return texts[0]

    def ssml(self) -> str | None:
        says = [a for a in self.last.actions if isinstance(a, SayAction)]
        assert len(says) == 1
        return says[0].ssml

    def listens(self) -> list[ListenAction]:
        return [a for a in self.last.actions if isinstance(a, ListenAction)]

    def extracts(self) -> list[ExtractAction]:
        return [a for a in self.last.actions if isinstance(a, ExtractAction)]
