"""Masking where the values come from somewhere else than the replayed states: a recorded
turn that the replay does not reproduce, the new program's side of a what-if, an SMS text
rendered from a prompt that reads a sensitive variable, a transfer context naming a
sensitive variable. The whole output (stdout and the JSON report or export) is searched."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import orjson

from runtime.convtest import find_test_files, load_tests, run_test
from runtime.export import MASK, Masker, masker_for
from runtime.program_store import LocalProgramStore
from runtime.replay import load_jsonl, replay_session
from tests.runtime.test_cli_replay import PROJECT, cli
from tests.runtime.test_replay import compiled, rec_root, recorded

__all__ = ["rec_root"]


def _variant(tmp: Path, name: str, file: str, old: str, new: str) -> Path:
    dst = tmp / name
    shutil.copytree(PROJECT, dst)
    text = (dst / file).read_text(encoding="utf-8")
    assert old in text, f"the example changed: {old!r} not in {file}"
    (dst / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return dst


def _happy_log(rec_root: Path) -> Path:
    r = next(x for x in recorded(PROJECT, rec_root) if x.name == "card blocked (it, voice)")
    return r.log


def test_a_recorded_turn_the_replay_does_not_reproduce_shows_no_recorded_value(
    rec_root: Path, tmp_path: Path
) -> None:
    """Turn 3 (the card digits) altered: the recorded call to verify_identity carries the
    recorded digits, which the replay never computed. Failed before: the JSON report held
    ``"last4": "1234"`` (only the replayed states were learnt)."""
    lines = _happy_log(rec_root).read_bytes().splitlines(keepends=True)
    rec = orjson.loads(lines[2])
    assert rec["event"]["text"] == "uno due tre quattro"
    assert rec["state"]["memory"]["card"]["last4"] == "1234"
    rec["event"]["text"] = "cinque sei sette otto"
    p = tmp_path / "other-digits.jsonl"
    p.write_bytes(b"".join([*lines[:2], orjson.dumps(rec) + b"\n", *lines[3:]]))
    report = tmp_path / "r.json"
    code, out = cli("replay", str(p), "--program", str(PROJECT), "--json-report", str(report))
    assert code == 1
    assert "diverged at turn 3" in out
    doc = orjson.loads(report.read_bytes())
    (div,) = [s["divergence"] for s in doc["sessions"]]
    bodies = [a["body"] for a in div["recorded_actions"] if a["type"] == "call_backend"]
    assert bodies and bodies[0]["last4"] == MASK
    for secret in ("1234", "5678"):
        assert secret not in report.read_text() and secret not in out
    # the maskers of the API and of the exports learn the recorded states as well
    lp = compiled(PROJECT)
    res = replay_session(lp, load_jsonl(p)[0])
    assert res.divergence is not None
    masker = masker_for(res, lp.program)
    assert "1234" not in orjson.dumps(masker.deep(list(res.divergence.recorded_actions))).decode()


def test_what_if_masks_what_only_the_new_program_holds(rec_root: Path, tmp_path: Path) -> None:
    """The new program computes another value for a sensitive variable (never in the
    recording) and sends it to a backend. Failed before: the report held ``1235``."""
    new = _variant(
        tmp_path,
        "bumped",
        "flow.yaml",
        "  - id: verify\n",
        "  - {id: bump, kind: set, data: {assign: {card.last4: 'str(int(card.last4) + 1)'}}}\n"
        "  - id: verify\n",
    )
    flow = new / "flow.yaml"
    text = flow.read_text(encoding="utf-8")
    edge = "  - {source: ask_last4, target: verify}\n"
    assert edge in text
    flow.write_text(
        text.replace(
            edge, "  - {source: ask_last4, target: bump}\n  - {source: bump, target: verify}\n"
        ),
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    code, out = cli(
        "replay", str(_happy_log(rec_root)), "--program", str(new), "--json-report", str(report)
    )
    assert code == 1, out
    doc = orjson.loads(report.read_bytes())
    (s,) = doc["sessions"]
    assert s["label"] == "diverged at turn 3"
    (call,) = [a for a in s["new_actions"] if a["type"] == "call_backend"]
    assert call["body"]["last4"] == MASK
    assert "1235" not in report.read_text() and "1235" not in out


def _record_variant(project: Path, tmp: Path) -> Path:
    lp = compiled(project)
    (test,) = [
        t
        for f in find_test_files(project)
        for t in load_tests(f)
        if t.name == "card blocked (it, voice)"
    ]
    log = tmp / "variant.jsonl"
    res = asyncio.run(run_test(lp, test, log))
    assert res.ok, res.failures
    return log


def test_an_sms_that_reads_a_sensitive_variable_is_masked(rec_root: Path, tmp_path: Path) -> None:
    """The SMS prompt reads the date of birth (spoken as "12 marzo 1980", a form never held
    in memory). Rule 3 masks such a prompt in a ``say``; SMS and e-mail actions carry no
    prompt key and were shown in clear in the timeline and the JSON export before."""
    project = _variant(
        tmp_path,
        "sms-dob",
        "prompts.it.yaml",
        "Per una nuova carta chiami il numero verde.",
        "Titolare nato il {{ customer.birth_date | date('long') }}.",
    )
    log = _record_variant(project, tmp_path)
    assert "12 marzo 1980" in log.read_text(encoding="utf-8")
    code, out = cli("replay", str(log), "--program", str(project))
    assert code == 0, out
    assert 'send_sms {"to":"+39333***567","text":"***"}' in out
    code, exported = cli("export", str(log), "--program", str(project), "-f", "json")
    assert code == 0, exported
    for text in (out, exported):
        assert "marzo 1980" not in text and "1980" not in text
    # an SMS whose prompt reads nothing sensitive stays readable (the example as it is)
    code, out = cli("replay", str(_happy_log(rec_root)), "--program", str(PROJECT))
    assert code == 0, out
    assert '"text":"Banca Esempio: la carta **** *** è stata bloccata.' in out


def test_a_transfer_context_naming_a_sensitive_variable_is_masked_whatever_its_value() -> None:
    """A short value (under the 3 characters the backstop learns) named by the context."""
    masker = Masker(compiled(PROJECT).program)
    action = {
        "type": "transfer",
        "target": "card_services",
        "reason": "flow",
        "context": {"card.last4": "12", "customer.name": "Mario", "card": {"last4": "77"}},
    }
    assert masker.deep(action)["context"] == {
        "card.last4": MASK,
        "customer.name": "Mario",
        "card": MASK,
    }


def test_what_if_without_the_recorded_program_hides_every_value_it_held(
    rec_root: Path, tmp_path: Path
) -> None:
    """The new program no longer marks the date of birth sensitive (and asks for it
    differently), and the recorded program is in no store: its rules are unknown. Failed
    before: the diff showed ``memory.customer.birth_date: - "1980-03-12"`` and so did the
    report (the new program's rules alone decided)."""
    new = _variant(tmp_path, "not-sensitive", "ddts.yaml", "sensitive: true", "sensitive: false")
    for file, old, repl in (
        ("ddts.yaml", "sensitive: true", "sensitive: false"),
        ("ddts.yaml", 'rule: "age(value) >= 14"', 'rule: "age(value) >= 50"'),
        (
            "flow.yaml",
            "customer.birth_date: {type: date, sensitive: true}",
            "customer.birth_date: {type: date}",
        ),
        ("flow.yaml", "card.last4: {type: string, sensitive: true}", "card.last4: {type: string}"),
    ):
        text = (new / file).read_text(encoding="utf-8")
        assert old in text, old
        (new / file).write_text(text.replace(old, repl), encoding="utf-8")
    logs = [str(r.log) for r in recorded(PROJECT, rec_root)]
    report = tmp_path / "r.json"
    none = str(tmp_path / "no-programs")
    args = ["replay", *logs, "--program", str(new), "--json-report", str(report)]
    code, out = cli(*args, "--programs-dir", none)
    assert code == 1, out
    assert "diverged at turn 2" in out
    for secret in ("1980", "marzo", "1234"):
        assert secret not in out and secret not in report.read_text(), secret
    assert 'memory.customer.birth_date: - "***" + null' in out
    assert out.count("is in no program store: every value its sessions held is shown as ***") == 1
    # with the recorded program, its rules hide what it held, and no more
    store = tmp_path / "programs"
    LocalProgramStore(store).save_sync(compiled(PROJECT).program)
    code, out = cli(*args, "--programs-dir", str(store))
    assert code == 1 and "no program store" not in out
    assert 'memory.customer.birth_date: - "***" + null' in out
    assert 'ddt.ddt: - "card_digits" + "birth_date"' in out
    assert "1980" not in out and "1980" not in report.read_text()
