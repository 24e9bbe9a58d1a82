"""Conversation tests check what a voice caller hears (``ssml:``) and what the gateway is
told to listen for (``listen:``): real conversations of examples/bank_card_block through the
real driver, a passing check, a failing one with its message, a broken file per mistake."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from compiler import compile_project
from runtime.convtest import TestFileError, TestResult, load_tests, run_test
from runtime.programs import LoadedProgram, ProgramRegistry
from schemas.actions import ListenAction

ROOT = Path(__file__).resolve().parents[2]
BANK = ROOT / "examples" / "bank_card_block"

HEAD = """name: voice
language: it
channel: voice
at: 2026-03-02T10:00:00+01:00
backends:
  verify_identity:
    body: {match: true, customer: {first_name: Mario}, card: {id: c-1, masked: "**** 0427"}}
turns:
"""
WELCOME = "<speak>Banca Esempio, servizio blocco carte. <break time='250ms'/> Se ha perso"
READ_BACK = '<speak>Ho capito: il 1º marzo 1980. <break time="300ms"/> È corretto?</speak>'


@cache
def bank() -> LoadedProgram:
    result = compile_project(BANK)
    assert result.ok and result.program is not None
    return ProgramRegistry().add(result.program)


def run_yaml(tmp_path: Path, turns: str) -> TestResult:
    f = tmp_path / "t.yaml"
    f.write_text(HEAD + turns)
    (test,) = load_tests(f)
    return asyncio.run(run_test(bank(), test, tmp_path / "t.jsonl"))


def broken(tmp_path: Path, turns: str) -> str:
    f = tmp_path / "broken.yaml"
    f.write_text(HEAD + turns)
    with pytest.raises(TestFileError) as e:
        load_tests(f)
    return e.value.message


# ------------------------------------------------------------------------------ ssml


def test_ssml_is_matched_per_say_as_bot_is(tmp_path: Path) -> None:
    read_back = READ_BACK.replace("'", "''")  # in a single-quoted YAML string
    r = run_yaml(
        tmp_path,
        f"""  - ssml: ["/^{WELCOME}/", ~]      # the greeting's SSML; the date question has none
  - user: "1/3/80"
    ssml: ['{read_back}']
  - user: "sì"
    ssml: [~, ~]
  - dtmf: "0427"
    ssml: [~, "/che mi ha indicato/"]
""",
    )
    assert r.ok, r.failures


def test_a_wrong_ssml_fails_with_a_diff(tmp_path: Path) -> None:
    r = run_yaml(
        tmp_path,
        """  - user: "1/3/80"
    ssml: ["<speak>Ho capito: il 1º marzo 1980. È corretto?</speak>"]
""",
    )
    assert r.failures == [
        "turn 1 (user: '1/3/80') at line 9:\n"
        "  ssml said:\n"
        "    - <speak>Ho capito: il 1º marzo 1980. È corretto?</speak>\n"
        f"    + {READ_BACK}"
    ]


def test_a_say_without_ssml_is_named_with_its_text(tmp_path: Path) -> None:
    r = run_yaml(tmp_path, """  - ssml: ["/<speak>/", "/data di nascita/"]\n""")
    assert r.failures == [
        "turn 1 (start) at line 9:\n"
        "  ssml said:\n"
        f"      {WELCOME} la carta o gliel'hanno rubata, la blocchiamo subito.</speak>\n"
        "    - /data di nascita/\n"
        "    + (no SSML) text: Per verificare la sua identità, mi dica la sua data di nascita."
    ]


def test_null_expects_no_ssml(tmp_path: Path) -> None:
    r = run_yaml(tmp_path, """  - ssml: [~, ~]\n""")
    assert r.failures and "    - (no SSML)\n    + <speak>Banca Esempio" in r.failures[0]


def test_a_missing_say_in_ssml_fails(tmp_path: Path) -> None:
    r = run_yaml(tmp_path, """  - ssml: ["/<speak>/"]\n""")
    assert r.failures and r.failures[0].endswith(
        "    + (no SSML) text: Per verificare la sua identità, mi dica la sua data di nascita."
    )


# ------------------------------------------------------------------------------ listen


def test_listen_checks_the_keys_given(tmp_path: Path) -> None:
    r = run_yaml(
        tmp_path,
        """  - listen: {expect: date, timeout_ms: 5000, barge_in: true, confirming: false}
  - user: "1/3/80"
    listen: {expect: date, confirming: true, dtmf: {max_digits: 20}}
  - user: "sì"
    listen: {expect: spelled, timeout_ms: 8000, dtmf: {max_digits: 4, finish_key: "#"}}
  - dtmf: "0427"
    listen: {expect: yes_no, barge_in: false, hints: []}
""",
    )
    assert r.ok, r.failures


def test_barge_in_is_checked_per_say(tmp_path: Path) -> None:
    # conversation tests could pin the listen's barge_in, not one say's: the block question
    # sets none on its says (the listen's false rules), the reference read-out its own false
    turns = """  - dtmf: "12031980#"
  - dtmf: "0427"
    barge_in: [~, ~]
  - user: "sì"
    barge_in: [~, false, ~]
"""
    head = HEAD.replace("turns:\n", '  block_card: {body: {reference: "31337"}}\nturns:\n')

    def run(text: str) -> TestResult:
        f = tmp_path / "t.yaml"
        f.write_text(head + text)
        (test,) = load_tests(f)
        return asyncio.run(run_test(bank(), test, tmp_path / "t.jsonl"))

    r = run(turns)
    assert r.ok, r.failures
    r = run(turns.replace("[~, false, ~]", "[~, ~, ~]"))
    assert not r.ok
    (failure,) = r.failures
    assert "turn 3 (user: 'sì')" in failure
    assert "barge_in of each say: expected [~, ~, ~], got [~, false, ~]" in failure


def test_a_wrong_listen_fails_naming_each_field(tmp_path: Path) -> None:
    r = run_yaml(
        tmp_path,
        """  - user: "12 marzo 1980"
    listen: {expect: text, timeout_ms: 5000, confirming: true, barge_in: false, dtmf: ~}
""",
    )
    assert r.failures == [
        "turn 1 (user: '12 marzo 1980') at line 9:\n"
        "  listen expect: expected 'text', got 'spelled'\n"
        "  listen timeout_ms: expected 5000, got 8000\n"
        "  listen confirming: expected true, got false\n"
        "  listen barge_in: expected false, got true\n"
        "  listen dtmf: expected ~, got {max_digits: 4, finish_key: '#'}"
    ]


def test_listen_on_a_turn_without_a_listen_fails(tmp_path: Path) -> None:
    r = run_yaml(tmp_path, """  - user: "operatore"\n    listen: {expect: date}\n""")
    assert r.failures == [
        "turn 1 (user: 'operatore') at line 9:\n"
        "  listen: expected a listen action, the turn has none (status transferred)"
    ]


def test_every_listen_field_can_be_checked() -> None:
    from runtime.convtest import _LISTEN_FIELDS

    assert set(_LISTEN_FIELDS) == set(ListenAction.model_fields) - {"type"}


# ------------------------------------------------------------------------------ broken


@pytest.mark.parametrize(
    "turns,message",
    [
        ("  - ssml: 3\n", "broken.yaml:9: 'ssml' is an SSML text or a list of them"),
        ("  - ssml: [[a]]\n", "broken.yaml:9: 'ssml' is an SSML text or a list of them"),
        ("  - ssml: ['/[x/']\n", "broken.yaml:9: bad regular expression in 'ssml' '/[x/'"),
        ("  - listen: date\n", "broken.yaml:9: 'listen' maps fields of the listen action"),
        ("  - listen: {}\n", "broken.yaml:9: 'listen' maps fields of the listen action"),
        (
            "  - listen: {timeout: 8000}\n",
            "broken.yaml:9: unknown key(s) in listen: timeout (allowed: barge_in, confirming, "
            "dtmf, expect, hints, timeout_ms)",
        ),
        ("  - listen: {timeout_ms: 8s}\n", "listen timeout_ms is a whole number of milliseconds"),
        ("  - listen: {timeout_ms: true}\n", "listen timeout_ms is a whole number"),
        ("  - listen: {confirming: yes}\n", "broken.yaml:9: listen confirming is true or false"),
        ("  - listen: {barge_in: 0}\n", "listen barge_in is true or false, not 0"),
        ("  - listen: {expect: 3}\n", "listen expect is a data type name"),
        ("  - listen: {hints: carta}\n", "listen hints is a list of phrases"),
        ("  - listen: {dtmf: {max: 4}}\n", "listen dtmf is ~ (no keys) or {max_digits"),
        ("  - barge_in: no\n", "broken.yaml:9: 'barge_in' is true, false or ~, or a list"),
        ("  - barge_in: [true, 0]\n", "broken.yaml:9: 'barge_in' is true, false or ~, or a list"),
    ],
)
def test_mistakes_in_ssml_and_listen_are_broken_files(
    tmp_path: Path, turns: str, message: str
) -> None:
    assert message in broken(tmp_path, turns)


def test_the_cli_shows_ssml_and_listen_failures(tmp_path: Path) -> None:
    project = tmp_path / "bank"
    project.mkdir()
    for part in BANK.iterdir():
        if part.name != "tests":
            (project / part.name).symlink_to(part)
    (project / "tests").mkdir()
    (project / "tests" / "voice.yaml").write_text(
        HEAD
        + """  - user: "12 marzo 1980"
    ssml: [~, "/<speak>/"]
    listen: {timeout_ms: 5000}
"""
    )
    (project / "tests" / "broken.yaml").write_text(HEAD + "  - listen: {confirm: true}\n")
    p = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "test", str(project), "--log-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert p.returncode == 1
    assert "FAIL voice" in p.stdout
    assert "    turn 1 (user: '12 marzo 1980') at line 9:" in p.stdout
    assert "      ssml said:\n" in p.stdout
    assert "        + (no SSML) text: Ora mi dica le ultime quattro cifre" in p.stdout
    assert "      listen timeout_ms: expected 5000, got 8000" in p.stdout
    assert "BROKEN" in p.stdout and "broken.yaml:9: unknown key(s) in listen: confirm" in p.stdout
    assert "Traceback" not in p.stdout + p.stderr
