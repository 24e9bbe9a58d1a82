"""``ddtflow chat`` through a pipe (stdin not a tty), as a script would use it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

from runtime.sinks.jsonl import read_turns

ROOT = Path(__file__).resolve().parents[2]
BANK = ROOT / "examples" / "bank_card_block"


def chat(*args: str, stdin: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_chat_through_a_pipe(tmp_path: Path) -> None:
    log = tmp_path / "chat.jsonl"
    p = chat(
        str(BANK),
        "--at",
        "2026-03-02T10:00:00+01:00",
        "--backend-stub",
        str(BANK / "tests" / "stubs" / "offline.yaml"),
        "--log",
        str(log),
        "--var",
        "caller.phone=+393331234567",
        stdin="ciao\n/noinput\n/dtmf 12031980#\n/state\n1 2 3 4\nsì\nancora?\n/quit\n",
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "Traceback" not in out + p.stderr
    lines = out.splitlines()
    assert "bot> Per verificare la sua identità, mi dica la sua data di nascita." in lines
    assert "you> ciao" in lines
    assert "bot> Scusi, non ho capito. Mi dice la sua data di nascita?" in lines
    assert (
        "bot> Grazie Mario. Vuole bloccare la carta **** 1234? Il blocco non si può annullare."
        in lines
    )
    assert "bot> La carta **** 1234 è bloccata. Il numero di pratica è 8 0 5 2 2 1." in lines
    assert "-- call ended (blocked)" in lines
    assert '"customer": {' in out or '"birth_date": "1980-03-12"' in out  # /state printed memory
    assert "the conversation is over: /restart or /quit" in lines
    assert lines[-1] == f"turn log: {log}"
    records = list(read_turns(log))
    assert records[0].event.type == "start"
    assert records[-1].state is not None and records[-1].state.status == "ended"
    assert [r.seq for r in records] == list(range(1, len(records) + 1))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_chat_voice_restart_and_unreachable_backend(tmp_path: Path) -> None:
    # the project's backends point at a closed port on loopback: the identity check cannot
    # connect, and the flow takes its error route
    proj = tmp_path / "bank"
    shutil.copytree(BANK, proj, ignore=shutil.ignore_patterns("tests"))
    flow = (proj / "flow.yaml").read_text()
    flow = flow.replace("https://cards.banca-esempio.example", f"http://127.0.0.1:{_closed_port()}")
    (proj / "flow.yaml").write_text(flow)
    p = chat(
        str(proj),
        "--lang",
        "en",
        "--voice",
        "--log",
        str(tmp_path / "v.jsonl"),
        stdin="12 March 1980\n1234\n/restart\n/bogus\n/dtmf 12x\n",
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "bot> The card system is not answering right now." in lines
    assert "bot> I'm putting you through to a card services operator, please hold." in lines
    assert any(line.strip().startswith("<speak>") for line in lines)  # SSML shown for voice
    assert sum(1 for line in lines if line.startswith("bot> Banca Esempio")) == 2  # restarted
    assert any(line.startswith("unknown command /bogus") for line in lines)
    assert "/dtmf takes keypad keys: 0-9, * and #" in lines


def test_chat_bad_inputs_exit_1_without_traceback(tmp_path: Path) -> None:
    missing = chat(str(tmp_path / "nope"), stdin="")
    assert missing.returncode == 1
    assert "no such project" in missing.stdout
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "flow.yaml").write_text(
        "name: broken\nlanguages: [it]\nnodes:\n  - {id: a, kind: sing}\n"
    )
    p = chat(str(broken), stdin="")
    assert p.returncode == 1
    assert "error" in p.stdout and "flow.yaml:4" in p.stdout
    lang = chat(str(BANK), "--lang", "fr", stdin="")
    assert (lang.returncode, lang.stdout.strip()) == (1, "error: the project speaks it, en, not fr")
    stub = tmp_path / "stub.yaml"
    stub.write_text("backends:\n  verify_identity: {error: exploded}\n")
    bad_stub = chat(str(BANK), "--backend-stub", str(stub), stdin="")
    assert bad_stub.returncode == 1
    assert "backend 'verify_identity': unknown backend error 'exploded'" in bad_stub.stdout
    for run in (missing, p, lang, bad_stub):
        assert "Traceback" not in run.stdout + run.stderr


def test_chat_on_a_compiled_program(tmp_path: Path) -> None:
    from compiler import compile_project

    result = compile_project(BANK)
    assert result.program is not None
    compiled = tmp_path / "bank.json"
    compiled.write_bytes(result.program.canonical_bytes())
    p = chat(
        str(compiled),
        "--at",
        "2026-03-02T10:00:00+01:00",
        "--log",
        str(tmp_path / "l.jsonl"),
        stdin="12 marzo 1980\n",
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert (
        "bot> Ora mi dica le ultime quattro cifre della carta da bloccare." in p.stdout.splitlines()
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"tasks": 3}')
    p = chat(str(bad), stdin="")
    assert p.returncode == 1
    assert p.stdout.startswith(f"error: {bad} is not a compiled ddtflow program")


def _chat_bytes(*args: str, stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", "chat", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_a_line_that_is_not_utf8_is_refused_and_the_next_ones_go_on(tmp_path: Path) -> None:
    # a script saved in Latin-1 ("sì" is b"s\xec"): said so, not sent, no traceback
    log = tmp_path / "c.jsonl"
    p = _chat_bytes(
        str(BANK),
        "--log",
        str(log),
        "--at",
        "2026-03-02T10:00:00+01:00",
        stdin=b"s\xec, certo\n12 marzo 1980\n",
    )
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, out + err
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert "this line is not UTF-8 text (byte 0xec); not sent" in lines
    assert "bot> Ora mi dica le ultime quattro cifre della carta da bloccare." in lines
    assert lines[-1] == f"turn log: {log}"
    texts = [r.event.text for r in read_turns(log) if r.event.type == "user_input"]
    assert texts == ["12 marzo 1980"]


def test_chat_with_stdin_closed_ends_like_end_of_input(tmp_path: Path) -> None:
    log = tmp_path / "c.jsonl"
    p = subprocess.run(
        f'exec {sys.executable} -m runtime.cli chat "{BANK}" --log "{log}" <&-',
        shell=True,  # noqa: S602 - the test's own command line
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert p.stdout.splitlines()[-1] == f"turn log: {log}"


def test_commands_with_arguments_they_do_not_take(tmp_path: Path) -> None:
    p = chat(
        str(BANK),
        "--log",
        str(tmp_path / "c.jsonl"),
        stdin="/help\n/state now\n/quit please\n/hangup\n",
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert any(line.startswith("commands:") and "/hangup" in line for line in lines)
    assert any(line.startswith("/state takes no arguments") for line in lines)
    assert any(line.startswith("/quit takes no arguments") for line in lines)
    assert not any(line.startswith("unknown command") for line in lines)
    assert "-- call ended (hangup)" in lines  # "/quit please" did not quit


def test_ctrl_c_at_the_prompt_leaves_at_once(tmp_path: Path) -> None:
    import os
    import pty
    import select
    import signal
    import time

    log = tmp_path / "c.jsonl"
    pid, fd = pty.fork()
    if pid == 0:  # the child: chat on a terminal
        os.chdir(ROOT)
        os.execv(
            sys.executable,
            [sys.executable, "-m", "runtime.cli", "chat", str(BANK), "--log", str(log)],
        )
    out = b""

    def read_until(marker: bytes, seconds: float) -> bool:
        nonlocal out
        end = time.monotonic() + seconds
        while marker not in out and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return marker in out

    try:
        assert read_until(b"you> ", 60), out
        os.write(fd, b"\x03")  # Ctrl-C
        assert read_until(b"turn log:", 20), out
        end = time.monotonic() + 20
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            read_until(b"\0", 0.2)
        else:
            raise AssertionError(f"chat still running after Ctrl-C: {out!r}")
        assert b"Traceback" not in out
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


def test_a_second_chat_on_the_same_log_keeps_its_turns(tmp_path: Path) -> None:
    # both runs were session "chat-1": the log, which keeps each (session, seq) once, dropped
    # every record of the second conversation without a word
    log = tmp_path / "same.jsonl"
    for said in ("12 marzo 1980", "ciao\n/restart"):
        p = chat(str(BANK), "--log", str(log), stdin=said + "\n")
        assert p.returncode == 0, p.stdout + p.stderr
    records = list(read_turns(log))
    got = [(r.session_id, r.seq, r.event.type) for r in records]
    assert got == [
        ("chat-1", 1, "start"),
        ("chat-1", 2, "user_input"),
        ("chat-2", 1, "start"),
        ("chat-2", 2, "user_input"),
        ("chat-3", 1, "start"),
    ]
    assert [r.event.text for r in records if r.event.type == "user_input"] == [
        "12 marzo 1980",
        "ciao",
    ]
