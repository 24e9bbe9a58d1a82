"""``ddtflow check``, ``ddtflow compile`` and ``ddtflow schema``: the compiler's commands."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from schemas.diagnostics import Diagnostic


class Format(StrEnum):
    text = "text"
    json = "json"


def diagnostics_json(diags: list[Diagnostic]) -> str:
    """The ``--format json`` body: a list of {code, severity, file, line, col, pointer, …}."""
    keys = ("code", "severity", "file", "line", "col", "pointer", "message", "hint")
    rows = [{k: getattr(d, k) for k in keys} for d in diags]
    return json.dumps(rows, ensure_ascii=False, indent=2)


def check_text(project: str) -> tuple[str, int]:
    """What ``ddtflow check PROJECT`` prints, and its exit code (the golden tests use this)."""
    from compiler import compile_project, render_all

    result = compile_project(project)
    return render_all(result.diagnostics), 0 if result.ok else 1


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def check(
    project: Annotated[str, typer.Argument(help="A project file (.yaml/.json) or directory.")],
    format: Annotated[
        Format, typer.Option("--format", "-f", help="text for people, json for editors.")
    ] = Format.text,
) -> None:
    """Check a flow project: every problem with its location and a hint. Exit 1 on errors."""
    try:
        from compiler import compile_project, render_all

        result = compile_project(project)
        if format is Format.json:
            typer.echo(diagnostics_json(result.diagnostics))
        else:
            typer.echo(render_all(result.diagnostics), nl=False)
    except typer.Exit:
        raise
    except Exception as exc:  # never a traceback to the user
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    raise typer.Exit(0 if result.ok else 1)


def compile_cmd(
    project: Annotated[str, typer.Argument(help="A project file (.yaml/.json) or directory.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Where to write the program (JSON).")
    ] = "program.json",
) -> None:
    """Compile a project to a program: canonical JSON whose id is the sha256 of its bytes."""
    try:
        from compiler import compile_project, render_all, summary_line
        from compiler.emit import program_bytes

        result = compile_project(project)
        if result.diagnostics:
            typer.echo(render_all(result.diagnostics), err=True, nl=False)
        if not result.ok or result.program is None:
            raise typer.Exit(1)
        data = program_bytes(result.program)
        target = Path(output)
        target.parent.mkdir(parents=True, exist_ok=True)
        # write atomically: a half-written program must never be loaded by a runtime
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        typer.echo(result.program.id)
        typer.echo(f"{output}: {summary_line(result.program)}, {len(data):,} bytes")
    except typer.Exit:
        raise
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    except Exception as exc:
        _fail(f"internal error: {type(exc).__name__}: {exc}")


def schema(
    program: Annotated[
        bool, typer.Option("--program", help="The compiled program's schema instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the project format (for editors), or of the compiled program."""
    try:
        from schemas.program import Program
        from schemas.project import Project

        model = Program if program else Project
        doc = model.model_json_schema(by_alias=True)
        doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        doc["$id"] = "https://ddtflow.dev/schema/" + ("program" if program else "project") + ".json"
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    except Exception as exc:
        _fail(f"internal error: {type(exc).__name__}: {exc}")


def register(app: typer.Typer) -> None:
    """Add ``check``, ``compile`` and ``schema`` to the ``ddtflow`` command."""
    app.command("check")(check)
    app.command("compile")(compile_cmd)
    app.command("schema")(schema)
