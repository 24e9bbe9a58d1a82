"""Exports (text, JSON, vCon) of every example session: the vCon structure holds (required
keys, parties referenced by dialog, ISO timestamps), the uuid is deterministic, and no
sensitive value — collected, spoken by the caller, or echoed by the bot — appears anywhere
in any export (the whole text is searched)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ddt_engine.expressions import get_path
from runtime.export import MASK, Masker, export_json, export_session, export_vcon, vcon_uuid
from runtime.replay import ReplayResult, replay_session
from schemas.events import UserInputEvent
from tests.runtime.test_replay import EXAMPLES, EXAMPLES_DIR, compiled, rec_root, recorded

__all__ = ["assert_valid_vcon", "rec_root"]

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def assert_valid_vcon(v: dict[str, Any]) -> None:
    """The vCon JSON structure (draft-ietf-vcon-vcon-container): what we promise."""
    for key in ("vcon", "uuid", "created_at", "parties", "dialog", "analysis"):
        assert key in v, f"vCon lacks {key!r}"
    assert isinstance(v["vcon"], str) and v["vcon"]
    assert str(uuid.UUID(v["uuid"])) == v["uuid"]
    assert ISO.match(v["created_at"]), v["created_at"]
    datetime.fromisoformat(v["created_at"])
    parties = v["parties"]
    assert isinstance(parties, list) and len(parties) == 2
    assert {p["role"] for p in parties} == {"customer", "agent"}
    assert v["dialog"], "a session has at least the greeting"
    for d in v["dialog"]:
        assert d["type"] == "text"
        assert ISO.match(d["start"]), d["start"]
        assert d["parties"] and all(0 <= i < len(parties) for i in d["parties"])
        assert 0 <= d["originator"] < len(parties) and d["originator"] in d["parties"]
        assert isinstance(d["body"], str)
        assert d["encoding"] == "none"
        assert d["mediatype"] == "text/plain"
    for a in v["analysis"]:
        assert {"type", "dialog", "vendor", "body", "encoding"} <= set(a)
        assert all(0 <= i < len(v["dialog"]) for i in a["dialog"])
        assert a["encoding"] == "json"
        assert isinstance(orjson.loads(a["body"]), dict)


def secrets_of(res: ReplayResult) -> set[str]:
    """The raw sensitive values of a session: collected values and what the caller said
    while a sensitive DDT was asking."""
    program = compiled_program(res)
    out: set[str] = set()
    sensitive_ddts = {n for n, d in program.ddts.items() if d.sensitive}
    paths = [tuple(n.split(".")) for n, s in program.variables.items() if s.sensitive]
    for t in res.turns:
        for p in paths:
            v = get_path(t.after.memory, p)
            if v is not None:
                out.add(str(v))
        ev = t.record.event
        if (
            isinstance(ev, UserInputEvent)
            and t.before.ddt is not None
            and t.before.ddt.ddt in sensitive_ddts
        ):
            if len(ev.text) >= 4:
                out.add(ev.text)
            if ev.dtmf and len(ev.dtmf) >= 4:
                out.add(ev.dtmf)
    return {s for s in out if len(s) >= 4}


_PROGRAMS: dict[str, Any] = {}


def compiled_program(res: ReplayResult) -> Any:
    return _PROGRAMS[res.program_id]


def _results(name: str, root: Path) -> list[ReplayResult]:
    lp = compiled(EXAMPLES_DIR / name)
    _PROGRAMS[lp.id] = lp.program
    return [
        replay_session(lp, r.sessions[0]) for r in recorded(EXAMPLES_DIR / name, root, every=True)
    ]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_export_is_valid_and_never_holds_a_sensitive_value(name: str, rec_root: Path) -> None:
    found = 0
    for res in _results(name, rec_root):
        assert res.ok
        program = compiled_program(res)
        vcon = export_vcon(res, program)
        assert_valid_vcon(vcon)
        callers = [d for d in vcon["dialog"] if d["originator"] == 0]
        bots = [d for d in vcon["dialog"] if d["originator"] == 1]
        assert bots, "the bot speaks in every session"
        assert len(callers) == sum(
            1 for t in res.turns if t.record.event.type in ("user_input", "no_input", "hangup")
        )
        texts = {
            "vcon": orjson.dumps(vcon).decode(),
            "json": orjson.dumps(export_json(res, program)).decode(),
            "text": export_session(res, program, "text"),
        }
        secrets = secrets_of(res)
        found += len(secrets)
        for fmt, text in texts.items():
            for s in secrets:
                assert s not in text, f"{res.log.session_id}: {s!r} in the {fmt} export"
                js = orjson.dumps(s).decode()[1:-1]  # as JSON escapes it
                assert js not in text, f"{res.log.session_id}: {s!r} in the {fmt} export"
    if name in ("bank_card_block", "medical_booking"):
        assert found, "these examples collect sensitive data: the test must see some"


def test_sensitive_values_are_masked_but_the_rest_is_kept(rec_root: Path) -> None:
    sid = "test-card-blocked-it-voice"
    res = next(r for r in _results("bank_card_block", rec_root) if r.log.session_id == sid)
    program = compiled_program(res)
    assert export_session(res, program, "text").splitlines()[4:] == [
        "[10:00:00]    bot: Banca Esempio, servizio blocco carte. Se ha perso la carta o "
        "gliel'hanno rubata, la blocchiamo subito.",
        "[10:00:00]    bot: Per verificare la sua identità, mi dica la sua data di nascita.",
        "[10:00:00] caller: ***",
        "[10:00:00]    bot: Perfetto, grazie.",
        "[10:00:00]    bot: Ora mi dica le ultime quattro cifre della carta da bloccare.",
        "[10:00:00] caller: ***",
        "[10:00:00]    bot: Perfetto, grazie.",
        "[10:00:00]    bot: Grazie Mario. Vuole bloccare la carta **** ***? Il blocco non si può "
        "annullare.",
        "[10:00:00] caller: sì, la blocchi",
        "[10:00:00]    bot: Perfetto, grazie.",
        "[10:00:00]    bot: La carta **** *** è bloccata. Il numero di pratica è 8 0 5 2 2 1.",
        "[10:00:00]    bot: Le abbiamo inviato un SMS di conferma. Grazie e arrivederci.",
        "[10:00:00] system: [end: blocked]",
        "",
        "collected:",
        "  attempts = 0",
        "  block.reference = 805221",
        "  block_confirmed = true",
        "  caller.phone = +39333***567",
        "  card.id = c-4471",
        "  card.last4 = ***",
        "  card.masked = **** ***",
        "  customer.birth_date = ***",
        "  customer.name = Mario",
        "  identity_ok = true",
    ]
    analysis = orjson.loads(export_vcon(res, program)["analysis"][0]["body"])
    assert analysis["memory"]["customer"]["birth_date"] == MASK
    assert analysis["memory"]["customer"]["name"] == "Mario"
    assert analysis["outcome"] == {
        "status": "ended",
        "reason": "blocked",
        "language": "it",
        "channel": "voice",
    }


def test_vcon_uuid_is_deterministic_and_version_8() -> None:
    a = vcon_uuid("default", "s-1")
    assert a == vcon_uuid("default", "s-1")
    assert a != vcon_uuid("default", "s-2") != vcon_uuid("other", "s-1")
    u = uuid.UUID(a)
    assert u.version == 8 and u.variant == uuid.RFC_4122


def test_masker_rules_are_decided_from_the_program(rec_root: Path) -> None:
    lp = compiled(EXAMPLES_DIR / "bank_card_block")
    m = Masker(lp.program)
    assert m.sensitive_ddts == {"birth_date", "card_digits"}
    assert set(m.sensitive_vars) == {("customer", "birth_date"), ("card", "last4")}
    assert m.prompt_masked("welcome") is False
    assert m.prompt_masked("birth_date/main/start/1") is False  # a fixed text
    assert m.memory({"card": {"last4": "0427", "masked": "x"}}) == {
        "card": {"last4": MASK, "masked": "x"}
    }


def test_a_blank_masker_shares_the_rules_but_not_the_values(rec_root: Path) -> None:
    res = next(r for r in _results("bank_card_block", rec_root) if r.ok)
    master = Masker(compiled_program(res))
    one = master.blank()
    one.learn_all(res.turns)
    secret = next(iter(one.values))
    assert secret not in one.text(f"a {secret} b") and MASK in one.text(f"a {secret} b")
    two = master.blank()
    assert two.sensitive_ddts == master.sensitive_ddts and two.values == set()
    assert two.text(f"a {secret} b") == f"a {secret} b"  # another session's value is not its
    assert master.values == set()
    # merge() adds to the rule sets in place: a blank's own sets, not the master's
    one.merge(Masker(compiled(EXAMPLES_DIR / "medical_booking").program))
    one._masked_prompts.add("added/to/one")
    assert "added/to/one" not in master._masked_prompts | two._masked_prompts
