"""The program registry: compiled programs by id, each with its DDT engine built once.

Sessions are pinned to the program id they started on; an alias (``booking@live``) can
move to a new version without touching a conversation in flight.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from ddt_engine.engine import DdtEngine
from runtime.ports import RuntimeFault
from runtime.tasks import DdtEnginePort, TaskRegistry, default_registry, plan_for
from schemas.ddt import CompiledDdt
from schemas.diagnostics import Diagnostic
from schemas.program import Program

__all__ = [
    "CompileFailedError",
    "LoadedProgram",
    "ProgramNotFoundError",
    "ProgramRegistry",
]


class ProgramNotFoundError(RuntimeFault):
    code = "program_not_found"


class CompileFailedError(RuntimeFault):
    """A project did not compile; ``diagnostics`` says why."""

    code = "compile_failed"

    def __init__(self, message: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class _CompileResult(Protocol):
    @property
    def program(self) -> Program | None: ...
    @property
    def diagnostics(self) -> list[Diagnostic]: ...
    @property
    def ok(self) -> bool: ...


CompileFn = Callable[[Path], _CompileResult]
EngineFactory = Callable[[Mapping[str, CompiledDdt]], DdtEnginePort]


def _default_engine(ddts: Mapping[str, CompiledDdt]) -> DdtEnginePort:
    return DdtEngine(ddts)


@dataclass(frozen=True, slots=True)
class LoadedProgram:
    """A program ready to run: the program, its DDT engine and the task plugins."""

    program: Program
    engine: DdtEnginePort
    plugins: TaskRegistry

    @property
    def id(self) -> str:
        return self.program.id


class ProgramRegistry:
    """Programs by id (an LRU of ``max_programs``) and aliases to ids."""

    def __init__(
        self,
        *,
        max_programs: int = 64,
        plugins: TaskRegistry | None = None,
        engine_factory: EngineFactory = _default_engine,
        compile: CompileFn | None = None,
        fetch: Callable[[str], Program | None] | None = None,
    ) -> None:
        self.max_programs = max_programs
        self.plugins = plugins
        self._engine_factory = engine_factory
        self._compile = compile
        self._fetch = fetch  # e.g. a MongoDB lookup, for ids not loaded yet
        self._programs: OrderedDict[str, LoadedProgram] = OrderedDict()
        self._aliases: dict[str, str] = {}

    def add(self, program: Program) -> LoadedProgram:
        """Load ``program`` (its id computed if empty); the cached one when already there."""
        if not program.id:
            program = program.with_id()
        hit = self._programs.get(program.id)
        if hit is not None:
            self._programs.move_to_end(program.id)
            return hit
        plan_for(program)  # prompt plans, URL pieces, compiled expressions: once, not per turn
        loaded = LoadedProgram(
            program,
            self._engine_factory(program.ddts),
            self.plugins if self.plugins is not None else default_registry(),
        )
        self._programs[program.id] = loaded
        while len(self._programs) > self.max_programs:
            self._programs.popitem(last=False)
        return loaded

    def load_file(self, path: str | Path) -> LoadedProgram:
        """A compiled program (the JSON that ``ddtflow compile`` writes)."""
        p = Path(path)
        try:
            program = Program.model_validate_json(p.read_bytes())
        except OSError as e:
            raise ProgramNotFoundError(f"cannot read {p}: {e.strerror}", path=str(p)) from None
        except ValidationError as e:
            raise ProgramNotFoundError(
                f"{p} is not a compiled ddtflow program ({e.error_count()} problems, first: "
                f"{e.errors()[0]['msg']})",
                path=str(p),
            ) from None
        return self.add(program)

    def load_project(self, path: str | Path) -> LoadedProgram:
        """Compile a project (file or directory) and load it; CompileFailedError on errors."""
        if self._compile is None:
            raise ProgramNotFoundError("this registry cannot compile projects", path=str(path))
        result = self._compile(Path(path))
        if not result.ok or result.program is None:
            errors = [d for d in result.diagnostics if d.severity == "error"]
            raise CompileFailedError(
                f"{path}: {len(errors)} error(s) in the project", result.diagnostics
            )
        return self.add(result.program)

    def load(self, source: str | Path) -> LoadedProgram:
        """A compiled ``*.json`` program, or a project (directory or YAML file)."""
        p = Path(source)
        if p.is_file() and p.suffix == ".json":
            return self.load_file(p)
        if not p.exists():
            raise ProgramNotFoundError(f"no such project or program: {p}", path=str(p))
        return self.load_project(p)

    def alias(self, name: str, program_id: str) -> None:
        self.get(program_id)
        self._aliases[name] = program_id

    def resolve(self, name_or_id: str) -> str:
        return self._aliases.get(name_or_id, name_or_id)

    def get(self, name_or_id: str) -> LoadedProgram:
        """The program by id or alias; ProgramNotFoundError if unknown."""
        pid = self.resolve(name_or_id)
        hit = self._programs.get(pid)
        if hit is not None:
            self._programs.move_to_end(pid)
            return hit
        if self._fetch is not None:
            program = self._fetch(pid)
            if program is not None:
                return self.add(program)
        raise ProgramNotFoundError(f"unknown program {name_or_id!r}", program_id=name_or_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(self._programs)
