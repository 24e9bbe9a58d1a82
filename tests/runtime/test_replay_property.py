"""Hypothesis: replay(record(run)) == run. Random caller behaviour (answers, nonsense,
silence, keypad, hang-ups, operator requests) on an example project, recorded through the
real driver into a JSONL log, always replays identical; its vCon is well-formed and holds
none of the sensitive values the session collected."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ddt_engine.expressions import get_path
from runtime.convtest import ConvTest, Turn, run_test
from runtime.effects import StubResponse
from runtime.export import export_vcon
from runtime.replay import load_jsonl, replay_session
from tests.runtime.test_export import assert_valid_vcon
from tests.runtime.test_replay import EXAMPLES_DIR, compiled

PROJECT = EXAMPLES_DIR / "bank_card_block"
EXAMPLES_N = int(os.environ.get("DDTFLOW_PROP_EXAMPLES", "25"))

UTTERANCES = [
    "sono nato il 12 marzo 1980",
    "il 3 aprile 1975",
    "marzo 1980",
    "boh",
    "uno due tre quattro",
    "4 7 1 1",
    "sì",
    "no",
    "voglio parlare con un operatore",
    "ripeti",
    "",
    "2099-01-01",
]
turn = st.one_of(
    st.sampled_from(UTTERANCES).map(lambda t: Turn("user", 0, text=t)),
    st.just(Turn("noinput", 0)),
    st.sampled_from(["12031980#", "1234#", "9"]).map(lambda d: Turn("dtmf", 0, dtmf=d)),
    st.just(Turn("hangup", 0)),
)
backend = st.sampled_from(
    [
        StubResponse(
            body={"match": True, "customer": {"first_name": "Mario"}, "card": {"id": "c"}}
        ),
        StubResponse(body={"match": False}),
        StubResponse(status=0, error="timeout"),
    ]
)


@settings(max_examples=EXAMPLES_N, deadline=None)
@given(
    turns=st.lists(turn, min_size=1, max_size=10),
    verify=st.lists(backend, min_size=1, max_size=3),
    language=st.sampled_from(["it", "en"]),
    channel=st.sampled_from(["chat", "voice"]),
)
def test_any_recorded_session_replays_identical(
    turns: list[Turn], verify: list[StubResponse], language: str, channel: str
) -> None:
    lp = compiled(PROJECT)
    test = ConvTest(
        name="random",
        file=Path("random.yaml"),
        line=1,
        language=language,
        channel=channel,  # type: ignore[arg-type]
        at=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC),
        variables={"caller.phone": "+393330000000"},
        backends={"verify_identity": verify, "block_card": [StubResponse(body={"reference": "7"})]},
        turns=tuple(turns),
    )
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "s.jsonl"
        asyncio.run(run_test(lp, test, log))
        (session,) = load_jsonl(log)
    res = replay_session(lp, session)
    assert res.ok, res.divergence
    assert len(res.turns) == len(session.records)
    vcon = export_vcon(res, lp.program)
    assert_valid_vcon(vcon)
    text = orjson.dumps(vcon).decode()
    final = res.turns[-1].after.memory
    for path in (("customer", "birth_date"), ("card", "last4")):
        value = get_path(final, path)
        if value is not None:
            assert str(value) not in text
