"""``missing_year``: a date said without its year ("il 15 dicembre") is asked for by default;
``coming`` takes the next such day on or after today (a booking), ``past`` the last one on
or before it (an incident). Today is 23 November 2026 (``AT``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compiler.ddt import compile_ddt
from ddt_engine.engine import _year_of
from schemas.project import DdtDef
from tests.ddt_engine._ddt_helpers import Talk


def talk(missing_year: str, lang: str = "it") -> Talk:
    t = Talk({"type": "date", "confirm": "never", "missing_year": missing_year}, lang=lang)
    t.start()
    return t


@pytest.mark.parametrize(
    ("missing_year", "lang", "text", "value"),
    [
        ("coming", "it", "il 15 dicembre", "2026-12-15"),
        ("coming", "it", "il 15 gennaio", "2027-01-15"),
        ("coming", "it", "il 23 novembre", "2026-11-23"),  # today is still to come
        ("coming", "en", "January 3rd", "2027-01-03"),
        ("past", "it", "il 15 dicembre", "2025-12-15"),
        ("past", "it", "il 3 marzo", "2026-03-03"),
        ("past", "it", "il 23 novembre", "2026-11-23"),
        ("past", "en", "on December 28th", "2025-12-28"),
        # a year said is the year said, whatever the policy
        ("coming", "it", "il 15 gennaio 2026", "2026-01-15"),
        ("past", "en", "December 28th 2026", "2026-12-28"),
    ],
)
def test_a_day_without_its_year(missing_year: str, lang: str, text: str, value: str) -> None:
    step = talk(missing_year, lang).say(text)
    assert (step.outcome, step.value) == ("success", value)


def test_by_default_the_year_is_asked_for() -> None:
    t = talk("ask")
    step = t.say("il 15 dicembre")
    assert step.outcome == "continue"
    assert t.keys() == ["d/year/start/1"]
    assert t.say("2027").value == "2027-12-15"


def test_an_impossible_day_is_still_invalid() -> None:
    t = talk("coming")
    assert t.say("il 31 aprile").outcome == "continue"
    assert t.keys()[0].startswith("d/main/invalid/")


@pytest.mark.parametrize(
    ("policy", "today", "year"),
    [
        ("coming", datetime(2026, 3, 1, tzinfo=UTC), 2028),  # the next 29 February
        ("past", datetime(2026, 3, 1, tzinfo=UTC), 2024),
        ("coming", datetime(2028, 2, 29, tzinfo=UTC), 2028),
        (None, datetime(2026, 3, 1, tzinfo=UTC), 2026),  # no policy: this year's
    ],
)
def test_29_february(policy: str | None, today: datetime, year: int) -> None:
    assert _year_of(29, 2, today, policy) == year


def test_missing_year_is_only_for_a_date() -> None:
    ddt, diags = compile_ddt(
        "d",
        DdtDef.model_validate({"type": "time", "missing_year": "coming"}),
        languages=("it", "en"),
        prompts={},
        var_types={},
        locate=lambda suffix: ("test.yaml", 1, 1),
    )
    assert ddt is None
    assert [(d.code, d.pointer) for d in diags] == [("E323", "/ddts/d/missing_year")]


def test_unset_it_leaves_the_compiled_ddt_as_it_was() -> None:
    def compiled(data: dict[str, str]) -> bytes:
        ddt, _ = compile_ddt(
            "d",
            DdtDef.model_validate(data),
            languages=("it", "en"),
            prompts={},
            var_types={},
            locate=lambda suffix: ("test.yaml", 1, 1),
        )
        assert ddt is not None
        return ddt.model_dump_json().encode()

    plain = compiled({"type": "date"})
    assert plain == compiled({"type": "date", "missing_year": "ask"})
    assert b"missing_year" not in plain
    coming = compiled({"type": "date", "missing_year": "coming"})
    assert b'"missing_year":"coming"' in coming


@pytest.mark.parametrize(
    ("missing_year", "lang", "text", "value"),
    [
        # QA: "it was Friday night" for an incident was the coming Friday (a future date)
        ("past", "en", "it was Friday night", "2026-11-20"),
        ("past", "it", "venerdì sera", "2026-11-20"),
        ("past", "en", "on Monday", "2026-11-16"),  # today is a Monday: a week ago
        ("past", "it", "sabato 14", "2026-11-14"),  # the last Saturday that was the 14th
        ("past", "en", "last Friday", "2026-11-20"),
        # said with its direction, the direction said wins
        ("past", "en", "next Friday", "2026-11-27"),
        ("past", "it", "venerdì prossimo", "2026-11-27"),
        ("coming", "en", "on Friday", "2026-11-27"),
        ("ask", "it", "venerdì", "2026-11-27"),  # no policy: the coming one, as before
    ],
)
def test_a_weekday_said_alone(missing_year: str, lang: str, text: str, value: str) -> None:
    step = talk(missing_year, lang).say(text)
    assert (step.outcome, step.value) == ("success", value)


def test_a_past_weekday_and_a_day_that_do_not_agree_are_not_taken() -> None:
    # 13 November 2026 was a Friday, not a Saturday: the caller said two different days
    t = talk("past")
    assert t.say("sabato 13").outcome == "continue"
