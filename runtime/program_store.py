"""The program store: compiled programs by id, so a recorded session's program resolves.

Two places: a local directory for the embedded default (``.ddtflow/programs/<id>.json``,
``<id>`` with ``:`` written as ``-``) and MongoDB's ``programs`` collection (through
``runtime.mongo.MongoArchive.save_program/get_program``) when servers are configured.
Ids are content hashes, so saving is idempotent and a stored program never changes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from runtime.mongo import MongoArchive
from runtime.ports import RuntimeFault
from runtime.programs import LoadedProgram, ProgramRegistry
from schemas.program import Program

__all__ = [
    "DEFAULT_DIR",
    "LocalProgramStore",
    "MongoProgramStore",
    "ProgramMissingError",
    "ProgramStore",
    "ProgramStores",
    "default_dir",
]

DEFAULT_DIR = Path(".ddtflow") / "programs"
_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


class ProgramMissingError(RuntimeFault):
    """A recorded program id that no store holds."""

    code = "program_not_found"


def default_dir() -> Path:
    """``$DDTFLOW_PROGRAM_STORE`` or ``.ddtflow/programs`` under the working directory."""
    env = os.environ.get("DDTFLOW_PROGRAM_STORE")
    return Path(env) if env else DEFAULT_DIR


class ProgramStore(Protocol):
    where: str

    async def get(self, program_id: str) -> Program | None: ...
    async def save(self, program: Program) -> None: ...


class LocalProgramStore:
    """Programs as canonical JSON files in one directory."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_dir()
        self.where = str(self.directory)

    def path_for(self, program_id: str) -> Path:
        return self.directory / (program_id.replace(":", "-") + ".json")

    def get_sync(self, program_id: str) -> Program | None:
        if not _ID.match(program_id):
            return None
        p = self.path_for(program_id)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise ProgramMissingError(f"cannot read {p}: {e.strerror}", path=str(p)) from None
        try:
            program = Program.model_validate_json(data)
        except ValidationError as e:
            raise ProgramMissingError(
                f"{p} is not a compiled program ({e.error_count()} problems)", path=str(p)
            ) from None
        if program.id != program_id:
            raise ProgramMissingError(f"{p} holds program {program.id}, not {program_id}")
        return program

    def save_sync(self, program: Program) -> Path:
        if not program.id:
            program = program.with_id()
        p = self.path_for(program.id)
        if p.exists():
            return p
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_bytes(program.canonical_bytes())
        tmp.replace(p)  # atomic: a reader never sees half a program
        return p

    async def get(self, program_id: str) -> Program | None:
        return self.get_sync(program_id)

    async def save(self, program: Program) -> None:
        self.save_sync(program)


class MongoProgramStore:
    """The ``programs`` collection of a MongoDB archive."""

    def __init__(self, archive: MongoArchive) -> None:
        self.archive = archive
        self.where = archive.where

    async def get(self, program_id: str) -> Program | None:
        try:
            return await self.archive.get_program(program_id)
        except ValidationError:
            raise ProgramMissingError(
                f"program {program_id} in {self.where} is not a valid compiled program"
            ) from None

    async def save(self, program: Program) -> None:
        await self.archive.save_program(program)


class ProgramStores:
    """Resolve program ids through an in-process registry, then each store in turn."""

    def __init__(
        self, stores: Sequence[ProgramStore] = (), registry: ProgramRegistry | None = None
    ) -> None:
        self.stores = list(stores)
        self.registry = registry if registry is not None else ProgramRegistry()

    def add(self, program: Program) -> LoadedProgram:
        """Make ``program`` resolvable (e.g. one given with ``--program``)."""
        return self.registry.add(program)

    async def load(self, program_id: str, *, session_id: str | None = None) -> LoadedProgram:
        """The loaded program; ProgramMissingError naming every place looked in."""
        try:
            return self.registry.get(program_id)
        except RuntimeFault:
            pass
        for store in self.stores:
            program = await store.get(program_id)
            if program is not None:
                return self.registry.add(program)
        places = ", ".join(s.where for s in self.stores) or "no program store"
        who = f"session {session_id!r} ran " if session_id else ""
        raise ProgramMissingError(
            f"{who}program {program_id}, which is not in the program store ({places}); "
            f"give it with --program FILE.json|PROJECT_DIR",
            program_id=program_id,
        )
