"""``options_from``: the caller picks an item of a list held in memory by its position
("la seconda", "l'ultima", "the first one", "numero 2", DTMF 2), or says a value of the
DDT's own type as always ("alle 15"). The picked item goes through the type's normaliser,
the validation rules and the confirmation like any other answer."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.ddt import compile_ddt
from ddt_engine.extract.choice import pick_position
from schemas.project import DdtDef
from tests.ddt_engine._ddt_helpers import Talk

SLOTS = ["09:00", "10:30", "15:00"]
TIME = {"type": "time", "confirm": "never", "options_from": "slots"}


def talk(data: dict[str, Any], memory: dict[str, Any], **kw: Any) -> Talk:
    t = Talk(data, memory=memory, **kw)
    t.start()
    return t


@pytest.mark.parametrize(
    ("lang", "text", "value"),
    [
        ("it", "la prima", "09:00"),
        ("it", "la seconda", "10:30"),
        ("it", "l'ultima per favore", "15:00"),
        ("it", "quella delle 15", "15:00"),  # a time of its own: the type's extractor
        ("it", "numero 2", "10:30"),
        ("it", "la terza", "15:00"),
        ("en", "the first one", "09:00"),
        ("en", "the last one", "15:00"),
        ("en", "option two", "10:30"),
        ("en", "3 pm", "15:00"),
    ],
)
def test_an_item_is_picked_by_its_position_or_said(lang: str, text: str, value: str) -> None:
    t = talk(TIME, {"slots": SLOTS}, lang=lang)
    step = t.say(text)
    assert (step.outcome, step.value) == ("success", value)


def test_a_position_beyond_the_list_is_no_match() -> None:
    t = talk(TIME, {"slots": SLOTS})
    step = t.say("la quarta")
    assert step.outcome == "continue"
    assert t.keys() == ["d/main/noMatch/1"]
    assert t.say("la seconda").value == "10:30"


@pytest.mark.parametrize("slots", [[], None, "09:00", {"a": 1}])
def test_no_list_in_memory_means_nothing_to_pick(slots: Any) -> None:
    memory = {} if slots is None else {"slots": slots}
    t = talk(TIME, memory)
    assert t.say("la prima").outcome == "continue"
    assert t.keys() == ["d/main/noMatch/1"]
    assert t.say("alle 9").value == "09:00"  # the type's own answers still work


def test_an_item_the_type_cannot_read_is_no_answer() -> None:
    t = talk(TIME, {"slots": ["presto", {"at": "10:00"}, True]})
    for text in ("la prima", "la seconda", "la terza"):
        assert t.say(text).outcome == "continue"
        assert t.keys()[0].startswith("d/main/noMatch/")


def test_dtmf_keys_the_position_on_voice() -> None:
    t = talk(TIME, {"slots": SLOTS}, channel="voice")
    assert t.dtmf("2").value == "10:30"
    t2 = talk(TIME, {"slots": SLOTS}, channel="voice")
    assert t2.dtmf("7").outcome == "continue"  # no seventh item
    assert t2.keys() == ["d/main/noMatch/1"]
    assert t2.dtmf("1500").value == "15:00"  # four keys: a time, as without options_from


def test_the_picked_item_is_validated_like_any_answer() -> None:
    data = {
        **TIME,
        "validate": [
            {
                "code": "morning",
                "rule": "value < '12:00'",
                "prompt": {"it": "Solo la mattina.", "en": "Mornings only."},
            }
        ],
    }
    t = talk(data, {"slots": SLOTS})
    assert t.say("l'ultima").outcome == "continue"
    assert t.texts()[0] == "Solo la mattina."
    assert t.say("la prima").value == "09:00"


def test_a_date_said_with_an_ordinal_is_a_date_not_a_pick() -> None:
    data = {"type": "date", "confirm": "never", "options_from": "slots"}
    memory = {"slots": ["2026-12-01", "2026-12-03"]}
    t = talk(data, memory)
    assert t.say("la seconda").value == "2026-12-03"
    t2 = talk(data, memory)
    # "il primo marzo 2027": "primo" is the day; the rest, "il marzo 2027", is a date too
    assert t2.say("il primo marzo 2027").value == "2027-03-01"
    t3 = talk(data, memory)
    assert t3.say("la prima").value == "2026-12-01"  # not "day 1 of some month"


def test_confirmation_reads_back_the_pick_and_a_correction_picks_again() -> None:
    data = {"type": "phone", "confirm": "always", "options_from": "slots"}
    t = talk(data, {"slots": ["+393471234567", "+390612345678"]})
    step = t.say("il secondo")
    assert step.state is not None and step.state.state == "confirmation"
    assert step.state.candidate == "+390612345678"
    step = t.say("no, il primo")
    assert step.state is not None and step.state.state == "confirmation"
    assert step.state.candidate == "+393471234567"
    assert t.say("sì").value == "+393471234567"


def test_a_choice_picks_among_the_options_offered_now_not_the_declared_order() -> None:
    data = {
        "type": "choice",
        "options_from": "slots",
        "choices": {
            "visita": {"it": ["visita"], "en": ["visit"]},
            "esame": {"it": ["esame"], "en": ["blood test"]},
            "referti": {"it": ["ritiro referti"], "en": ["results"]},
        },
    }
    t = talk(data, {"slots": ["esame", "referti"]}, lang="en")
    assert t.say("the first one").value == "esame"
    t2 = talk(data, {"slots": ["esame", "referti"]})
    assert t2.say("ritiro referti").value == "referti"  # a synonym, as always


def test_the_llm_layer_is_told_the_items_as_choices() -> None:
    t = talk({**TIME, "extract": {"llm": True}}, {"slots": SLOTS})
    t.say("boh, vediamo un po'")
    assert [a.choices for a in t.extracts()] == [tuple(SLOTS)]


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("la prima", "it", (0, "la")),
        ("l'ultima", "it", (2, "l")),
        ("il primo marzo", "it", (0, "il marzo")),
        ("numero due grazie", "it", (1, "grazie")),
        ("the second one", "en", (1, "the one")),
        ("alle 3", "it", None),  # bare numbers are never positions
        ("la 2", "it", None),
        ("la prima o la seconda", "it", None),  # two different positions
        ("la quarta", "it", None),  # beyond the list
        ("secondo me alle dieci", "it", None),  # "in my opinion"
        ("wait a second", "en", None),
    ],
)
def test_pick_position(text: str, lang: str, expected: tuple[int, str] | None) -> None:
    assert pick_position(text, lang, 3) == expected


def _compile(data: dict[str, Any], var_types: dict[str, str]) -> list[tuple[str, str]]:
    ddt, diags = compile_ddt(
        "d",
        DdtDef.model_validate(data),
        languages=("it",),
        prompts={},
        var_types=var_types,
        locate=lambda suffix: ("t.yaml", 1, 1),
    )
    assert (ddt is None) == any(d.severity == "error" for d in diags)
    return [(d.code, d.message) for d in diags]


@pytest.mark.parametrize(
    ("data", "var_types", "message"),
    [
        ({"type": "yes_no", "options_from": "slots"}, {"slots": "list"}, "cannot pick"),
        ({"type": "time", "options_from": "slots ++"}, {"slots": "list"}, "bad options_from"),
        ({"type": "time", "options_from": "slots"}, {"slots": "string"}, "must give a list"),
        ({"type": "time", "options_from": "slotz"}, {"slots": "list"}, "unknown variable"),
    ],
)
def test_bad_options_from_is_e319(
    data: dict[str, Any], var_types: dict[str, str], message: str
) -> None:
    diags = _compile(data, var_types)
    assert [c for c, _ in diags] == ["E319"]
    assert message in diags[0][1]


def test_options_from_is_left_out_of_the_program_when_unset() -> None:
    """Programs compiled before options_from existed keep their bytes, hence their id."""
    for data, present in ((TIME, True), ({"type": "time"}, False)):
        ddt, _ = compile_ddt(
            "d",
            DdtDef.model_validate(data),
            languages=("it",),
            prompts={},
            var_types={"slots": "list"},
            locate=lambda suffix: ("t.yaml", 1, 1),
        )
        assert ddt is not None
        assert ("options_from" in ddt.root.model_dump(mode="json")) is present
