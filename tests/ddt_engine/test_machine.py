"""The DDT machine: built with transitions, exported to a table; both must agree."""

from __future__ import annotations

import itertools
import logging

import pytest

from ddt_engine.catalogue import CONDITIONS, STANDARD_MACHINE, TRIGGERS
from ddt_engine.machine import (
    MachineError,
    build_machine,
    export_table,
    fire,
    fire_machine,
    machine_mermaid,
)
from schemas.ddt import MachineRule, MachineSpec
from tests.ddt_engine._ddt_helpers import compile_one


def test_table_and_machine_agree_on_every_combination() -> None:
    machine = build_machine(STANDARD_MACHINE)
    table = export_table(machine)
    checked = 0
    for state in STANDARD_MACHINE.states:
        for trigger in TRIGGERS:
            for values in itertools.product((True, False), repeat=len(CONDITIONS)):
                conditions = dict(zip(CONDITIONS, values, strict=True))
                assert fire(table, state, trigger, conditions) == fire_machine(
                    machine, state, trigger, conditions
                ), (state, trigger, conditions)
                checked += 1
    assert checked == len(STANDARD_MACHINE.states) * len(TRIGGERS) * 4
    assert machine.models == []  # the contract probe leaves no model behind


def test_standard_machine_behaviour() -> None:
    table = export_table(build_machine(STANDARD_MACHINE))
    none = {"has_missing_children": False, "needs_confirmation": False}
    assert fire(table, "start", "matched", none) == "success"
    assert fire(table, "start", "matched", {**none, "needs_confirmation": True}) == "confirmation"
    assert (
        fire(
            table, "noMatch", "matched", {"has_missing_children": True, "needs_confirmation": True}
        )
        == "start"
    )
    assert fire(table, "confirmation", "corrected", none) == "confirmation"
    assert fire(table, "confirmation", "denied", none) == "notConfirmed"
    assert fire(table, "invalid", "exhausted", none) == "failed"
    assert fire(table, "success", "matched", none) is None  # finals have no way out
    assert fire(table, "failed", "unmatched", none) is None


def test_no_auto_transitions_and_quiet_logger() -> None:
    machine = build_machine(STANDARD_MACHINE)
    assert not any(name.startswith("to_") for name in machine.events)
    assert logging.getLogger("transitions").getEffectiveLevel() >= logging.WARNING


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            MachineSpec(states=("start", "done"), initial="strat", transitions=()),
            "initial state 'strat' is not a state",
        ),
        (
            MachineSpec(
                states=("start", "done"),
                transitions=(MachineRule(trigger="matched", source="start", dest="dnoe"),),
            ),
            "unknown dest state 'dnoe'",
        ),
        (
            MachineSpec(
                states=("start", "done"),
                transitions=(
                    MachineRule(trigger="go", source="start", dest="done", conditions=("lucky",)),
                ),
            ),
            "unknown condition 'lucky'",
        ),
    ],
)
def test_bad_specs_are_rejected_when_built(spec: MachineSpec, message: str) -> None:
    with pytest.raises(MachineError, match=message):
        build_machine(spec)


def test_mermaid_diagram() -> None:
    text = machine_mermaid(compile_one({"type": "date"}, "birth"))
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> start" in lines
    assert "    start --> start : matched [has_missing_children]" in lines
    assert "    confirmation --> notConfirmed : denied" in lines
    assert "    success --> [*]" in lines and "    failed --> [*]" in lines
    assert (
        "    note right of start : asks birth whole, then each missing part (day, month, year)"
        in lines
    )
    # every rule of the spec is drawn once
    assert len([x for x in lines if " --> " in x and "[*]" not in x]) == len(
        {(r.source, r.dest, r.trigger, r.conditions) for r in STANDARD_MACHINE.transitions}
    )
