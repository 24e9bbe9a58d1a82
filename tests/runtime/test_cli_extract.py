"""``ddtflow extract``: one utterance, or a batch of JSON lines; clear errors, no tracebacks."""

from __future__ import annotations

import json
import select
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from runtime._cli_extract import register

AT = "2025-06-11T10:30:00+00:00"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # keeps "extract" a sub-command, as in the real CLI
        pass

    register(app)
    return app


def _run(app: typer.Typer, *args: str, stdin: str | None = None) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, ["extract", *args], input=stdin)
    return result.exit_code, result.stdout.splitlines(), result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["date", "il 3 marzo 1980"],
            {"value": "1980-03-03", "layer": "grammar", "confidence": 1.0},
        ),
        (
            ["date", "marzo 1980"],
            {"value": {"month": 3, "year": 1980}, "layer": "grammar", "confidence": 1.0},
        ),
        (["date", "31/02/2020"], {"invalid": "invalid_date"}),
        (["date", "boh"], {"no_match": True}),
        (
            ["date", "domani", "--at", "1999-12-31T23:00:00+00:00"],
            {"value": "2000-01-01", "layer": "grammar", "confidence": 1.0},
        ),
        (
            ["datetime", "domani alle 5"],
            {"value": "2025-06-12T05:00", "layer": "grammar", "confidence": 0.8, "uncertain": True},
        ),
        (
            ["datetime", "next friday at 3 pm", "--lang", "en"],
            {"value": "2025-06-13T15:00", "layer": "grammar", "confidence": 1.0},
        ),
        (["time", "alle 17:30"], {"value": "17:30", "layer": "pattern", "confidence": 1.0}),
        (["integer", "ventuno"], {"value": 21, "layer": "grammar", "confidence": 1.0}),
        (["number", "3,5"], {"value": 3.5, "layer": "pattern", "confidence": 1.0}),
        (
            ["money", "venti euro e cinquanta"],
            {"value": 20.5, "layer": "grammar", "confidence": 1.0},
        ),
        (
            ["yes_no", "yes please", "-l", "en"],
            {"value": True, "layer": "grammar", "confidence": 1.0},
        ),
        (["day", "il primo"], {"value": 1, "layer": "grammar", "confidence": 1.0}),
        (["month", "marzo"], {"value": 3, "layer": "grammar", "confidence": 1.0}),
        (
            ["year", "ottanta"],
            {"value": 1980, "layer": "grammar", "confidence": 0.8, "uncertain": True},
        ),
        # EXTRACT-B's types, one case each
        (
            ["phone", "tre quattro sette uno due tre quattro cinque sei sette"],
            {"value": "+393471234567"},
        ),
        (["email", "mario.rossi@example.com"], {"value": "mario.rossi@example.com"}),
        (["iban", "IT21 X030 6909 6060 0000 0123 456"], {"value": "IT21X0306909606000000123456"}),
        (["codice_fiscale", "rssmra80c03h501f"], {"value": "RSSMRA80C03H501F"}),
        (["partita_iva", "12345670017"], {"value": "12345670017"}),
        (["cap", "00184"], {"value": "00184"}),
        (["spelled", "A come Ancona, B come Bologna"], {"value": "AB"}),
        (
            ["choice", "il rosso", "--choice", "rosso", "--choice", "verde=green"],
            {"value": "rosso"},
        ),
        (["text", "vorrei spostare l'appuntamento"], {"value": "vorrei spostare l'appuntamento"}),
    ],
)
def test_one_utterance(app: typer.Typer, args: list[str], expected: dict[str, object]) -> None:
    code, out, _ = _run(app, *args, "--at", AT) if "--at" not in args else _run(app, *args)
    assert code == 0 and len(out) == 1
    got = json.loads(out[0])
    if "layer" in expected or "invalid" in expected or "no_match" in expected:
        assert got == expected
    else:  # EXTRACT-B's types: check the value only
        assert got["value"] == expected["value"]


def test_unknown_type_lists_the_types(app: typer.Typer) -> None:
    code, out, err = _run(app, "colour", "rosso")
    assert code == 1 and out == []
    assert err.startswith("error: unknown type 'colour'; types: cap, choice, codice_fiscale, ")
    assert "yes_no" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["date", "oggi", "--lang", "fr"], "error: unknown language 'fr'; languages: it, en"),
        (["date", "oggi", "--at", "ieri"], "error: bad 'at' 'ieri': expected ISO-8601"),
        (["date"], "error: usage: ddtflow extract TYPE"),
        (["date", "oggi", "--jsonl"], "error: --jsonl reads requests on stdin"),
        # a choice with nothing to choose from answered {"no_match": true}
        (["choice", "il rosso"], "error: type choice needs its choices: --choice VALUE"),
    ],
)
def test_bad_arguments(app: typer.Typer, args: list[str], message: str) -> None:
    code, out, err = _run(app, *args)
    assert code == 1 and out == [] and err.startswith(message)


def test_jsonl_batch(app: typer.Typer) -> None:
    lines = [
        {"type": "date", "lang": "it", "text": "dopodomani", "at": AT},
        {"type": "time", "lang": "en", "text": "a quarter past five pm", "at": AT},
        {"type": "money", "lang": "en", "text": "1,250.00 euros"},
        {
            "type": "choice",
            "lang": "en",
            "text": "the green one",
            "choices": {"red": [], "green": ["verde"]},
        },
    ]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    code, out, _ = _run(app, "--jsonl", stdin=stdin)
    assert code == 0
    assert [json.loads(x) for x in out] == [
        {"value": "2025-06-13", "layer": "grammar", "confidence": 1.0},
        {"value": "17:15", "layer": "grammar", "confidence": 1.0},
        {"value": 1250.0, "layer": "pattern", "confidence": 1.0},
        {"value": "green", "layer": "choice", "confidence": 1.0},
    ]


def test_jsonl_bad_lines_answer_with_errors_and_exit_1(app: typer.Typer) -> None:
    stdin = "\n".join(
        [
            "not json",
            json.dumps({"type": "bogus", "text": "x"}),
            json.dumps({"type": "date", "lang": "it"}),
            json.dumps({"type": "date", "lang": "it", "text": "oggi", "at": "yesterday"}),
            json.dumps(["date", "oggi"]),
            json.dumps({"type": "date", "lang": "it", "text": "oggi", "at": AT}),
        ]
    )
    code, out, _ = _run(app, "--jsonl", stdin=stdin)
    assert code == 1
    got = [json.loads(x) for x in out]
    assert got[0] == {"error": "line 1: not JSON: Expecting value at column 1"}
    assert got[1]["error"].startswith("line 2: unknown type 'bogus'; types: cap, ")
    assert got[2] == {"error": "line 3: 'text' must be a string"}
    assert got[3]["error"].startswith("line 4: bad 'at' 'yesterday'")
    assert got[4] == {"error": "line 5: each line must be a JSON object with type, lang, text, at"}
    assert got[5] == {"value": "2025-06-11", "layer": "grammar", "confidence": 1.0}


def test_installed_command_end_to_end() -> None:
    """The real entry point (all CLI modules registered), in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "extract", "date", "il primo maggio", "--at", AT],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "value": {"day": 1, "month": 5},
        "layer": "grammar",
        "confidence": 1.0,
    }


def test_jsonl_lines_that_are_not_utf8_or_a_choice_without_choices(app: typer.Typer) -> None:
    # a Latin-1 line was read as the text before its bad byte ("oggi \xe8" was "oggi"), and
    # a choice without choices answered no_match
    stdin = (
        b'{"type": "date", "text": "oggi \xe8", "at": "2025-06-11T10:30:00+00:00"}\n'
        b'{"type": "choice", "text": "rosso"}\n'
        b'{"type": "date", "text": "oggi", "at": "2025-06-11T10:30:00+00:00"}\n'
    )
    result = CliRunner().invoke(app, ["extract", "--jsonl"], input=stdin)
    got = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 1
    assert got == [
        {"error": "line 1: not UTF-8 text (byte 0xe8 at offset 31)"},
        {"error": "line 2: type choice needs 'choices': a list of values or an object of synonyms"},
        {"value": "2025-06-11", "layer": "grammar", "confidence": 1.0},
    ]


def test_jsonl_answers_each_line_before_the_next_is_read() -> None:
    # answers came only at the end of the input: a program feeding one request at a time
    # and waiting for its answer waited forever
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "extract", "--jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps({"type": "yes_no", "text": "certo"}) + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)  # stdin is still open
        assert ready, "no answer while the input stays open"
        line = proc.stdout.readline()
        assert json.loads(line)["value"] is True
        proc.stdin.write(json.dumps({"type": "yes_no", "lang": "en", "text": "nope"}) + "\n")
        proc.stdin.close()
        assert json.loads(proc.stdout.readline())["value"] is False
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_jsonl_with_stdin_closed_answers_nothing() -> None:
    proc = subprocess.run(
        f"exec {sys.executable} -m runtime.cli extract --jsonl <&-",
        shell=True,  # noqa: S602 - the test's own command line
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
