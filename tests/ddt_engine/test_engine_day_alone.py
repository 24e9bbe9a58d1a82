"""A day of the month alone ("the 14th", "il 14") for a date with ``missing_year``, and a
new day said while the month is asked (the English QA pass of the examples). Today is
2 March 2026 (a Monday)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.events import UserInputEvent
from tests.ddt_engine._ddt_helpers import Talk

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def talk(data: dict[str, Any], memory: dict[str, Any] | None = None, lang: str = "en") -> Talk:
    t = Talk(data, memory=memory or {}, lang=lang)
    t.start()
    return t


def say(t: Talk, text: str, at: datetime = MONDAY) -> Any:
    return t.event(UserInputEvent(at=at, text=text))


# -- a day of the month alone ----------------------------------------------------------


def date_talk(missing_year: str | None = "past", confirm: str = "when_uncertain") -> Talk:
    data: dict[str, Any] = {"type": "date", "confirm": confirm}
    if missing_year is not None:
        data["missing_year"] = missing_year
    return talk(data)


@pytest.mark.parametrize(
    ("missing_year", "text", "value"),
    [
        ("past", "the 14th", "2026-02-14"),
        ("past", "the 2nd", "2026-03-02"),  # today
        ("past", "the 1st", "2026-03-01"),
        ("past", "the 30th", "2026-01-30"),  # February has none
        ("coming", "the 14th", "2026-03-14"),
        ("coming", "the 1st", "2026-04-01"),
        ("coming", "the 31st", "2026-03-31"),
    ],
)
def test_a_day_alone_is_the_last_or_coming_such_day_read_back(
    missing_year: str, text: str, value: str
) -> None:
    t = date_talk(missing_year)
    say(t, text)
    assert t.state is not None and t.state.state == "confirmation", t.texts()
    assert say(t, "yes").value == value


def test_a_day_alone_corrected_at_the_read_back() -> None:
    t = date_talk("past")
    say(t, "the 14th")
    say(t, "no, the 20th")  # the day changes, the month read back stays
    assert t.state is not None and t.state.state == "confirmation"
    assert say(t, "yes").value == "2026-02-20"


def test_a_day_alone_without_a_read_back_still_asks_the_month() -> None:
    t = date_talk("past", confirm="never")
    say(t, "the 14th")
    assert t.keys() == ["d/month/start/1"]
    assert say(t, "February").value == "2026-02-14"


def test_a_day_alone_without_missing_year_asks_the_month() -> None:
    t = date_talk(None)
    say(t, "the 14th")
    assert t.keys() == ["d/month/start/1"]


@pytest.mark.parametrize(
    ("lang", "first", "fix", "month", "value"),
    [
        ("en", "the 14th", "no wait, the 24th", "February", "2026-02-24"),
        ("en", "the 14th", "the 24th", "February", "2026-02-24"),
        ("it", "il 14", "no aspetta, il 24", "febbraio", "2026-02-24"),
    ],
)
def test_a_new_day_while_the_month_is_asked_replaces_the_day(
    lang: str, first: str, fix: str, month: str, value: str
) -> None:
    t = talk({"type": "date", "confirm": "never", "missing_year": "past"}, lang=lang)
    say(t, first)
    say(t, fix)
    assert t.keys() == ["d/month/start/1"], t.texts()
    assert say(t, month).value == value


def test_a_month_while_the_month_is_asked_is_still_the_month() -> None:
    t = talk({"type": "date", "confirm": "never"}, lang="it")
    say(t, "il 14")
    say(t, "marzo")
    assert t.keys() == ["d/year/start/1"]


@pytest.mark.parametrize(
    ("lang", "text", "read_back"),
    [
        ("en", "the 14th", "14 February 2026"),
        ("it", "il 14", "il 14 febbraio 2026"),
    ],
)
def test_the_month_taken_is_read_back(lang: str, text: str, read_back: str) -> None:
    t = talk({"type": "date", "confirm": "when_uncertain", "missing_year": "past"}, lang=lang)
    say(t, text)
    assert read_back in t.text()


def test_a_day_no_month_has_is_still_invalid() -> None:
    t = date_talk("past")
    say(t, "the 45th")
    assert "/invalid" in t.keys()[0]


def test_a_bare_number_the_month_cannot_take_is_still_an_invalid_month() -> None:
    t = talk({"type": "date", "confirm": "never"}, lang="it")
    say(t, "il 14")
    say(t, "24")
    assert t.keys()[0].startswith("d/month/invalid"), t.keys()
