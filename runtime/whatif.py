"""What-if replay: a recorded session's caller inputs against another program.

The recorded channel events (start, user input, no input, hang-up) are fed to the new
program in order. The recorded internal results (backend calls, NER/LLM extractions) are
re-used in order where the new program asks for the same effect (the same backend, the
same extraction layer); they are never invented. Turn by turn the new side is compared
with the recorded one on what the caller and the data see: the actions, memory, status,
awaiting, reason and the active DDT's dialogue state (not ``pc``, which moves with any
change of the program). Per session the verdict is:

- ``same``: every turn alike;
- ``diverged at turn N``: turn N differs (both sides given) and the recording can still
  drive the new program's next step;
- ``cannot continue at turn N``: the new program, at turn N, needs what the recording
  does not hold (the caller's answer to a question they were never asked, the result of
  a backend call never made).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from runtime.orchestrator import new_session, run_step
from runtime.ports import RuntimeFault
from runtime.programs import LoadedProgram
from runtime.replay import SessionLog, action_json, state_diff
from runtime.tasks import backend_name
from schemas.events import BackendResultEvent, Event, ExtractionResultEvent
from schemas.program import CallBackendTask, SendEmailTask, SendSmsTask
from schemas.session import SessionState

__all__ = ["Verdict", "WhatIfResult", "observable", "what_if"]

Verdict = Literal["same", "diverged", "cannot_continue"]
INTERNAL = ("backend_result", "extraction_result")


def observable(state: SessionState) -> dict[str, Any]:
    """What a what-if compares of a state: not ``pc``/``stack``/``program_id``."""
    d = state.ddt
    return {
        "memory": state.memory,
        "status": state.status,
        "awaiting": state.awaiting,
        "reason": state.reason,
        "ddt": None if d is None else {"ddt": d.ddt, "node": list(d.node), "state": d.state},
    }


@dataclass(slots=True)
class WhatIfResult:
    session_id: str
    tenant: str
    recorded_program: str
    program: str
    verdict: Verdict = "same"
    turn: int | None = None
    event: str | None = None
    reason: str = ""
    recorded_actions: list[Any] | None = None
    new_actions: list[Any] | None = None
    state_diff: list[tuple[str, Any, Any]] | None = None
    compared_states: bool = True
    states: list[SessionState] = field(default_factory=list)
    """The new program's state after each turn it replayed (what a masker must learn:
    the new side may hold sensitive values the recording never held). Not in the JSON."""

    @property
    def label(self) -> str:
        if self.verdict == "same":
            return "same"
        if self.verdict == "diverged":
            return f"diverged at turn {self.turn}"
        return f"cannot continue at turn {self.turn}"

    def as_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "tenant": self.tenant,
            "recorded_program": self.recorded_program,
            "program": self.program,
            "verdict": self.verdict,
            "label": self.label,
            "turn": self.turn,
            "event": self.event,
            "reason": self.reason,
            "recorded_actions": self.recorded_actions,
            "new_actions": self.new_actions,
            "state_diff": (
                None
                if self.state_diff is None
                else [{"path": p, "recorded": a, "new": b} for p, a, b in self.state_diff]
            ),
        }


def _need(state: SessionState) -> str:
    """What the new side waits for: ``input``, ``backend:<name>``, ``extraction``, or
    ``closed``."""
    if state.status in ("ended", "transferred", "failed"):
        return "closed"
    if state.awaiting == "backend":
        return "backend"
    return state.awaiting or "input"


def _fits(ev: Event, state: SessionState, loaded: LoadedProgram) -> bool:
    need = _need(state)
    if ev.type in ("start",):
        return state.seq == 0
    if ev.type == "hangup":
        return need != "closed"
    if isinstance(ev, BackendResultEvent):
        if need != "backend":
            return False
        tasks = loaded.program.tasks
        task = tasks[state.pc] if 0 <= state.pc < len(tasks) else None
        if not isinstance(task, CallBackendTask | SendEmailTask | SendSmsTask):
            return False
        return backend_name(task) == ev.backend
    if isinstance(ev, ExtractionResultEvent):
        return need == "extraction"
    return need == "input"


def _cannot(state: SessionState, nxt: Event | None) -> str:
    need = _need(state)
    if need == "closed":
        return (
            f"the new program {state.status} the session ({state.reason}) while the caller "
            f"still had {'a ' + nxt.type if nxt else 'more'} to say"
        )
    if nxt is None:
        what = {
            "input": "waits for the caller, who said nothing more",
            "backend": "calls a backend whose result the recording does not hold",
            "extraction": "asks an NER/LLM layer for a result the recording does not hold",
        }[need]
        return f"the new program {what}"
    if need == "input":
        return f"the new program waits for the caller, the recording has a {nxt.type} next"
    return f"the new program waits for a {need} result, the recording has a {nxt.type} next"


def what_if(
    new: LoadedProgram,
    log: SessionLog,
    *,
    recorded_states: list[SessionState] | None = None,
) -> WhatIfResult:
    """Replay ``log``'s inputs against ``new``. ``recorded_states`` (the state after each
    recorded turn, e.g. from a verified replay) are compared too; without them the states
    come from the records (JSONL logs carry them), else only the actions are compared."""
    res = WhatIfResult(log.session_id, log.tenant, log.program_id, new.id)
    recs = log.records
    first = recs[0]
    origin = recorded_states[0] if recorded_states else first.state
    try:
        state = new_session(
            new.program,
            log.session_id,
            tenant=log.tenant,
            language=origin.language if origin is not None else None,
            channel=origin.channel if origin is not None else "chat",
        )
    except RuntimeFault as e:
        res.verdict, res.turn, res.event = "cannot_continue", 1, "start"
        res.reason = e.message
        return res
    for i, rec in enumerate(recs):
        ev = rec.event
        if not _fits(ev, state, new):
            res.verdict, res.turn, res.event = "cannot_continue", rec.seq, ev.type
            res.reason = _cannot(state, ev)
            return res
        try:
            r = run_step(new.program, state, ev, engine=new.engine, plugins=new.plugins)
        except RuntimeFault as e:
            res.verdict, res.turn, res.event = "cannot_continue", rec.seq, ev.type
            res.reason = f"the new program refused the {ev.type}: {e.message}"
            return res
        state = r.state
        res.states.append(state)
        want = action_json(rec.actions)
        got = action_json(r.actions)
        recorded = recorded_states[i] if recorded_states and i < len(recorded_states) else rec.state
        diff: list[tuple[str, Any, Any]] = []
        if recorded is not None:
            diff = state_diff(_plain(observable(recorded)), _plain(observable(state)))
        else:
            res.compared_states = False
        if want != got or diff:
            res.turn, res.event = rec.seq, ev.type
            res.recorded_actions, res.new_actions, res.state_diff = want, got, diff
            nxt = recs[i + 1].event if i + 1 < len(recs) else None
            # a closed session needs nothing more: the change shows, it does not block
            stuck = _need(state) != "closed" and (nxt is None or not _fits(nxt, state, new))
            if stuck:
                res.verdict = "cannot_continue"
                res.reason = _cannot(state, nxt)
            else:
                res.verdict = "diverged"
                res.reason = "the actions differ" if want != got else "the state differs"
            return res
    return res


def _plain(d: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(orjson.dumps(d))
    return out
