"""Benchmark: DDT engine turns per second on one core (engine alone, no I/O).

Two DDTs, pattern-layer hits, as compiled by compile_ddt from the built-in catalogue:

- date: a caller answers "15/03/1980" from the start state (a numeric date, certain: the
  DDT completes), and the partial path "marzo 1980" -> "15" is reported too;
- phone: "333 123 4567" from the start state (the phone is read back for confirmation),
  then "sì" at the confirmation.

Each figure is the best of 5 runs, timed in CPU time of this process (``process_time``),
so other load on a shared machine disturbs it as little as possible. "engine" is
``DdtEngine.handle`` alone on an in-memory record; "with record JSON" adds reading the
record from JSON and writing the new one (what a session store costs on top). Last line:
one JSON object; ``turns_per_s`` is the slower DDT.

    python bench/ddt.py [--turns N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# bench/ is on sys.path when run as a script: its modules must not shadow the stdlib
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from compiler.ddt import compile_ddt  # noqa: E402
from ddt_engine.engine import DdtEngine  # noqa: E402
from ddt_engine.extract import ExtractOptions, extract  # noqa: E402
from ddt_engine.extract.yesno import detect_yes_no  # noqa: E402
from schemas.events import UserInputEvent  # noqa: E402
from schemas.project import DdtDef  # noqa: E402
from schemas.session import DdtState  # noqa: E402

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _engine() -> DdtEngine:
    ddts = {}
    for name, data in {
        "birth": {"type": "date", "label": {"it": "la sua data di nascita"}},
        "phone": {"type": "phone"},
    }.items():
        ddt, diags = compile_ddt(
            name,
            DdtDef.model_validate(data),
            languages=("it", "en"),
            prompts={},
            var_types={},
            locate=lambda s: ("bench", 0, 0),
        )
        assert ddt is not None, diags
        ddts[name] = ddt
    return DdtEngine(ddts)


Turn = tuple[DdtState, UserInputEvent, str]  # record, event, expected outcome or next state


def _workload(engine: DdtEngine, ddt: str, script: list[str]) -> list[Turn]:
    """The records and events of one scripted dialogue (each turn starts from its record)."""
    step = engine.begin(ddt, memory={}, language="it", channel="voice", at=AT)
    turns: list[Turn] = []
    state = step.state
    for text in script:
        assert state is not None
        ev = UserInputEvent(at=AT, text=text)
        step = engine.handle(state, ev, memory={}, language="it", channel="voice")
        turns.append((state, ev, step.state.state if step.state else step.outcome))
        state = step.state
    return turns


def _measure(fn: Callable[[], None], n: int) -> float:
    rates = []
    for _ in range(5):
        t0 = time.process_time()
        fn()
        rates.append(n / (time.process_time() - t0))
    return max(rates)


def _bench(engine: DdtEngine, turns: list[Turn], n: int) -> tuple[float, float]:
    memory: dict[str, object] = {}
    handle = engine.handle
    k = len(turns)
    for state, ev, expected in turns:  # results verified before timing
        step = handle(state, ev, memory=memory, language="it", channel="voice")
        assert (step.state.state if step.state else step.outcome) == expected

    def alone() -> None:
        for i in range(n):
            state, ev, _ = turns[i % k]
            handle(state, ev, memory=memory, language="it", channel="voice")

    blobs = [(s.model_dump_json().encode(), ev) for s, ev, _ in turns]
    validate = DdtState.model_validate_json

    def with_json() -> None:
        for i in range(n):
            blob, ev = blobs[i % k]
            step = handle(validate(blob), ev, memory=memory, language="it", channel="voice")
            if step.state is not None:
                step.state.model_dump_json()

    return _measure(alone, n), _measure(with_json, n)


def _extraction_share(n: int) -> dict[str, float]:
    """Microseconds per call of the extractor calls a hit turn makes (the rest is the
    engine): the date grammar, the phone pattern, and yes/no at the confirmation."""
    opts = ExtractOptions()
    calls: dict[str, Callable[[], object]] = {
        "date": lambda: extract("date", "15/03/1980", "it", AT, opts),
        "phone": lambda: extract("phone", "333 123 4567", "it", AT, opts),
        "yes_no": lambda: detect_yes_no("sì", "it"),
    }
    m = max(n // 5, 1000)
    out = {}
    for name, call in calls.items():

        def loop(call: Callable[[], object] = call) -> None:
            for _ in range(m):
                call()

        out[name] = 1e6 / _measure(loop, m)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns", type=int, default=100_000)
    args = ap.parse_args()
    n = args.turns
    engine = _engine()
    date_hit = _workload(engine, "birth", ["15/03/1980"])
    date_partial = _workload(engine, "birth", ["marzo 1980", "15"])
    phone = _workload(engine, "phone", ["333 123 4567", "sì"])
    results = {
        "date": _bench(engine, date_hit, n),
        "date_partial": _bench(engine, date_partial, n),
        "phone": _bench(engine, phone, n),
    }
    share = _extraction_share(n)
    sizes = [len(s.model_dump_json()) for s, _, _ in date_partial + phone]
    for name, (alone, with_json) in results.items():
        print(f"{name:13s} engine {alone:9,.0f} turns/s   with record JSON {with_json:9,.0f}")
    print(
        "extraction alone: "
        + ", ".join(f"{name} {us:.1f} µs" for name, us in share.items())
        + f"; engine share of a date hit {1e6 / results['date'][0] - share['date']:.1f} µs"
    )
    print(f"state record: {min(sizes)}-{max(sizes)} bytes of JSON")
    slower = min(results["date"][0], results["phone"][0])
    print(
        json.dumps(
            {
                "bench": "ddt",
                "turns_per_s": round(slower),
                "date_turns_per_s": round(results["date"][0]),
                "date_partial_turns_per_s": round(results["date_partial"][0]),
                "phone_turns_per_s": round(results["phone"][0]),
                "with_json_turns_per_s": round(min(results["date"][1], results["phone"][1])),
                "state_bytes_max": max(sizes),
                "extract_date_us": round(share["date"], 1),
                "extract_phone_us": round(share["phone"], 1),
                "turns": n,
            }
        )
    )


if __name__ == "__main__":
    main()
