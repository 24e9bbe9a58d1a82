"""Exports of a log whose times carry no zone (hand-written, or from another tool): the vCon
and JSON timestamps still carry an offset (vCon's are RFC 3339), read as UTC."""

from __future__ import annotations

from pathlib import Path

import orjson

from runtime.export import export_json, export_vcon
from runtime.replay import load_jsonl, replay_session
from tests.runtime.test_export import ISO, assert_valid_vcon
from tests.runtime.test_replay import EXAMPLES_DIR, compiled, rec_root, recorded

__all__ = ["rec_root"]

PROJECT = EXAMPLES_DIR / "bank_card_block"


def test_times_without_a_zone_are_exported_as_utc(rec_root: Path, tmp_path: Path) -> None:
    r = next(x for x in recorded(PROJECT, rec_root) if x.name == "card blocked (it, voice)")
    text = r.log.read_text(encoding="utf-8")
    assert "+01:00" in text
    naive = tmp_path / "naive.jsonl"
    naive.write_text(text.replace("+01:00", ""), encoding="utf-8")
    lp = compiled(PROJECT)
    res = replay_session(lp, load_jsonl(naive)[0])
    assert res.ok, res.divergence
    vcon = export_vcon(res, lp.program)
    assert_valid_vcon(vcon)  # failed before: "2026-03-02T10:00:00" has no offset
    assert vcon["created_at"] == "2026-03-02T10:00:00+00:00"
    doc = export_json(res, lp.program)
    assert all(ISO.match(t["at"]) for t in doc["turns"]), orjson.dumps(doc["turns"][0])
