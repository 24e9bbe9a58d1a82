"""``ddtflow replay``, ``coverage`` and ``export`` on the command line: from JSONL logs and
from MongoDB (the real MongoDB-wire server), the program store, what-if batches with a JSON
report and exit codes, --save-test round trips through ``ddtflow test``, clear errors."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from runtime.cli import _register, app
from runtime.convtest import load_tests, run_test
from runtime.mongo import MongoArchive
from runtime.program_store import LocalProgramStore
from tests.runtime._mongo_helpers import drop_mongo_db
from tests.runtime.test_replay import EXAMPLES, EXAMPLES_DIR, compiled, rec_root, recorded
from tests.runtime.test_whatif import changed_project

__all__ = ["rec_root"]

PROJECT = EXAMPLES_DIR / "bank_card_block"
_register()


def cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def cli_streams(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr apart (``cli`` gives both streams interleaved)."""
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_replay_a_jsonl_log_prints_a_timeline_and_exits_0(rec_root: Path) -> None:
    r = next(x for x in recorded(PROJECT, rec_root) if x.name == "card blocked (it, voice)")
    code, out = cli("replay", str(r.log), "--program", str(PROJECT))
    assert code == 0, out
    assert "turn 2 " in out and "user: '***'" in out
    assert "say 'Ora mi dica le ultime quattro cifre della carta da bloccare.'" in out
    assert 'memory customer.birth_date = "***"' in out
    assert "ddt card_digits/main start" in out
    assert out.rstrip().endswith("identical (7 turns replayed)")
    assert "1980" not in out


def test_at_prints_the_state_after_turn_n(rec_root: Path) -> None:
    r = recorded(PROJECT, rec_root)[0]
    code, out = cli("replay", str(r.log), "--program", str(PROJECT), "--at", "3")
    assert code == 0, out
    assert "state after turn 3:" in out
    assert '"seq": 3' in out
    code, out = cli("replay", str(r.log), "--program", str(PROJECT), "--at", "99")
    assert code == 1 and "no turn 99 replayed" in out


def test_program_store_resolves_the_recorded_program(rec_root: Path, tmp_path: Path) -> None:
    r = recorded(PROJECT, rec_root)[0]
    store = tmp_path / "programs"
    code, out = cli("replay", str(r.log), "--programs-dir", str(store))
    assert code == 1
    lp = compiled(PROJECT)
    assert f"program {lp.id}, which is not in the program store ({store})" in out
    assert "Traceback" not in out
    LocalProgramStore(store).save_sync(lp.program)
    assert (store / (lp.id.replace(":", "-") + ".json")).exists()
    code, out = cli("replay", str(r.log), "--programs-dir", str(store))
    assert code == 0, out


def test_a_diverging_log_exits_1_naming_the_turn_with_a_diff(
    rec_root: Path, tmp_path: Path
) -> None:
    r = next(x for x in recorded(PROJECT, rec_root) if x.name == "card blocked (it, voice)")
    lines = r.log.read_bytes().splitlines(keepends=True)
    rec = orjson.loads(lines[4])
    assert rec["event"]["type"] == "user_input"
    rec["event"]["text"] = "no"
    p = tmp_path / "changed.jsonl"
    p.write_bytes(b"".join([*lines[:4], orjson.dumps(rec) + b"\n", *lines[5:]]))
    code, out = cli("replay", str(p), "--program", str(PROJECT), "--no-timeline")
    assert code == 1
    assert "diverged at turn 5 (user_input): turn 5 (user_input): the state differs" in out
    assert "actions (- recorded, + replayed):" in out
    assert "- call_backend block_card" in out
    assert "state memory.block_confirmed: - true + false" in out


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        ("hole", "turn 3 is missing (turn 2 is followed by turn 4)"),
        ("junk", ":3: not JSON: "),
        ("cut", ":4: truncated line"),
        ("digest", "diverged at turn 2"),
    ],
)
def test_corrupted_logs_give_a_clear_error_never_a_traceback(
    mutate: str, expected: str, rec_root: Path, tmp_path: Path
) -> None:
    r = recorded(PROJECT, rec_root)[0]
    lines = r.log.read_bytes().splitlines(keepends=True)
    if mutate == "hole":
        lines = lines[:2] + lines[3:]
    elif mutate == "junk":
        lines.insert(2, b"{oops\n")
    elif mutate == "cut":
        lines = [*lines[:3], lines[3][:25]]
    else:
        d = orjson.loads(lines[1])
        d["state_digest"] = "f" * 64
        lines[1] = orjson.dumps(d) + b"\n"
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b"".join(lines))
    code, out = cli("replay", str(p), "--program", str(PROJECT))
    assert code == 1
    assert expected in out
    assert "Traceback" not in out


def test_not_a_file_and_no_mongo_is_a_clear_error() -> None:
    code, out = cli("replay", "some-session-id")
    assert code == 1
    assert "to read session 'some-session-id' from MongoDB give --mongo URL" in out


def test_what_if_batch_reports_and_gates(rec_root: Path, tmp_path: Path) -> None:
    logs = [str(r.log) for r in recorded(PROJECT, rec_root)]
    report = tmp_path / "report.json"
    code, out = cli("replay", *logs, "--program", str(PROJECT), "--json-report", str(report))
    assert code == 0, out
    assert "10 identical, 0 diverged" in out
    new = changed_project(tmp_path, "edge condition")
    code, out = cli("replay", *logs, "--program", str(new), "--json-report", str(report))
    assert code == 1, out
    assert "8 same, 2 diverged, 0 cannot continue" in out
    doc = orjson.loads(report.read_bytes())
    assert doc["summary"] == {"same": 8, "diverged": 2, "cannot_continue": 0, "unreadable": 0}
    changed = {s["session_id"]: s["label"] for s in doc["sessions"] if s["verdict"] != "same"}
    assert set(changed.values()) == {"diverged at turn 4"}
    assert "1980" not in report.read_text() and "1980" not in out


def test_a_batch_goes_on_past_a_session_it_cannot_replay(rec_root: Path, tmp_path: Path) -> None:
    """One session with a hole in its log (or whose program is in no store) no longer stops
    a batch: the others are replayed and reported, the broken one is named, and the exit
    status is still 1 — a deployment gate does not pass over a session it could not read."""
    recs = recorded(PROJECT, rec_root)
    lines = recs[0].log.read_bytes().splitlines(keepends=True)
    hole = tmp_path / "hole.jsonl"
    hole.write_bytes(b"".join(lines[:2] + lines[3:]))
    sid = orjson.loads(lines[0])["session_id"]
    logs = [str(hole), *(str(r.log) for r in recs[1:])]
    report = tmp_path / "report.json"
    code, out = cli("replay", *logs, "--program", str(PROJECT), "--json-report", str(report))
    assert code == 1, out
    assert f"cannot replay: {hole}: session '{sid}': turn 3 is missing" in out
    assert "9 identical, 0 diverged, 1 could not be replayed" in out
    doc = orjson.loads(report.read_bytes())
    assert [s["session_id"] for s in doc["sessions"] if not s["identical"]] == [sid]
    assert sum(s["identical"] for s in doc["sessions"]) == 9
    # a what-if against another program: the same session is left out, the rest compared
    new = changed_project(tmp_path, "edge condition")
    code, out = cli("replay", *logs, "--program", str(new), "--json-report", str(report))
    assert code == 1, out
    doc = orjson.loads(report.read_bytes())
    assert doc["summary"]["unreadable"] == 1
    assert sum(doc["summary"].values()) == 10
    # coverage counts the nine it can replay and exits 1 for the tenth
    code, out = cli("coverage", *logs, "--program", str(PROJECT))
    assert code == 1 and "turn 3 is missing" in out
    # one session alone is still a plain error
    code, out = cli("replay", str(hole), "--program", str(PROJECT))
    assert code == 1 and "turn 3 is missing" in out and "could not be replayed" not in out
    assert "Traceback" not in out


def test_a_batch_goes_on_past_a_session_whose_program_is_in_no_store(
    rec_root: Path, tmp_path: Path
) -> None:
    recs = recorded(PROJECT, rec_root)
    store = tmp_path / "programs"
    LocalProgramStore(store).save_sync(compiled(PROJECT).program)
    lost = tmp_path / "lost.jsonl"
    unknown = "sha256:" + "0" * 64
    lines = []
    for line in recs[0].log.read_bytes().splitlines():
        d = orjson.loads(line)
        d["program_id"] = unknown
        if d.get("state"):
            d["state"]["program_id"] = unknown
        lines.append(orjson.dumps(d) + b"\n")
    lost.write_bytes(b"".join(lines))
    logs = [str(lost), *(str(r.log) for r in recs[1:])]
    code, out = cli("replay", *logs, "--programs-dir", str(store))
    assert code == 1, out
    assert f"cannot replay: session {orjson.loads(lines[0])['session_id']!r}" in out
    assert "9 identical, 0 diverged, 1 could not be replayed" in out
    code, out = cli("coverage", *logs, "--programs-dir", str(store), "--json")
    assert code == 1, out
    assert orjson.loads(out[out.index("{") :])["sessions"] == 10
    assert "not in the program store" in out


def test_since_and_until_select_sessions_from_files_too(rec_root: Path, tmp_path: Path) -> None:
    """They filtered MongoDB batches only; on files they were ignored without a word."""
    recs = recorded(PROJECT, rec_root)
    logs = [str(r.log) for r in recs]
    (start,) = {orjson.loads(r.log.read_bytes().splitlines()[0])["at"] for r in recs}
    t0 = datetime.fromisoformat(start)
    later = (t0 + timedelta(seconds=1)).isoformat()
    report = tmp_path / "r.json"
    args = ["replay", *logs, "--program", str(PROJECT), "--json-report", str(report)]
    for option, value, n in (("--since", start, len(recs)), ("--until", later, len(recs))):
        code, out = cli(*args, option, value)
        assert code == 0, out
        assert len(orjson.loads(report.read_bytes())["sessions"]) == n
    for option, value in (("--since", later), ("--until", start)):
        code, out = cli(*args, option, value)
        assert code == 1 and "no recorded session matched" in out, out
    # a time without a zone is UTC: 09:00Z is 10:00+01:00, the sessions' start
    naive = t0.astimezone(UTC).replace(tzinfo=None).isoformat()
    code, out = cli(*args, "--since", naive)
    assert code == 0, out
    code, out = cli(*args, "--since", "yesterday")
    assert code == 1 and "--since: not an ISO date or date-time" in out


def test_save_test_round_trips_through_ddtflow_test(rec_root: Path, tmp_path: Path) -> None:
    """Every recorded example session, saved as a conversation test, passes ``ddtflow test``
    logic (the same loader and runner)."""
    store = tmp_path / "programs"
    for name in EXAMPLES:
        project = EXAMPLES_DIR / name
        lp = compiled(project)
        LocalProgramStore(store).save_sync(lp.program)
        recs = recorded(project, rec_root)
        both = tmp_path / f"{name}.jsonl"
        both.write_bytes(b"".join(r.log.read_bytes() for r in recs))
        out_file = tmp_path / name / "recorded.yaml"
        code, out = cli(
            "replay", str(both), "--programs-dir", str(store), "--save-test", str(out_file)
        )
        assert code == 0, out
        tests = load_tests(out_file)
        assert len(tests) == len(recs)
        for i, test in enumerate(tests):
            res = asyncio.run(run_test(lp, test, tmp_path / f"{name}-{i}.jsonl"))
            assert res.ok, (name, test.name, res.failures)


def test_saved_test_runs_with_ddtflow_test(rec_root: Path, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    shutil.copytree(PROJECT, proj, ignore=shutil.ignore_patterns("tests"))
    r = recorded(PROJECT, rec_root)[0]
    code, out = cli(
        "replay",
        str(r.log),
        "--program",
        str(PROJECT),
        "--save-test",
        str(proj / "tests" / "recorded.yaml"),
    )
    assert code == 0, out
    code, out = cli("test", str(proj), "--log-dir", str(tmp_path / "logs"))
    assert code == 0, out
    assert "1 passed, 0 failed" in out


def test_coverage_from_files_in_the_test_format(rec_root: Path, tmp_path: Path) -> None:
    recs = recorded(PROJECT, rec_root, every=True)  # every test: ``ddtflow test`` runs them all
    code, out, err = cli_streams(
        "coverage", *[str(r.log) for r in recs], "--program", str(PROJECT), "--json"
    )
    assert code == 0, out + err
    doc = orjson.loads(out)  # stdout is the JSON alone: a batch's progress goes to stderr
    assert f"coverage: {len(recs)}/{len(recs)} sessions" in err
    (prog,) = doc["programs"]
    assert prog["sessions"] == len(recs) >= 20  # a batch: 20 sessions or more show progress
    # a log directory of its own: the default one is shared with any other ``ddtflow test``
    # of this project (pytest-xdist runs tests side by side), and each run empties it
    want = cli_streams("test", str(PROJECT), "--coverage", "--json", "--log-dir", str(tmp_path))[1]
    assert prog["coverage"] == orjson.loads(want)["coverage"]  # the same runs, same figures


def test_export_formats(rec_root: Path, tmp_path: Path) -> None:
    r = recorded(PROJECT, rec_root)[0]
    code, out = cli("export", str(r.log), "--program", str(PROJECT), "--format", "vcon")
    assert code == 0, out
    vcon = orjson.loads(out)
    assert vcon["parties"][1]["role"] == "agent"
    code, out = cli("export", str(r.log), "--program", str(PROJECT), "-f", "text")
    assert code == 0 and "caller: ***" in out
    code, out = cli("export", str(r.log), "--program", str(PROJECT), "-f", "pdf")
    assert code == 1 and "--format is text, json or vcon" in out


# --------------------------------------------------------------------------- MongoDB


@pytest.fixture
def mongo_db(mongo_url: str) -> Iterator[tuple[str, str]]:
    db = f"replay_{uuid.uuid4().hex[:8]}"
    yield mongo_url, db
    drop_mongo_db(mongo_url, db)


def test_every_example_session_replays_identical_from_mongodb(
    rec_root: Path, mongo_db: tuple[str, str], tmp_path: Path
) -> None:
    url, db = mongo_db
    sessions = {}
    # recorded (asyncio.run inside) before the loop below runs, not from within it
    recs = {name: recorded(EXAMPLES_DIR / name, rec_root) for name in EXAMPLES}

    async def load() -> None:
        archive = MongoArchive.from_url(url, db)
        try:
            for name in EXAMPLES:
                project = EXAMPLES_DIR / name
                await archive.save_program(compiled(project).program)  # the deployed program
                for r in recs[name]:
                    await archive.write_batch(list(r.sessions[0].records))
                    sessions[r.sessions[0].session_id] = name
        finally:
            await archive.close()

    asyncio.run(load())
    empty = tmp_path / "no-local-programs"
    code, out = cli(
        "replay", *sessions, "--mongo", url, "--mongo-db", db, "--programs-dir", str(empty)
    )
    assert code == 0, out
    assert f"{len(sessions)} identical, 0 diverged" in out
    sid = next(iter(sessions))
    code, out = cli("replay", sid, "--mongo", url, "--mongo-db", db, "--programs-dir", str(empty))
    assert code == 0, out
    assert "turn 1 " in out  # one session: its timeline
    assert f"session {sid}: identical (" in out
    # batch: every session of the tenant that ran bank_card_block, what-if on a change
    pid = compiled(PROJECT).id
    new = changed_project(tmp_path, "DDT validation")
    report = tmp_path / "r.json"
    code, out = cli(
        "replay",
        "--mongo",
        url,
        "--mongo-db",
        db,
        "--program-id",
        pid,
        "--since",
        "2026-01-01",
        "--program",
        str(new),
        "--json-report",
        str(report),
        "--programs-dir",
        str(empty),
    )
    assert code == 1, out
    doc = orjson.loads(report.read_bytes())
    assert len(doc["sessions"]) == 10
    assert doc["summary"]["diverged"] == 6
    r = CliRunner().invoke(
        app,
        ["coverage", "--from-mongo", url, "--mongo-db", db, "--json", "--programs-dir", str(empty)],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    assert len(orjson.loads(r.stdout)["programs"]) == len(EXAMPLES)  # progress: on stderr
    sid = next(iter(sessions))
    code, out = cli(
        "export", sid, "--mongo", url, "--mongo-db", db, "-f", "vcon", "--programs-dir", str(empty)
    )
    assert code == 0, out
    assert orjson.loads(out)["subject"].endswith(sid)
    code, out = cli("replay", "no-such-session", "--mongo", url, "--mongo-db", db)
    assert code == 1 and "no session 'no-such-session' for tenant 'default'" in out


def test_a_divergence_in_a_sensitive_answer_shows_no_value(rec_root: Path, tmp_path: Path) -> None:
    r = next(x for x in recorded(PROJECT, rec_root) if x.name == "card blocked (it, voice)")
    lines = r.log.read_bytes().splitlines(keepends=True)
    rec = orjson.loads(lines[1])
    assert rec["event"]["text"] == "sono nato il 12 marzo 1980"
    rec["event"]["text"] = "sono nato il 5 maggio 1970"
    p = tmp_path / "other-date.jsonl"
    p.write_bytes(b"".join([lines[0], orjson.dumps(rec) + b"\n", *lines[2:]]))
    report = tmp_path / "r.json"
    code, out = cli("replay", str(p), "--program", str(PROJECT), "--json-report", str(report))
    assert code == 1
    assert "diverged at turn 2" in out
    assert 'state memory.customer.birth_date: - "***" + "***"' in out
    text = out + report.read_text()
    for secret in ("1970", "1980", "maggio", "marzo"):
        assert secret not in text


# --------------------------------------------------------------------------- operators' slips


def test_tenant_selects_the_sessions_of_a_log(rec_root: Path, tmp_path: Path) -> None:
    """``--tenant`` scoped MongoDB only: on a log it was ignored without a word, so
    ``--tenant acme`` replayed every tenant's sessions and exited 0 for a tenant with none."""
    recs = recorded(PROJECT, rec_root)
    log = tmp_path / "two-tenants.jsonl"
    with log.open("wb") as f:
        for r in recs:
            f.write(r.log.read_bytes())
            for line in r.log.read_bytes().splitlines():
                d = orjson.loads(line)
                d["tenant"] = d["state"]["tenant"] = "acme"
                f.write(orjson.dumps(d) + b"\n")
    report = tmp_path / "r.json"
    args = ["replay", str(log), "--program", str(PROJECT), "--json-report", str(report)]

    def tenants() -> list[str]:
        return [s["tenant"] for s in orjson.loads(report.read_bytes())["sessions"]]

    code, out = cli(*args, "--tenant", "default")
    assert code == 0, out
    assert tenants() == ["default"] * len(recs)
    cli(*args, "--tenant", "acme")  # the digest holds the tenant: they diverge, but alone
    assert tenants() == ["acme"] * len(recs)
    cli(*args)
    assert sorted(set(tenants())) == ["acme", "default"] and len(tenants()) == 2 * len(recs)
    code, out = cli(*args, "--tenant", "nobody")
    assert code == 1
    assert "no recorded session matched (tenant 'nobody' in the given logs)" in out


def test_a_file_the_command_cannot_write_is_refused_before_any_session_is_read(
    rec_root: Path, tmp_path: Path
) -> None:
    """Before, the whole batch was replayed, then ``[Errno 21] Is a directory`` (or 2, No
    such file or directory) and exit 1: an hour of replay for nothing."""
    logs = [str(r.log) for r in recorded(PROJECT, rec_root)]
    a_dir = tmp_path / "reports"
    a_dir.mkdir()
    code, out = cli("replay", *logs, "--program", str(PROJECT), "--json-report", str(a_dir))
    assert code == 1
    assert out.strip() == f"error: --json-report {a_dir}: a directory, not a file"
    code, out = cli("replay", *logs, "--program", str(PROJECT), "--save-test", str(a_dir))
    assert code == 1 and "identical" not in out
    assert f"--save-test {a_dir}: a directory, not a file" in out
    code, out = cli("export", logs[0], "--program", str(PROJECT), "-o", str(a_dir))
    assert code == 1 and f"--output {a_dir}: a directory, not a file" in out
    # a report in a directory that does not exist yet: made, as --save-test's always was
    deep = tmp_path / "ci" / "replay" / "report.json"
    code, out = cli("replay", *logs, "--program", str(PROJECT), "--json-report", str(deep))
    assert code == 0, out
    assert len(orjson.loads(deep.read_bytes())["sessions"]) == len(logs)


def test_slips_on_the_command_line_get_a_clear_message(rec_root: Path, tmp_path: Path) -> None:
    log = str(recorded(PROJECT, rec_root)[0].log)
    code, out = cli("replay", log, "--since", "2027-01-01", "--until", "2026-01-01")
    assert code == 1
    assert "--since 2027-01-01T00:00:00+00:00 is not before --until 2026-01-01T00:00:00+00:00" in (
        out
    )
    code, out = cli("replay", log, "--program", str(PROJECT), "--since", "2030-01-01")
    assert code == 1
    assert "no recorded session matched (in the given logs, started at or after 2030-01-01" in out
    code, out = cli("replay", str(tmp_path))  # a directory of logs, not a log
    assert code == 1 and f"{tmp_path} is a directory: give the JSONL logs in it" in out
    for command in ("replay", "coverage"):  # nothing to read: "no recorded session matched"
        r = CliRunner().invoke(app, [command], catch_exceptions=False, env={"MONGO_URL": ""})
        assert r.exit_code == 1
        assert "no session to replay: give JSONL logs or session ids" in r.output
    code, out = cli("replay", log, "--program", str(PROJECT), "--at", "0")
    assert code == 2 and "--at" in out  # a usage error, not 'no turn 0 replayed' and exit 1
    assert "Traceback" not in out


def test_coverage_from_the_program_store_does_not_claim_edges(
    rec_root: Path, tmp_path: Path
) -> None:
    """Without --program, the recorded program comes from the store, compiled: its edges
    cannot be told apart, so they are not measured (null, 'n/a') — they were '0 of 0,
    100 %'. Given as a compiled file, the same."""
    store = tmp_path / "programs"
    LocalProgramStore(store).save_sync(compiled(PROJECT).program)
    compiled_file = tmp_path / "bank.json"
    compiled_file.write_bytes(compiled(PROJECT).program.model_dump_json().encode())
    logs = [str(r.log) for r in recorded(PROJECT, rec_root)]
    for where in (("--programs-dir", str(store)), ("--program", str(compiled_file))):
        code, out = cli("coverage", *logs, *where, "--json")
        assert code == 0, out
        cov = orjson.loads(out)["programs"][0]["coverage"]
        assert cov["edges"] is None, where
        assert cov["nodes"]["total"] > 0 and cov["nodes"]["covered"] > 0
        code, out = cli("coverage", *logs, *where)
        assert code == 0 and "n/a" in out, out


def test_save_test_of_a_voice_session_pins_what_the_caller_heard(
    rec_root: Path, tmp_path: Path
) -> None:
    """On voice each turn with SSML gets ``ssml:`` (``~`` for a say without), which the
    saved test then checks; a chat session's test has none."""
    recs = {r.name: r for r in recorded(PROJECT, rec_root, every=True)}
    voice = recs["card blocked (it, voice)"]
    out_file = tmp_path / "voice.yaml"
    code, out = cli(
        "replay", str(voice.log), "--program", str(PROJECT), "--save-test", str(out_file)
    )
    assert code == 0, out
    text = out_file.read_text()
    assert "  ssml:\n  - <speak>Banca Esempio, servizio blocco carte. <break time='250ms'/>" in text
    (test,) = load_tests(out_file)
    ssml = [t.ssml for t in test.turns]
    assert ssml[0] is not None and ssml[0][1] is None  # the date question has no SSML
    assert ssml[1] is None  # "Perfetto, grazie." and the digits question: no SSML at all
    assert any(s and any(x and "che mi ha indicato" in x for x in s) for s in ssml)
    # the reference number's say sets barge_in: false; the turns without such a say have
    # no barge_in: key
    barge = [t.barge_in for t in test.turns]
    assert barge[-1] is not None and False in barge[-1], barge
    assert barge[0] is None and barge[1] is None
    res = asyncio.run(run_test(compiled(PROJECT), test, tmp_path / "voice.jsonl"))
    assert res.ok, res.failures
    chat = next(r for r in recs.values() if "chat" in r.name)
    out_file = tmp_path / "chat.yaml"
    code, out = cli(
        "replay", str(chat.log), "--program", str(PROJECT), "--save-test", str(out_file)
    )
    assert code == 0, out
    assert "ssml" not in out_file.read_text() and "barge_in" not in out_file.read_text()
