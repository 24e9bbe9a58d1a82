"""``ddtflow test``: passing, failing and broken conversation tests, coverage, JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.convtest import load_tests

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", "test", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("name", ["bank_card_block", "insurance_claim", "medical_booking"])
def test_examples_pass_with_coverage(name: str, tmp_path: Path) -> None:
    p = run(
        str(ROOT / "examples" / name),
        "--coverage",
        "--fail-under",
        "90",
        "--log-dir",
        str(tmp_path),
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[-1].endswith(" passed, 0 failed")
    assert "nodes" in p.stdout and "ddt_levels" in p.stdout
    assert len(list(tmp_path.glob("*.jsonl"))) >= 8


def test_json_report(tmp_path: Path) -> None:
    p = run(
        str(ROOT / "examples" / "bank_card_block"),
        "--json",
        "--coverage",
        "--log-dir",
        str(tmp_path),
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["failed"] == 0 and doc["passed"] == len(doc["tests"]) >= 8
    assert doc["coverage"]["nodes"]["percent"] == 100.0
    assert set(doc["coverage"]) == {"nodes", "edges", "ddt_states", "ddt_levels"}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    dst = tmp_path / "bank"
    shutil.copytree(ROOT / "examples" / "bank_card_block", dst)
    for f in (dst / "tests").glob("*.yaml"):
        f.unlink()
    return dst


def test_failures_are_shown_as_a_diff_and_exit_1(project: Path, tmp_path: Path) -> None:
    (project / "tests" / "wrong.yaml").write_text(
        """
name: wrong expectations
language: it
at: 2026-03-02T10:00:00+01:00
turns:
  - bot: ["Buongiorno!", "/data di nascita/"]
  - user: "12 marzo 1980"
    memory: {customer.birth_date: 1980-03-13}
expect: {status: ended}
"""
    )
    p = run(str(project), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 1
    out = p.stdout
    assert "FAIL wrong expectations" in out
    assert "    - Buongiorno!" in out
    assert (
        "    + Banca Esempio, servizio blocco carte. Se ha perso la carta o gliel'hanno rubata, "
        "la blocchiamo subito."
    ) in out
    assert "memory customer.birth_date: expected '1980-03-13', got '1980-03-12'" in out
    assert "final status: expected ended, got waiting_input\n" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


@pytest.mark.parametrize(
    "text,message",
    [
        ("turns: [ {user: ciao", "not valid YAML"),
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a, noinput: true}]",
            "a turn has one input, not user, noinput",
        ),
        ("name: x\nat: 2026-03-02T10:00:00\nturns: [{usr: a}]", "unknown key(s) in turn 1: usr"),
        ("name: x\nturns: [{user: a}]", "a test needs a fixed clock 'at'"),
        ("name: x\nat: yesterday\nturns: [{user: a}]", "'at' is not an ISO date-time"),
        (
            "name: x\nat: 2026-03-02T10:00:00\nbackends: {b: {error: nope}}\nturns: [{user: a}]",
            "unknown backend error 'nope'",
        ),
        # found by the compiler QA pass: each of these was a traceback, or passed silently
        ("name: x\nat: 2026-02-30T10:00:00\nturns: [{user: a}]", "broken.yaml:2:5: invalid date"),
        ("name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a, user: b}]", "broken.yaml:3:19: key"),
        ("name: x\nname: y\nat: 2026-03-02T10:00:00\nturns: [{user: a}]", "defined twice"),
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{bot: '/[unclosed/'}]",
            "bad regular expression in 'bot' '/[unclosed/'",
        ),
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a, status: waiting}]",
            "status 'waiting' is not one of",
        ),
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a}]\nexpect: {status: endd}",
            "status 'endd' is not one of",
        ),
        (
            "name: x\nat: 2026-03-02T10:00:00\nvariables: {a: "
            + "[" * 5000
            + "]" * 5000
            + "}\nturns: [{user: a}]",
            "nested deeper than 64 levels",
        ),
        (
            "name: x\nat: 2026-03-02T10:00:00\nvariables:\n  a: &a [1,1,1,1,1,1,1,1,1,1]\n"
            + "".join(
                f"  {n}: &{n} [{','.join(['*' + p] * 10)}]\n"
                for p, n in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "turns: [{user: a}]",
            "YAML aliases expand to more than",
        ),
        # found by the designer-tools QA pass: each of these passed silently
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a}, {noinput: false}]",
            "broken.yaml:3: 'noinput: false' is not a turn; write 'noinput: true'",
        ),
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a}, {hangup: }]",
            "'hangup: null' is not a turn; write 'hangup: true'",
        ),
        # found by the operators' QA pass: a traceback (the state's digest cannot hold them)
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a}]\n"
            "backends: {verify_identity: {body: {card: {id: 123456789012345678901234567890}}}}",
            "backend 'verify_identity' /0/body/card/id: an integer outside the signed 64-bit",
        ),
        (
            "name: x\nat: 2026-03-02T10:00:00\nturns: [{user: a}]\nvariables: {n: .nan}",
            "broken.yaml:1: variables /n: NaN or Infinity (not JSON numbers)",
        ),
        ("tests: []", "broken.yaml: 'tests' is empty: the file tests nothing"),
        ("# nothing yet\n", "broken.yaml: the file is empty"),
        (
            "- name: x\n  at: 2026-03-02T10:00:00\n  turns: [{user: a}]",
            "broken.yaml:1: a list of tests goes under 'tests:'",
        ),
    ],
)
def test_broken_test_files_are_reported(
    project: Path, tmp_path: Path, text: str, message: str
) -> None:
    (project / "tests" / "broken.yaml").write_text(text)
    p = run(str(project), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 1
    assert "BROKEN" in p.stdout and message in p.stdout, p.stdout
    assert "Traceback" not in p.stdout + p.stderr


def test_a_test_file_that_is_not_utf8_is_broken(project: Path, tmp_path: Path) -> None:
    (project / "tests" / "latin1.yaml").write_bytes(
        "name: caffè\nat: 2026-03-02T10:00:00\nturns: [{user: a}]\n".encode("latin-1")
    )
    p = run(str(project), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 1
    assert "BROKEN" in p.stdout and "latin1.yaml: not UTF-8 text" in p.stdout, p.stdout
    assert "Traceback" not in p.stdout + p.stderr


def test_caller_input_is_the_text_written(project: Path, tmp_path: Path) -> None:
    """``user: yes`` is the word yes (YAML 1.1 made it the boolean, said as 'True') and
    ``user: 0123`` the digits 0 1 2 3 (YAML 1.1 read an octal number, said as '83')."""
    (project / "tests" / "plain.yaml").write_text(
        """
name: yes and a leading zero
language: en
channel: voice
at: 2026-03-02T10:00:00+01:00
variables: {caller.phone: "+447700900123"}
backends:
  verify_identity:
    body: {match: true, customer: {first_name: Ann}, card: {id: c-1, masked: "**** 0123"}}
  block_card: {body: {reference: "7001"}}
  sms: ok
turns:
  - user: 12 march 1980
  - user: 0123
    memory: {card.last4: "0123"}
  - user: yes
expect: {status: ended, reason: blocked, memory: {block_confirmed: true}}
"""
    )
    p = run(str(project), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_scalars_of_a_test_file_are_read_as_yaml_1_2(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(
        "name: x\nat: 2026-03-02T10:00:00\nvariables: {a: on, b: 0123, c: 9:30, d: 0x1F}\n"
        "turns: [{dtmf: 0123}, {user: 1.50}, {user: no}]\n"
    )
    (test,) = load_tests(f)
    assert dict(test.variables) == {"a": "on", "b": 123, "c": "9:30", "d": 31}
    assert [(t.dtmf, t.text) for t in test.turns] == [("0123", ""), (None, "1.50"), (None, "no")]


def test_project_that_does_not_compile(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text("name: x\nlanguages: [it]\nnodes: [{id: a, kind: say}]\n")
    p = run(str(tmp_path))
    assert p.returncode == 1
    assert "error(s); nothing run" in p.stdout
    assert "Traceback" not in p.stdout + p.stderr


def test_memory_expectations_on_paths_that_are_no_variable(project: Path, tmp_path: Path) -> None:
    # a typo in a memory path used to read "got None", and `x: null` on it passed silently
    (project / "tests" / "typo.yaml").write_text(
        """
name: typo
at: 2026-03-02T10:00:00+01:00
turns:
  - user: "12 marzo 1980"
    memory: {customer.birth_dat: 1980-03-12, nothere.x: null, customer.birth_date: 1980-03-12}
expect:
  memory: {card.last4: "1234"}
"""
    )
    p = run(str(project), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 1
    lines = [line.strip() for line in p.stdout.splitlines()]
    assert (
        "memory customer.birth_dat: not a variable of the project "
        "(did you mean customer.birth_date?)" in lines
    ), p.stdout
    assert "memory nothere.x: not a variable of the project" in lines
    assert "memory card.last4: expected '1234', got nothing (not set)" in lines
    assert not any(line.startswith("memory customer.birth_date:") for line in lines)


def test_coverage_of_a_compiled_program_does_not_claim_its_edges(tmp_path: Path) -> None:
    # a compiled program has no flow graph: nodes and edges used to read 0/0 = 100 %, and
    # --fail-under passed whatever the tests covered
    from compiler import compile_project

    result = compile_project(ROOT / "examples" / "bank_card_block")
    assert result.program is not None
    work = tmp_path / "build"
    shutil.copytree(ROOT / "examples" / "bank_card_block" / "tests", work / "tests")
    for f in (work / "tests").glob("*.yaml"):
        if f.name != "happy_path.yaml":
            f.unlink()
    program = work / "bank.json"
    program.write_bytes(result.program.canonical_bytes())
    p = run(str(program), "--json", "--coverage", "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 0, p.stdout + p.stderr
    cov = json.loads(p.stdout)["coverage"]
    assert cov["edges"] is None
    assert 0 < cov["nodes"]["covered"] < cov["nodes"]["total"], cov["nodes"]
    p = run(str(program), "--coverage", "--fail-under", "100", "--log-dir", str(tmp_path / "l2"))
    assert p.returncode == 1
    assert "nodes coverage below 100.0%" in p.stdout
    assert "needs the project's source" in p.stdout


def test_coverage_in_a_narrow_terminal_names_every_metric(tmp_path: Path) -> None:
    import os

    p = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "test", str(ROOT / "examples" / "bank_card_block")]
        + ["--coverage", "--log-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
        env={**os.environ, "COLUMNS": "40", "NO_COLOR": "1", "CI": "true"},
    )
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert "  nodes: 17/17 100.0%" in lines
    assert any(
        line.startswith("  ddt_states: ") and "not covered: birth_date/" in line for line in lines
    )
    assert "…" not in "".join(line for line in lines if line.startswith("  nodes"))
    assert "\x1b[" not in p.stdout


def test_a_log_dir_that_cannot_be_made_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("")
    p = run(str(ROOT / "examples" / "bank_card_block"), "--log-dir", str(blocker))
    assert p.returncode == 1
    assert (
        p.stdout.strip() == f"error: the turn logs cannot go in {blocker}: a file, not a directory"
    )
    assert "Traceback" not in p.stdout + p.stderr


def test_coverage_of_a_ddt_whose_name_holds_punctuation(tmp_path: Path) -> None:
    # prompt keys are <ddt>/<data>/<state>/<level>: a DDT "sì/no" was never counted as said;
    # a '/' in a DDT name is now refused (E329), other punctuation is read as before
    proj = tmp_path / "yn"
    (proj / "tests").mkdir(parents=True)
    (proj / "flow.yaml").write_text(
        """\
name: yn
languages: [it]
variables: {ok: {type: boolean}}
nodes:
  - {id: start, kind: start}
  - {id: ask, kind: get_data, data: {ddt: "sì?no", into: ok, on_failure: bye}}
  - {id: bye, kind: end}
edges:
  - {source: start, target: ask}
  - {source: ask, target: bye}
ddts:
  "sì?no": {type: yes_no}
""",
        encoding="utf-8",
    )
    (proj / "tests" / "t.yaml").write_text(
        "name: t\nat: 2026-03-02T10:00:00+01:00\nturns: [{user: boh}, {user: sì}]\n",
        encoding="utf-8",
    )
    p = run(str(proj), "--json", "--coverage", "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 0, p.stdout + p.stderr
    states = json.loads(p.stdout)["coverage"]["ddt_states"]
    assert states["covered"] == 3, states
    assert "sì?no/main/start" not in states["missed"]


def test_json_is_one_document_even_when_nothing_runs(tmp_path: Path) -> None:
    # --json printed nothing on stdout when the project did not compile: `> report.json`
    # gave an empty file that no JSON reader takes
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "flow.yaml").write_text(
        "name: broken\nlanguages: [it]\nnodes: [{id: a, kind: sing}]\n"
    )
    p = run(str(broken), "--json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["program_id"] is None and doc["tests"] == []
    assert doc["error"].startswith("the project cannot be loaded")
    assert "flow.yaml:3" in p.stderr


def test_a_big_file_without_aliases_is_not_blamed_on_aliases(project: Path, tmp_path: Path) -> None:
    turns = "".join("  - user: boh\n" for _ in range(34_000))  # 102,001 elements: just over
    (project / "tests" / "big.yaml").write_text(
        f"name: big\nat: 2026-03-02T10:00:00\nturns:\n{turns}"
    )
    p = run(str(project), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 1
    assert "big.yaml:4:3: the file holds more than 100,000 elements; split it" in p.stdout, p.stdout
    assert "aliases" not in p.stdout


def test_fail_under_is_a_percentage(tmp_path: Path) -> None:
    # '--fail-under 900' (for 90) ran every test, then failed on 'coverage below 900.0%'
    p = run(str(ROOT / "examples" / "bank_card_block"), "--fail-under", "900")
    assert p.returncode == 2
    assert "Invalid value for '--fail-under'" in p.stderr
    assert "PASS" not in p.stdout


@pytest.mark.parametrize("tests_dir", ["none", "empty"])
def test_a_project_without_tests_is_not_a_pass(tests_dir: str, tmp_path: Path) -> None:
    # it printed "0 passed, 0 failed" and exited 0: a deployment gate read that as a pass
    proj = tmp_path / "p"
    shutil.copytree(ROOT / "examples" / "bank_card_block", proj)
    shutil.rmtree(proj / "tests")
    if tests_dir != "none":
        (proj / "tests").mkdir()
    p = run(str(proj), "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 5, p.stdout + p.stderr
    assert "no conversation tests in" in p.stdout and "nothing was checked" in p.stdout
    assert "Traceback" not in p.stdout + p.stderr
    p = run(str(proj), "--json", "--log-dir", str(tmp_path / "logs"))
    assert p.returncode == 5
    doc = json.loads(p.stdout)
    assert doc["error"].startswith("no conversation tests in") and doc["tests"] == []
    assert doc["program_id"] is not None
