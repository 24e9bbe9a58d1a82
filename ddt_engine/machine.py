"""The DDT dialogue machine: declared and validated with ``transitions``, run from a table.

A compiled DDT carries its machine as data (``MachineSpec``). When a program loads, the
engine builds one ``transitions.Machine`` per DDT from that data (no ``to_*`` auto
transitions, every state name checked, every condition name known) and exports it once
into a table ``{(state, trigger): ((dest, conditions), …)}``. Per turn the engine only looks
the table up (about 1 µs, against ~12 µs for firing a transitions trigger; see
``shared/notes/transitions.md``); a contract test proves that table and Machine agree on
every state, trigger and condition combination.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from transitions import Machine

from ddt_engine.catalogue import CONDITIONS
from schemas.ddt import CompiledDdt, MachineSpec

__all__ = [
    "DdtError",
    "MachineError",
    "Table",
    "build_machine",
    "export_table",
    "fire",
    "machine_mermaid",
]

Table = dict[tuple[str, str], tuple[tuple[str, tuple[str, ...]], ...]]
"""(state, trigger) -> the candidate rules in declaration order: (dest, conditions)."""

_LOG = logging.getLogger("transitions")


class DdtError(Exception):
    """Root error of the DDT engine (a compiled DDT that cannot run)."""


class MachineError(DdtError):
    """A machine spec that names an unknown state, condition, or has no initial state."""


class _ConditionModel:
    """A model whose named conditions read a dict; used to validate and to test the table."""

    def __init__(self, conditions: Mapping[str, bool] | None = None) -> None:
        self.conditions: Mapping[str, bool] = conditions or {}

    def __getattr__(self, name: str) -> Any:
        if name in CONDITIONS:
            return lambda: self.conditions.get(name, False) is True
        raise AttributeError(name)


def _validate(spec: MachineSpec, where: str) -> None:
    states = set(spec.states)
    if len(states) != len(spec.states):
        raise MachineError(f"{where}: duplicate state names in {list(spec.states)}")
    if spec.initial not in states:
        raise MachineError(f"{where}: initial state {spec.initial!r} is not a state")
    for rule in spec.transitions:
        for role, name in (("source", rule.source), ("dest", rule.dest)):
            if name not in states:
                raise MachineError(
                    f"{where}: rule {rule.trigger} {rule.source}->{rule.dest}: unknown {role} "
                    f"state {name!r}"
                )
        for cond in rule.conditions:
            if cond not in CONDITIONS:
                raise MachineError(
                    f"{where}: rule {rule.trigger} {rule.source}->{rule.dest}: unknown "
                    f"condition {cond!r} (known: {', '.join(CONDITIONS)})"
                )


def build_machine(spec: MachineSpec, *, name: str = "ddt") -> Machine:
    """A validated ``transitions.Machine`` (no model attached) for ``spec``.

    Raises ``MachineError`` for a spec naming an unknown state or condition: transitions
    itself would silently add a misspelt initial state and fail only at run time on a bad
    ``dest``.
    """
    _validate(spec, name)
    if _LOG.level == logging.NOTSET:
        _LOG.setLevel(logging.WARNING)  # one INFO line per callback costs ~3x on a hot path
    return Machine(
        model=None,
        states=list(spec.states),
        initial=spec.initial,
        transitions=[
            {
                "trigger": r.trigger,
                "source": r.source,
                "dest": r.dest,
                "conditions": list(r.conditions),
            }
            for r in spec.transitions
        ],
        auto_transitions=False,
        send_event=False,
        name=name,
    )


def export_table(machine: Machine) -> Table:
    """The machine's rules as a lookup table (walks ``machine.events`` once)."""
    table: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            rows = table.setdefault((source, trigger), [])
            for t in transitions:
                if t.dest is None:
                    raise MachineError(f"internal transition on {trigger} is not supported")
                conds: list[str] = []
                for c in t.conditions:
                    if not c.target or not isinstance(c.func, str):
                        raise MachineError(f"unsupported condition {c.func!r} on {trigger}")
                    conds.append(c.func)
                rows.append((t.dest, tuple(conds)))
    return {k: tuple(v) for k, v in table.items()}


def fire(table: Table, state: str, trigger: str, conditions: Mapping[str, bool]) -> str | None:
    """The destination of ``trigger`` in ``state`` (first rule whose conditions all hold),
    or None when no rule applies."""
    for dest, conds in table.get((state, trigger), ()):
        for c in conds:
            if conditions.get(c) is not True:
                break
        else:
            return dest
    return None


def fire_machine(
    machine: Machine, state: str, trigger: str, conditions: Mapping[str, bool]
) -> str | None:
    """The same question asked to the transitions Machine itself (for the contract test)."""
    model = _ConditionModel(conditions)
    machine.add_model(model, initial=state)
    try:
        event = machine.events.get(trigger)
        if event is None:
            return None
        try:
            fired = event.trigger(model)
        except Exception:  # transitions raises MachineError for a trigger invalid here
            return None
        return str(model.state) if fired else None
    finally:
        machine.remove_model(model)


def machine_mermaid(ddt: CompiledDdt) -> str:
    """A Mermaid ``stateDiagram-v2`` of the DDT's dialogue machine, for designers."""
    spec = ddt.machine
    lines = [
        "stateDiagram-v2",
        f"    %% DDT {ddt.name} ({ddt.type})",
        f"    [*] --> {spec.initial}",
    ]
    seen: set[tuple[str, str, str]] = set()
    for r in spec.transitions:
        label = r.trigger + (f" [{' and '.join(r.conditions)}]" if r.conditions else "")
        key = (r.source, r.dest, label)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"    {r.source} --> {r.dest} : {label}")
    finals = [s for s in spec.states if not any(r.source == s for r in spec.transitions)]
    for s in finals:
        lines.append(f"    {s} --> [*]")
    if ddt.root.children:
        asks = ", ".join(c.name for c in ddt.root.children)
        lines.append(
            f"    note right of {spec.initial} : asks {ddt.name} whole, then each "
            f"missing part ({asks})"
        )
    return "\n".join(lines) + "\n"
