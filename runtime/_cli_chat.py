"""``ddtflow chat PROJECT``: talk to a flow in the terminal (or through a pipe).

The embedded default: an in-memory session store and a JSONL turn log, no servers.
Backend calls go out for real (an unreachable backend takes its error route) unless
``--backend-stub FILE.yaml`` gives canned responses, declared like in conversation tests.
E-mail goes to ``DDTFLOW_SMTP_HOST``/``DDTFLOW_SMTP_PORT`` and SMS to the JSON gateway at
``DDTFLOW_SMS_URL`` when set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml
from rich.console import Console
from rich.markup import escape

from runtime._cli_test import compile_or_exit
from runtime.convtest import TestFileError, _backends
from runtime.driver import SessionDriver, TurnResponse
from runtime.effects import Effects, StubEffects
from runtime.orchestrator import InvalidEventError
from runtime.ports import RuntimeFault
from runtime.programs import LoadedProgram
from runtime.sinks.jsonl import JsonlSink
from runtime.stores.memory import MemoryStore
from schemas.actions import EndAction, SayAction, TransferAction
from schemas.events import Event, HangupEvent, NoInputEvent, UserInputEvent

HELP = (
    "commands: /noinput (caller silent), /dtmf 123# (keypad), /hangup, /state (memory and "
    "DDT state), /restart, /help, /quit"
)
_NO_ARGUMENTS = ("/quit", "/exit", "/help", "/restart", "/state", "/noinput", "/hangup")


class _Single:
    def __init__(self, loaded: LoadedProgram) -> None:
        self.loaded = loaded

    def get(self, name_or_id: str) -> LoadedProgram:
        return self.loaded


def _effects(stub: Path | None) -> Effects:
    if stub is not None:
        try:
            data = yaml.safe_load(stub.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise TestFileError(f"{stub}: cannot read the backend stubs: {e}") from None
        if isinstance(data, dict) and "backends" in data:
            data = data["backends"]
        return StubEffects(_backends(data, str(stub)))
    from runtime.settings import get_settings
    from runtime.wiring import build_effects

    return build_effects(get_settings())


def _parse_vars(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"--var takes NAME=VALUE, not {item!r}")
        try:
            out[name] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[name] = value
    return out


class Chat:
    def __init__(
        self,
        console: Console,
        loaded: LoadedProgram,
        driver: SessionDriver,
        *,
        language: str | None,
        voice: bool,
        variables: dict[str, Any],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.console = console
        self.loaded = loaded
        self.driver = driver
        self.language = language
        self.voice = voice
        self.variables = variables
        self.clock = clock
        self.resp: TurnResponse | None = None
        self.sessions = 0
        self.used: set[str] = set()  # session ids already in the log (see _used_session_ids)

    def show(self, resp: TurnResponse) -> None:
        for a in resp.actions:
            if isinstance(a, SayAction):
                self.console.print(f"[bold cyan]bot>[/bold cyan] {escape(a.text)}")
                if self.voice and a.ssml:
                    self.console.print(f"     [dim]{escape(a.ssml)}[/dim]")
            elif isinstance(a, TransferAction):
                ctx = orjson.dumps(a.context).decode()
                self.console.print(
                    f"[yellow]-- transferred to {escape(a.target)} ({escape(a.reason)}); "
                    f"context {escape(ctx)}[/yellow]"
                )
            elif isinstance(a, EndAction):
                self.console.print(f"[yellow]-- call ended ({escape(a.reason)})[/yellow]")
        if resp.status == "failed":
            self.console.print(f"[red]-- session failed: {escape(resp.reason or '')}[/red]")
        if resp.status in ("ended", "transferred", "failed"):
            self.console.print("[dim]/restart for a new conversation, /quit to leave[/dim]")

    async def start(self) -> None:
        self.sessions += 1
        while f"chat-{self.sessions}" in self.used:
            self.sessions += 1
        self.resp = await self.driver.start(
            "default",
            self.loaded,
            language=self.language,
            channel="voice" if self.voice else "chat",
            variables=self.variables,
            session_id=f"chat-{self.sessions}",
        )
        self.show(self.resp)

    async def send(self, event: Event) -> None:
        assert self.resp is not None
        if self.resp.status in ("ended", "transferred", "failed"):
            self.console.print("[dim]the conversation is over: /restart or /quit[/dim]")
            return
        self.resp = await self.driver.turn(
            "default", self.resp.session_id, event, expected_seq=self.resp.seq
        )
        self.show(self.resp)

    async def state(self) -> None:
        assert self.resp is not None
        s = await self.driver.state("default", self.resp.session_id)
        doc = {
            "status": s.status,
            "awaiting": s.awaiting,
            "seq": s.seq,
            "pc": s.pc,
            "memory": s.memory,
            "ddt": s.ddt.model_dump(mode="json") if s.ddt else None,
        }
        self.console.print_json(orjson.dumps(doc).decode())

    async def handle(self, line: str) -> bool:
        """One line of input; False to quit."""
        text = line.strip()
        command, _, argument = text.partition(" ")
        if command in _NO_ARGUMENTS and argument.strip():
            self.console.print(f"[red]{command} takes no arguments[/red]; {HELP}")
            return True
        if text in ("/quit", "/exit"):
            return False
        if text == "/help":
            self.console.print(HELP)
        elif text == "/restart":
            await self.start()
        elif text == "/state":
            await self.state()
        elif text == "/noinput":
            await self.send(NoInputEvent(at=self.clock()))
        elif text.startswith("/dtmf"):
            digits = text[5:].strip()
            if not re.fullmatch(r"[0-9*#]+", digits):
                self.console.print("[red]/dtmf takes keypad keys: 0-9, * and #[/red]")
            else:
                await self.send(UserInputEvent(at=self.clock(), dtmf=digits))
        elif text == "/hangup":
            await self.send(HangupEvent(at=self.clock()))
        elif text.startswith("/"):
            self.console.print(f"[red]unknown command {escape(text)}[/red]; {HELP}")
        else:
            await self.send(UserInputEvent(at=self.clock(), text=text))
        return True


def _read_line(prompt: str) -> str | None:
    """The next line of input, None at its end (Ctrl-D, end of the pipe, no stdin at all).

    Read in the main thread, outside the event loop, so that Ctrl-C interrupts it at once.
    Bytes that are not UTF-8 come back as lone surrogates (``surrogateescape``)."""
    if sys.stdin is None:  # started with stdin closed (``<&-``)
        return None
    try:
        return input(prompt)
    except EOFError:
        return None


def _not_utf8(line: str) -> str | None:
    """The first byte of ``line`` that was not UTF-8 (as ``0xff``), None when it all was."""
    for ch in line:
        if "\udc80" <= ch <= "\udcff":
            return f"0x{ord(ch) - 0xDC00:02x}"
    return None


def _used_session_ids(log: Path) -> set[str]:
    """The session ids a turn log holds already. A chat appending to the log of an earlier
    one must not reuse its "chat-1": the log keeps each (session, seq) once, so the new
    conversation's records were dropped as already written."""
    used: set[str] = set()
    try:
        with log.open("rb") as f:
            for line in f:
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(doc, dict) and isinstance(doc.get("session_id"), str):
                    used.add(doc["session_id"])
    except OSError:
        pass  # no log yet, or one that cannot be read: the sink will say so
    return used


def _chat(
    console: Console,
    loaded: LoadedProgram,
    *,
    language: str | None,
    voice: bool,
    log: Path,
    clock: Callable[[], dt.datetime],
    effects: Effects,
    variables: dict[str, Any],
) -> None:
    driver = SessionDriver(MemoryStore(), JsonlSink(log), _Single(loaded), effects, clock=clock)
    chat = Chat(
        console, loaded, driver, language=language, voice=voice, variables=variables, clock=clock
    )
    chat.used = _used_session_ids(log)
    stdin = sys.stdin
    tty = stdin is not None and stdin.isatty()
    if isinstance(stdin, io.TextIOWrapper):
        stdin.reconfigure(errors="surrogateescape")  # a bad byte is reported, not a traceback
    with asyncio.Runner() as runner:
        try:
            runner.run(chat.start())
            while True:
                line = _read_line("you> " if tty else "")
                if line is None:
                    break
                bad = _not_utf8(line)
                if bad is not None:
                    shown = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                    if not tty:
                        console.print(f"[bold green]you>[/bold green] {escape(shown)}")
                    console.print(f"[red]this line is not UTF-8 text (byte {bad}); not sent[/red]")
                    continue
                if not tty:
                    console.print(f"[bold green]you>[/bold green] {escape(line)}")
                try:
                    if not runner.run(chat.handle(line)):
                        break
                except InvalidEventError as e:
                    console.print(f"[red]{escape(e.message)}[/red]")
                except RuntimeFault as e:
                    console.print(f"[red]error: {escape(e.message)}[/red]")
        finally:
            runner.run(driver.aclose())


def register(app: typer.Typer) -> None:
    @app.command(
        "chat",
        epilog=(
            "Examples:\n"
            "ddtflow chat examples/medical_booking --backend-stub "
            "examples/medical_booking/tests/stubs/offline.yaml\n"
            "ddtflow chat examples/bank_card_block --lang en --voice "
            "--var caller.phone=+447700900123\n"
            "printf '12 marzo 1980\\n/noinput\\n' | ddtflow chat examples/bank_card_block "
            "--at 2026-03-02T10:00:00+01:00\n\n"
            "At the prompt: /noinput, /dtmf 123#, /hangup, /state, /restart, /help, /quit."
        ),
    )
    def chat_cmd(
        project: Annotated[
            Path, typer.Argument(help="project directory, YAML file or compiled .json")
        ],
        lang: Annotated[str | None, typer.Option("--lang", help="it or en")] = None,
        voice: Annotated[
            bool, typer.Option("--voice", help="voice channel (SSML prompts)")
        ] = False,
        log: Annotated[Path | None, typer.Option("--log", help="the JSONL turn log")] = None,
        at: Annotated[str | None, typer.Option("--at", help="a fixed clock, ISO date-time")] = None,
        backend_stub: Annotated[
            Path | None,
            typer.Option("--backend-stub", help="YAML of canned backend responses"),
        ] = None,
        var: Annotated[
            list[str] | None, typer.Option("--var", help="start variable NAME=VALUE (JSON or text)")
        ] = None,
    ) -> None:
        """Talk to a flow: the bot's prompts, your answers; /help lists the commands."""
        console = Console(highlight=False, soft_wrap=True)
        loaded, _ = compile_or_exit(project, console)
        if lang is not None and lang not in loaded.program.languages:
            langs = ", ".join(loaded.program.languages)
            console.print(f"[red]error:[/red] the project speaks {langs}, not {escape(lang)}")
            raise typer.Exit(1)
        clock: Callable[[], dt.datetime]
        if at is not None:
            try:
                fixed = dt.datetime.fromisoformat(at)
            except ValueError:
                console.print(f"[red]error:[/red] --at is not an ISO date-time: {escape(at)}")
                raise typer.Exit(1) from None
            fixed = fixed if fixed.tzinfo else fixed.replace(tzinfo=dt.UTC)
            clock = lambda: fixed  # noqa: E731
        else:
            clock = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
        try:
            effects = _effects(backend_stub)
        except TestFileError as e:
            console.print(f"[red]error:[/red] {escape(e.message)}")
            raise typer.Exit(1) from None
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        log_path = log or Path(tempfile.gettempdir()) / "ddtflow-chat" / (
            f"{loaded.program.project}-{stamp}.jsonl"
        )
        console.print(
            f"[dim]{escape(loaded.program.project)} ({escape(loaded.id[:19])}…); {HELP}[/dim]"
        )
        try:
            _chat(
                console,
                loaded,
                language=lang,
                voice=voice,
                log=log_path,
                clock=clock,
                effects=effects,
                variables=_parse_vars(var or []),
            )
        except KeyboardInterrupt:
            console.print()  # Ctrl-C: leave at once, after the "you> " prompt
        except RuntimeFault as e:
            console.print(f"[red]error: {escape(e.message)}[/red]")
            if log_path.exists():
                console.print(f"turn log: {escape(str(log_path))}")
            raise typer.Exit(1) from None
        console.print(f"turn log: {escape(str(log_path))}")
