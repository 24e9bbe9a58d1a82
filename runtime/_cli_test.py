"""``ddtflow test PROJECT``: run a project's conversation tests, with coverage."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from runtime.convtest import (
    ConvTest,
    TestFileError,
    TestResult,
    find_test_files,
    load_tests,
    run_test,
    verify_replay,
)
from runtime.coverage import CoverageReport, FlowGraph, measure
from runtime.ports import RuntimeFault
from runtime.programs import LoadedProgram, ProgramRegistry

if TYPE_CHECKING:
    from compiler import CompileResult


def _looks_compiled(path: Path) -> bool:
    """A compiled program has ``tasks``; a project written as JSON has ``nodes``."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(data, dict) and "tasks" in data


def compile_shown(project: Path, console: Console) -> CompileResult:
    """Compile the project directory or file ``project``, printing every diagnostic; exit 1
    when it does not exist."""
    from compiler import compile_project
    from compiler.errors import render_diagnostic

    if not project.exists():
        console.print(f"[red]error:[/red] no such project: {escape(str(project))}")
        raise typer.Exit(1)
    result = compile_project(project)
    for d in result.diagnostics:
        console.print(escape(render_diagnostic(d)), highlight=False)
    return result


def compile_or_exit(project: Path, console: Console) -> tuple[LoadedProgram, FlowGraph]:
    """Compile ``project`` (printing every diagnostic) and load it; exit 1 on errors."""
    from compiler.loader import load_project

    if project.is_file() and project.suffix == ".json" and _looks_compiled(project):
        try:
            loaded = ProgramRegistry().load_file(project)
        except RuntimeFault as e:
            console.print(f"[red]error:[/red] {escape(e.message)}")
            raise typer.Exit(1) from None
        _keep_program(loaded, console)
        return loaded, FlowGraph.from_program(loaded.program)
    result = compile_shown(project, console)
    if not result.ok or result.program is None:
        n = len([d for d in result.diagnostics if d.severity == "error"])
        console.print(f"[red]{escape(str(project))}: {n} error(s); nothing run[/red]")
        raise typer.Exit(1)
    loaded = ProgramRegistry().add(result.program)
    _keep_program(loaded, console)
    data = load_project(project).data or {}
    return loaded, FlowGraph.from_document(data)


def _keep_program(loaded: LoadedProgram, console: Console) -> None:
    """Save the compiled program in the local program store (embedded default), so that
    ``ddtflow replay`` resolves the program id recorded in the turn logs."""
    from runtime.program_store import LocalProgramStore

    store = LocalProgramStore()
    try:
        store.save_sync(loaded.program)
    except OSError as e:
        console.print(
            f"[yellow]warning:[/yellow] program not saved in {escape(store.where)} "
            f"({escape(e.strerror or str(e))}); replay will need --program"
        )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "test"


async def _run_all(loaded: LoadedProgram, tests: list[ConvTest], log_dir: Path) -> list[TestResult]:
    results = []
    for i, t in enumerate(tests):
        log = log_dir / f"{i + 1:02d}-{_slug(t.file.stem)}-{_slug(t.name)}.jsonl"
        r = await run_test(loaded, t, log)
        if r.log is not None and r.log.exists():
            problem = verify_replay(loaded, r.log)
            if problem is not None:
                r.failures.append(f"replay of the turn log diverges: {problem}")
        results.append(r)
    return results


_NARROW = 72  # below this many columns the table's list of what is not covered is unreadable


def _missed_text(missed: list[str]) -> str:
    return ", ".join(missed[:6]) + (f" … (+{len(missed) - 6})" if len(missed) > 6 else "")


class CoverageView:
    """The coverage figures as a table, or, in a terminal narrower than 72 columns, as one
    line per metric (a table there cropped every column to "ddt_…", "bir…")."""

    def __init__(self, rep: CoverageReport) -> None:
        self.rep = rep

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = []
        for name, m in self.rep.metrics().items():
            if name == "edges" and not self.rep.edges_known:
                rows.append((name, "-", "-", "n/a", "needs the project's source, not a program"))
                continue
            rows.append(
                (
                    name,
                    str(len(m.hit & m.total)),
                    str(len(m.total)),
                    f"{m.percent:.1f}",
                    _missed_text(m.missed),
                )
            )
        return rows

    def table(self) -> Table:
        table = Table(title="coverage")
        table.add_column("what", no_wrap=True)
        table.add_column("covered", justify="right", no_wrap=True)
        table.add_column("total", justify="right", no_wrap=True)
        table.add_column("%", justify="right", no_wrap=True)
        table.add_column("not covered", overflow="fold")
        for row in self._rows():
            table.add_row(*row[:4], escape(row[4]))
        return table

    def lines(self) -> list[Text]:
        out = [Text("coverage")]
        for name, hit, total, pct, missed in self._rows():
            figures = pct if pct == "n/a" else f"{hit}/{total} {pct}%"
            line = Text(f"  {name}: {figures}")
            if missed:
                line.append(f"; not covered: {missed}" if pct != "n/a" else f" ({missed})")
            out.append(line)
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.max_width >= _NARROW:
            yield self.table()
        else:
            yield from self.lines()


def coverage_table(rep: CoverageReport) -> CoverageView:
    """What ``ddtflow test --coverage`` and ``ddtflow coverage`` print."""
    return CoverageView(rep)


NO_TESTS = 5
"""``ddtflow test``'s exit code when the project has no conversation test (as pytest's)."""


def register(app: typer.Typer) -> None:
    @app.command(
        "test",
        epilog=(
            "Examples:\n"
            "ddtflow test examples/bank_card_block\n"
            "ddtflow test examples/bank_card_block --coverage --fail-under 90\n"
            "ddtflow test examples/insurance_claim --json --coverage > report.json"
        ),
    )
    def test_cmd(
        project: Annotated[Path, typer.Argument(help="project directory (tests in PROJECT/tests)")],
        coverage: Annotated[bool, typer.Option("--coverage", help="report flow coverage")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
        log_dir: Annotated[
            Path | None, typer.Option("--log-dir", help="where each test's JSONL log goes")
        ] = None,
        fail_under: Annotated[
            float | None,
            typer.Option(
                "--fail-under",
                min=0,
                max=100,
                help="exit 1 if node or edge coverage is below this % (0-100)",
            ),
        ] = None,
    ) -> None:
        """Run the conversation tests of a project (tests/*.yaml); exit 1 on any failure."""
        console = Console(stderr=as_json, highlight=False, soft_wrap=True)

        def stopped(error: str, program_id: str | None = None) -> None:
            """With --json, still one JSON document, saying why nothing ran."""
            if as_json:
                doc0: dict[str, Any] = {
                    "project": str(project),
                    "program_id": program_id,
                    "error": error,
                    "passed": 0,
                    "failed": 0,
                    "broken_files": [],
                    "tests": [],
                }
                typer.echo(orjson.dumps(doc0, option=orjson.OPT_INDENT_2).decode())

        try:
            loaded, graph = compile_or_exit(project, console)
        except typer.Exit:
            stopped("the project cannot be loaded (the errors are on stderr); nothing run")
            raise
        files = find_test_files(project)
        tests: list[ConvTest] = []
        broken: list[str] = []
        for f in files:
            try:
                tests.extend(load_tests(f))
            except TestFileError as e:
                broken.append(e.message)
        if not tests and not broken:
            # nothing would be checked: a deployment gate must not read that as a pass
            where = f"{project}/tests/*.yaml" if files else f"{project}/tests"
            console.print(
                f"[red]error:[/red] no conversation tests in {escape(where)}: nothing was "
                "checked (exit 5); see the conversation test format in README.md"
            )
            stopped(f"no conversation tests in {where}: nothing was checked", loaded.id)
            raise typer.Exit(NO_TESTS)
        logs = log_dir or Path(tempfile.gettempdir()) / "ddtflow-tests" / _slug(project.name)
        try:
            logs.mkdir(parents=True, exist_ok=True)
            if log_dir is None:  # our own directory: drop the logs of an earlier run
                for old in logs.glob("*.jsonl"):
                    old.unlink(missing_ok=True)
        except OSError as e:
            why = "a file, not a directory" if logs.is_file() else (e.strerror or str(e))
            console.print(
                f"[red]error:[/red] the turn logs cannot go in {escape(str(logs))}: {escape(why)}"
            )
            stopped(f"the turn logs cannot go in {logs}: {why}", loaded.id)
            raise typer.Exit(1) from None
        results = asyncio.run(_run_all(loaded, tests, logs))
        failed = [r for r in results if not r.ok]
        rep = (
            measure(loaded.program, graph, ((r.records, r.traces) for r in results))
            if coverage or fail_under is not None
            else None
        )
        low = fail_under is not None and rep is not None and bool(rep.below(fail_under))
        if as_json:
            doc: dict[str, Any] = {
                "project": str(project),
                "program_id": loaded.id,
                "passed": len(results) - len(failed),
                "failed": len(failed) + len(broken),
                "broken_files": broken,
                "tests": [
                    {
                        "name": r.test.name,
                        "file": str(r.test.file),
                        "line": r.test.line,
                        "ok": r.ok,
                        "failures": r.failures,
                        "log": str(r.log) if r.log else None,
                    }
                    for r in results
                ],
            }
            if rep is not None:
                doc["coverage"] = rep.as_json()
            typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        else:
            for msg in broken:
                console.print(f"[red]BROKEN[/red] {escape(msg)}")
            for r in results:
                where = f"{r.test.file}:{r.test.line}"
                if r.ok:
                    console.print(
                        f"[green]PASS[/green] {escape(r.test.name)}  [dim]{escape(where)}[/dim]"
                    )
                    continue
                console.print(f"[red]FAIL[/red] {escape(r.test.name)}  [dim]{escape(where)}[/dim]")
                for failure in r.failures:
                    for line in failure.splitlines():
                        style = (
                            "red"
                            if line.lstrip().startswith("- ")
                            else ("green" if line.lstrip().startswith("+ ") else "")
                        )
                        text = escape("    " + line)
                        console.print(f"[{style}]{text}[/{style}]" if style else text)
                console.print(f"    [dim]log: {escape(str(r.log))}[/dim]")
            if rep is not None:
                console.print(coverage_table(rep))
            console.print(f"turn logs in {escape(str(logs))}")
            console.print(
                f"{len(results) - len(failed)} passed, {len(failed) + len(broken)} failed"
            )
            if low and rep is not None and fail_under is not None:
                console.print(
                    f"[red]{' and '.join(rep.below(fail_under))} coverage below {fail_under}%[/red]"
                )
        if failed or broken or low:
            raise typer.Exit(1)
