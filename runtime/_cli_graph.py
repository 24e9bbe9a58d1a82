"""``ddtflow graph PROJECT -o flow.mmd|flow.svg``: draw the flow and each DDT machine."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ddt_engine.engine import machine_mermaid
from runtime._cli_test import _looks_compiled, compile_shown
from runtime.graph import ddt_dot, flow_dot, flow_mermaid, nodes_at


def _svg(dot_exe: str, source: str, out: Path, console: Console) -> None:
    try:
        proc = subprocess.run(
            [dot_exe, "-Tsvg", "-o", str(out)],
            input=source.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        console.print(f"[red]error:[/red] graphviz dot failed: {escape(str(e))}")
        raise typer.Exit(1) from None
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip()
        console.print(f"[red]error:[/red] graphviz dot failed: {escape(msg)}")
        raise typer.Exit(1)


def _ddt_file_name(stem: str, name: str, suffix: str, taken: set[str]) -> str:
    """``STEM.ddt-NAME.mmd``, NAME made a file name (a DDT ``sì/no`` is ``sì_no``, where the
    ``/`` was a directory that did not exist) and different from every name in ``taken``."""
    safe = re.sub(r"[^\w.-]", "_", name).strip(".") or "ddt"
    file, k = f"{stem}.ddt-{safe}{suffix}", 1
    while file in taken:
        k += 1
        file = f"{stem}.ddt-{safe}_{k}{suffix}"
    taken.add(file)
    return file


def register(app: typer.Typer) -> None:
    @app.command(
        "graph",
        epilog=(
            "Examples:\n"
            "ddtflow graph examples/insurance_claim -o flow.mmd   "
            "# and flow.ddt-NAME.mmd\n"
            "ddtflow graph examples/insurance_claim -o flow.svg   # needs graphviz\n"
            "ddtflow graph examples/insurance_claim --no-ddts"
        ),
    )
    def graph_cmd(
        project: Annotated[Path, typer.Argument(help="project directory or YAML file")],
        output: Annotated[
            Path, typer.Option("-o", "--output", help="flow.mmd (Mermaid) or flow.svg (graphviz)")
        ] = Path("flow.mmd"),
        ddts: Annotated[
            bool, typer.Option("--ddts/--no-ddts", help="also draw each DDT's machine")
        ] = True,
    ) -> None:
        """Draw the flow (and each DDT's dialogue machine) as Mermaid or SVG.

        Each DDT goes to a file next to the flow's: OUTPUT_STEM.ddt-NAME.mmd|svg.
        """
        console = Console(highlight=False, soft_wrap=True)
        suffix = output.suffix.lower()
        if suffix not in (".mmd", ".svg"):
            console.print("[red]error:[/red] -o takes a .mmd (Mermaid) or .svg file name")
            raise typer.Exit(1)
        dot_exe = shutil.which("dot") if suffix == ".svg" else None
        if suffix == ".svg" and dot_exe is None:
            console.print(
                "[red]error:[/red] SVG needs graphviz's `dot`, which is not installed "
                "(Debian/Ubuntu: apt-get install graphviz). Use -o flow.mmd for Mermaid, "
                "which GitHub and most Markdown viewers draw."
            )
            raise typer.Exit(1)
        if project.is_file() and project.suffix == ".json" and _looks_compiled(project):
            console.print(
                f"[red]error:[/red] {escape(str(project))} is a compiled program, which keeps no "
                "flow graph: give the project's directory or YAML file"
            )
            raise typer.Exit(1)
        from compiler.loader import load_project

        result = compile_shown(project, console)
        doc = load_project(project).data
        errors = len([d for d in result.diagnostics if d.severity == "error"])
        if not isinstance(doc, Mapping) or not doc.get("nodes"):
            # nothing to draw: the files are not read (YAML syntax, encoding) or hold no flow
            console.print(f"[red]{escape(str(project))}: {errors} error(s); nothing drawn[/red]")
            raise typer.Exit(1)
        # a project that does not compile is still drawn — the flow is what a designer
        # looks at to find a wrong edge — but its DDT machines need the compiled program
        program = result.program if result.ok else None
        off = nodes_at(doc, (d.pointer for d in result.diagnostics if d.code == "W001"))
        drawings: list[tuple[Path, str]] = [
            (output, flow_mermaid(doc, off) if dot_exe is None else flow_dot(doc, off))
        ]
        if ddts and program is not None:
            taken = {output.name}
            for name, ddt in sorted(program.ddts.items()):
                out = output.with_name(_ddt_file_name(output.stem, name, suffix, taken))
                drawings.append((out, machine_mermaid(ddt) if dot_exe is None else ddt_dot(ddt)))
        for out, source in drawings:
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                if dot_exe is None:
                    out.write_text(source, encoding="utf-8")
            except OSError as e:
                console.print(
                    f"[red]error:[/red] cannot write {escape(str(out))}: "
                    f"{escape(e.strerror or str(e))}"
                )
                raise typer.Exit(1) from None
            if dot_exe is not None:
                _svg(dot_exe, source, out, console)
            console.print(f"wrote {escape(str(out))}")
        if off:
            console.print(f"{len(off)} unreachable node(s) drawn dashed, marked (unreachable)")
        if program is None:
            console.print(
                f"[red]{escape(str(project))}: {errors} error(s); drew the flow only "
                "(the DDT machines need a project that compiles)[/red]"
            )
            raise typer.Exit(1)
