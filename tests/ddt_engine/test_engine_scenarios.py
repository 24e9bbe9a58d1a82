"""Scenario tests of the DDT engine: every state and transition, in Italian and English.

Each test compiles a small DdtDef with the real compiler, talks to the real engine with
the real extractors, and asserts the exact prompts played and the values collected.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas.actions import DtmfListen, ListenAction
from schemas.ddt import DdtStep
from tests.ddt_engine._ddt_helpers import AT, Talk

BIRTH: dict[str, Any] = {
    "type": "date",
    "label": {"it": "la sua data di nascita", "en": "your date of birth"},
}

# -- main data in one go, success -----------------------------------------------------


def test_whole_date_in_one_go_it() -> None:
    t = Talk(BIRTH)
    t.start()
    assert t.keys() == ["d/main/start/1"]
    assert t.text() == "Mi dice la sua data di nascita?"
    assert t.listens() == [ListenAction(expect="date")]
    step = t.say("3 marzo 1980")
    assert step.outcome == "success"
    assert step.value == "1980-03-03"
    assert step.critical
    assert t.keys() == ["d/main/success/1"]
    assert t.text() == "Perfetto, grazie."
    assert step.state is None


def test_whole_date_in_one_go_en() -> None:
    t = Talk(BIRTH, lang="en")
    t.start()
    assert t.text() == "Could you tell me your date of birth?"
    step = t.say("March 3rd 1980")
    assert (step.outcome, step.value) == ("success", "1980-03-03")
    assert t.text() == "Great, thank you."


# -- partial fill and mixed initiative ----------------------------------------------------


def test_partial_fill_asks_only_the_year() -> None:
    t = Talk(BIRTH)
    t.start()
    step = t.say("il 3 marzo")
    assert step.outcome == "continue"
    assert step.state is not None
    assert step.state.values == {"day": 3, "month": 3}
    assert step.state.node == ("year",)
    assert t.keys() == ["d/year/start/1"]
    assert t.text() == "Di che anno?"
    assert t.listens() == [ListenAction(expect="year")]
    step = t.say("1980")
    assert (step.outcome, step.value) == ("success", "1980-03-03")


def test_partial_fill_month_and_year_then_day() -> None:
    t = Talk(BIRTH)
    t.start()
    t.say("marzo 1980")
    assert t.text() == "Mi dice il giorno?"
    step = t.say("il 15")
    assert (step.outcome, step.value) == ("success", "1980-03-15")


def test_partial_fill_en() -> None:
    t = Talk(BIRTH, lang="en")
    t.start()
    t.say("March the 3rd")
    assert t.text() == "Which year?"
    step = t.say("1980")
    assert (step.outcome, step.value) == ("success", "1980-03-03")


def test_mixed_initiative_answer_for_another_part_is_taken() -> None:
    t = Talk(BIRTH)
    t.start()
    t.say("marzo")
    assert t.keys() == ["d/day/start/1"]
    step = t.say("1980")  # the year, while the day was asked
    assert step.state is not None
    assert step.state.values == {"month": 3, "year": 1980}
    assert t.keys() == ["d/day/start/1"]  # still (only) the day is missing
    step = t.say("15")
    assert (step.outcome, step.value) == ("success", "1980-03-15")


def test_a_bad_day_is_not_read_as_a_two_digit_year() -> None:
    t = Talk(BIRTH)
    t.start()
    t.say("marzo 1980")
    step = t.say("45")
    assert t.keys() == ["d/day/invalid/1"]
    assert t.text() == "Il giorno deve essere un numero da 1 a 31. Mi dice il giorno?"
    assert step.state is not None and step.state.values == {"month": 3, "year": 1980}


# -- noMatch escalation to failure ------------------------------------------------------


def test_no_match_escalates_then_fails_it() -> None:
    t = Talk(BIRTH)
    t.start()
    t.say("boh")
    assert t.keys() == ["d/main/noMatch/1"]
    assert t.text() == "Scusi, non ho capito. Mi dice la sua data di nascita?"
    t.say("mah")
    assert t.keys() == ["d/main/noMatch/2"]
    assert t.text() == (
        "Non ho capito. Mi dice la sua data di nascita? "
        "Per esempio: 3 marzo 1980, oppure 03/03/1980."
    )
    t.say("uffa")
    assert t.keys() == ["d/main/noMatch/3"]
    assert t.text() == (
        "Mi dispiace, ancora non ho capito. Mi dice la sua data di nascita? "
        "Per esempio: 3 marzo 1980, oppure 03/03/1980."
    )
    step = t.say("niente")
    assert step.outcome == "failure"
    assert step.reason == "max_attempts: noMatch"
    assert step.critical and step.state is None
    assert t.keys() == ["d/main/failed/1"]
    assert t.text() == "Mi dispiace, non sono riuscito a capire la sua data di nascita."
    assert t.listens() == []


def test_no_match_escalation_en_voice_has_ssml() -> None:
    t = Talk(BIRTH, lang="en", channel="voice")
    t.start()
    t.say("hmm")
    assert t.text() == "Sorry, I didn't catch that. Could you tell me your date of birth?"
    assert t.ssml() is None
    t.say("whatever")
    assert t.text() == (
        "I didn't understand. Could you tell me your date of birth? "
        "For example: 3 March 1980, or 03/03/1980."
    )
    assert t.ssml() == (
        '<speak>I\'m not sure I understood. <break time="300ms"/> Could you tell me your '
        "date of birth? For example: March the third, nineteen eighty.</speak>"
    )


def test_limits_come_from_max_attempts() -> None:
    t = Talk({**BIRTH, "max_attempts": {"no_match": 1}})
    t.start()
    t.say("boh")
    assert t.keys() == ["d/main/noMatch/1"]
    assert t.say("boh").outcome == "failure"


def test_total_limit_across_states() -> None:
    t = Talk({"type": "integer", "max_attempts": {"total": 3}})
    t.start()
    t.say("boh")
    t.silence()
    t.say("mah")
    step = t.silence()  # fourth failed attempt, each state still under its own limit
    assert step.outcome == "failure"
    assert step.reason == "max_attempts: noInput"


# -- noInput --------------------------------------------------------------------------


def test_no_input_has_its_own_escalation_it_voice() -> None:
    t = Talk(BIRTH, channel="voice")
    t.start()
    assert t.listens() == [ListenAction(expect="date", dtmf=DtmfListen())]
    t.silence()
    assert t.keys() == ["d/main/noInput/1"]
    assert t.text() == "Non ho ricevuto risposta. Mi dice la sua data di nascita?"
    assert t.ssml() == "<speak>Non ho sentito la risposta. Mi dice la sua data di nascita?</speak>"
    t.say("boh")  # a noMatch in between does not reset the noInput counter
    assert t.keys() == ["d/main/noMatch/1"]
    t.silence()
    assert t.keys() == ["d/main/noInput/2"]
    t.silence()
    assert t.keys() == ["d/main/noInput/3"]
    step = t.silence()
    assert (step.outcome, step.reason) == ("failure", "max_attempts: noInput")


def test_empty_text_counts_as_no_input_en() -> None:
    t = Talk(BIRTH, lang="en")
    t.start()
    t.say("   ")
    assert t.keys() == ["d/main/noInput/1"]
    assert t.text() == "I didn't get an answer. Could you tell me your date of birth?"


# -- invalid vs noMatch -------------------------------------------------------------------


def test_invalid_plays_only_the_invalid_prompt_then_escalates() -> None:
    t = Talk(BIRTH)
    t.start()
    step = t.say("31/02/2020")
    assert t.keys() == ["d/main/invalid/1"]  # one prompt: no re-ask next to it
    assert t.text() == "Questa data non esiste. Mi dice la sua data di nascita?"
    assert step.state is not None and step.state.rule == "invalid_date"
    t.say("45 marzo")
    assert t.keys() == ["d/main/invalid/2"]
    assert t.text() == (
        "Questa data non esiste. Mi dice la sua data di nascita? "
        "Per esempio: 3 marzo 1980, oppure 03/03/1980."
    )
    t.say("boh")
    assert t.keys() == ["d/main/noMatch/1"]  # noMatch has its own prompts and counter
    step = t.say("3 marzo 1980")
    assert step.value == "1980-03-03"


def test_designer_rule_plays_its_own_prompt() -> None:
    t = Talk(
        {
            **BIRTH,
            "validate": [
                {
                    "rule": "value < today()",
                    "code": "future",
                    "prompt": {
                        "it": "La data di nascita non può essere nel futuro. Mi ridice la data?",
                        "en": "Your date of birth can't be in the future. What is it?",
                    },
                }
            ],
        }
    )
    t.start()
    step = t.say("3 marzo 2030")
    assert step.critical  # a validation result
    assert t.keys() == ["d/main/invalid:future/1"]
    assert t.text() == "La data di nascita non può essere nel futuro. Mi ridice la data?"
    assert step.state is not None and step.state.values == {}  # asked again as a whole
    assert t.say("3 marzo 1980").value == "1980-03-03"


def test_rule_over_other_memory_en() -> None:
    t = Talk(
        {
            "type": "integer",
            "validate": [
                {
                    "rule": "value <= patient.max",
                    "code": "too_many",
                    "prompt": {"it": "Troppi.", "en": "At most {{ patient.max }}, please."},
                }
            ],
        },
        lang="en",
        memory={"patient": {"max": 4}},
    )
    t.start()
    t.say("7")
    assert t.text() == "At most 4, please."
    assert t.say("3").value == 3


def test_invalid_exhausted_fails() -> None:
    t = Talk({**BIRTH, "max_attempts": {"invalid": 2}})
    t.start()
    t.say("31/02/2020")
    t.say("30/02/2020")
    step = t.say("32/01/2020")
    assert (step.outcome, step.reason) == ("failure", "max_attempts: invalid")


def test_day_range_rule_on_sub_data_en() -> None:
    t = Talk(BIRTH, lang="en")
    t.start()
    t.say("March 1980")
    t.say("45")
    assert t.keys() == ["d/day/invalid/1"]
    assert t.text() == "The day must be a number from 1 to 31. Which day of the month?"


# -- confirmation ---------------------------------------------------------------------------


def test_always_confirm_yes_it() -> None:
    t = Talk({"type": "phone"})
    t.start()
    assert t.text() == "Mi dice il suo numero di telefono?"
    step = t.say("333 123 4567")
    assert step.state is not None and step.state.state == "confirmation"
    assert t.keys() == ["d/main/confirmation/1"]
    assert t.text() == "Ho capito: 333 123 4567. È corretto?"
    step = t.say("sì certo")
    assert (step.outcome, step.value, step.critical) == ("success", "+393331234567", True)


def test_correction_at_confirmation_replaces_the_day() -> None:
    t = Talk({**BIRTH, "confirm": "always"})
    t.start()
    t.say("3 marzo 1980")
    assert t.text() == "Ho capito: il 3 marzo 1980. È corretto?"
    step = t.say("no, il 15")
    assert step.critical  # a confirmation answered
    assert t.keys() == ["d/main/confirmation/1"]
    assert t.text() == "Ho capito: il 15 marzo 1980. È corretto?"
    step = t.say("esatto")
    assert (step.outcome, step.value) == ("success", "1980-03-15")


def _answer_read_back(lang: str, answer: str) -> tuple[Talk, DdtStep]:
    """``answer`` to the read-back of 3 March 1980."""
    t = Talk({**BIRTH, "confirm": "always"}, lang=lang)
    t.start()
    t.say("3 marzo 1980" if lang == "it" else "March 3rd 1980")
    return t, t.say(answer)


@pytest.mark.parametrize(
    ("lang", "answer", "corrected"),
    [
        ("it", "sì, ma il 15", "15 marzo 1980"),
        ("it", "sì però il giorno è il 16", "16 marzo 1980"),
        ("it", "sì, il 15", "15 marzo 1980"),  # another day said plainly: not a yes to the 3rd
        ("en", "yes but it's the 15th", "15 March 1980"),
        ("en", "yes, the 16th", "16 March 1980"),
    ],
)
def test_a_yes_with_another_value_is_a_correction_not_a_confirmation(
    lang: str, answer: str, corrected: str
) -> None:
    """It used to confirm the value read back: a wrong date booked."""
    t, step = _answer_read_back(lang, answer)
    assert step.outcome == "continue"
    assert t.keys() == ["d/main/confirmation/1"]
    assert corrected in t.text()


@pytest.mark.parametrize(
    ("lang", "answer", "outcome"),
    [
        ("it", "sì, il 3", "success"),  # the same day again: a yes
        ("it", "sì grazie", "success"),
        ("it", "sì, ma certo", "success"),  # "ma certo" is a yes
        ("en", "yes but of course", "success"),
        ("it", "sì, ma non è giusto", "continue"),  # a "but" with nothing to read: asked again
        ("en", "yes but the date is wrong", "continue"),
    ],
)
def test_a_yes_that_adds_nothing_new_confirms_and_a_bare_but_asks_again(
    lang: str, answer: str, outcome: str
) -> None:
    t, step = _answer_read_back(lang, answer)
    assert step.outcome == outcome, t.texts()
    if outcome == "success":
        assert step.value == "1980-03-03"
    else:
        assert t.keys() == ["d/main/confirmation/2"]  # the explicit yes-or-no question


def test_a_yes_with_an_unsure_other_reading_still_confirms() -> None:
    """ "sì, alle 3" at the read-back of 15:00: "alle 3" is 03:00 or 15:00, a guess that
    does not overturn the caller's yes."""
    t = Talk({"type": "time", "confirm": "always"})
    t.start()
    t.say("alle 15")
    step = t.say("sì, alle 3")
    assert (step.outcome, step.value) == ("success", "15:00")


def test_correction_without_no_and_unclear_answer_en() -> None:
    t = Talk({"type": "phone"}, lang="en")
    t.start()
    t.say("333 123 4567")
    assert t.text() == "I got: 333 123 4567. Is that right?"
    t.say("hmm")
    assert t.keys() == ["d/main/confirmation/2"]
    assert t.text() == (
        "Sorry, I didn't get your answer. Is 333 123 4567 right? Please answer yes or no."
    )
    t.say("333 765 4321")  # a new number is a correction
    assert t.keys() == ["d/main/confirmation/1"]
    assert t.text() == "I got: 333 765 4321. Is that right?"
    step = t.say("yes please")
    assert (step.outcome, step.value) == ("success", "+393337654321")


def test_denied_asks_again_and_denials_are_limited() -> None:
    t = Talk({"type": "phone", "max_attempts": {"confirmation": 2}})
    t.start()
    t.say("333 123 4567")
    step = t.say("no")
    assert t.keys() == ["d/main/notConfirmed/1"]
    assert t.text() == "D'accordo, mi scusi. Mi dice il suo numero di telefono?"
    assert step.state is not None and step.state.candidate is None
    t.say("333 123 4568")
    t.say("no grazie")
    assert t.keys() == ["d/main/notConfirmed/2"]
    assert t.text() == (
        "Va bene, riproviamo. Mi dice il suo numero di telefono? Per esempio: 333 123 4567."
    )
    t.say("333 123 4569")
    step = t.say("no")
    assert (step.outcome, step.reason) == ("failure", "max_attempts: denied")
    assert t.text() == "Mi dispiace, non sono riuscito a capire il suo numero di telefono."


def test_denied_date_clears_every_part() -> None:
    t = Talk({**BIRTH, "confirm": "always"})
    t.start()
    t.say("il 3 marzo")
    t.say("1980")
    step = t.say("no")
    assert step.state is not None
    assert (step.state.values, step.state.node) == ({}, ())
    t.say("4 aprile 1981")
    assert t.text() == "Ho capito: il 4 aprile 1981. È corretto?"


def test_policy_never_skips_confirmation_even_when_uncertain() -> None:
    t = Talk({**BIRTH, "confirm": "never"})
    t.start()
    step = t.say("15/03/80", confidence=0.3)
    assert (step.outcome, step.value) == ("success", "1980-03-15")


def test_when_uncertain_confirms_a_guess_only() -> None:
    t = Talk(BIRTH)  # date: when_uncertain by default
    t.start()
    t.say("15/03/80")  # a two-digit year is a guess
    assert t.keys() == ["d/main/confirmation/1"]
    assert t.text() == "Ho capito: il 15 marzo 1980. È corretto?"
    assert t.say("sì").value == "1980-03-15"


def test_when_uncertain_confirms_low_asr_confidence_en() -> None:
    t = Talk(BIRTH, lang="en")
    t.start()
    t.say("3 March 1980", confidence=0.4)
    assert t.text() == "I got: 3 March 1980. Is that right?"
    step = t.say("yep")
    assert (step.outcome, step.value) == ("success", "1980-03-03")
    t2 = Talk(BIRTH, lang="en")
    t2.start()
    assert t2.say("3 March 1980", confidence=0.9).outcome == "success"


def test_no_input_at_confirmation_asks_the_confirmation_again() -> None:
    t = Talk({"type": "phone"})
    t.start()
    t.say("333 123 4567")
    t.silence()
    assert t.keys() == ["d/main/confirmation/2"]
    assert t.text() == "Mi scusi, 333 123 4567: è corretto? Risponda sì o no."


def test_yes_no_type_never_confirms() -> None:
    t = Talk({"type": "yes_no", "prompts": {"start": {"it": ["Conferma?"], "en": ["OK?"]}}})
    t.start()
    assert t.text() == "Conferma?"
    step = t.say("sì certo")
    assert (step.outcome, step.value) == ("success", True)


# -- global commands ---------------------------------------------------------------------


def test_repeat_replays_the_last_prompt_without_counting() -> None:
    t = Talk(BIRTH)
    t.start()
    before = t.say("boh").state
    step = t.say("può ripetere?")
    assert step.reason == "repeat"
    assert t.keys() == ["d/main/noMatch/1"]
    assert t.text() == "Scusi, non ho capito. Mi dice la sua data di nascita?"
    assert step.state == before  # no attempt counted, nothing changed


def test_repeat_at_confirmation_renders_the_value_again_en() -> None:
    t = Talk({"type": "phone"}, lang="en")
    t.start()
    t.say("333 123 4567")
    t.say("sorry, can you repeat that?")
    assert t.text() == "I got: 333 123 4567. Is that right?"


def test_help_then_answer() -> None:
    t = Talk(BIRTH)
    t.start()
    step = t.say("aiuto")
    assert step.reason == "help"
    assert t.keys() == ["d/main/help/1"]
    assert t.text() == "Scriva giorno, mese e anno. Per esempio: 3 marzo 1980, oppure 03/03/1980."
    assert step.state is not None and step.state.total == 0
    t.say("ripeta")  # repeat after help repeats the help
    assert t.keys() == ["d/main/help/1"]
    assert t.say("3 marzo 1980").outcome == "success"


def test_operator_transfers_in_any_state() -> None:
    t = Talk({"type": "phone"})
    t.start()
    t.say("333 123 4567")
    step = t.say("voglio parlare con un operatore")
    assert (step.outcome, step.reason, step.critical) == ("transfer", "operator_requested", True)
    assert step.actions == () and step.state is None


def test_cancel_en() -> None:
    t = Talk(BIRTH, lang="en")
    t.start()
    step = t.say("stop")
    assert (step.outcome, step.reason) == ("cancel", "caller_cancelled")


def test_hangup_cancels() -> None:
    t = Talk(BIRTH)
    t.start()
    step = t.hangup()
    assert (step.outcome, step.reason) == ("cancel", "hangup")


# -- DTMF -----------------------------------------------------------------------------


def test_dtmf_phone_on_voice() -> None:
    t = Talk({"type": "phone"}, channel="voice")
    t.start()
    assert t.listens() == [ListenAction(expect="phone", dtmf=DtmfListen())]
    t.dtmf("3331234567#")
    assert t.text() == "Ho capito: 333 123 4567. È corretto?"
    assert t.ssml() == (
        '<speak>Ho capito: 3 3 3, 1 2 3, 4 5 6 7. <break time="300ms"/> È corretto?</speak>'
    )
    step = t.dtmf("1")  # 1 = yes at a confirmation
    assert (step.outcome, step.value) == ("success", "+393331234567")


def test_dtmf_date_ddmmyyyy_and_sub_data_digits() -> None:
    t = Talk(BIRTH, channel="voice")
    t.start()
    assert t.dtmf("15031980#").value == "1980-03-15"
    t2 = Talk(BIRTH, channel="voice")
    t2.start()
    t2.say("marzo 1980")
    assert t2.listens() == [ListenAction(expect="day", dtmf=DtmfListen(max_digits=8))]
    assert t2.dtmf("15").value == "1980-03-15"


def test_dtmf_not_allowed_is_no_match() -> None:
    t = Talk({"type": "email"}, channel="voice")
    t.start()
    assert t.listens() == [ListenAction(expect="email")]
    t.dtmf("123")
    assert t.keys() == ["d/main/noMatch/1"]


def test_dtmf_switched_off_by_the_designer() -> None:
    t = Talk({"type": "phone", "dtmf": {"allowed": False}}, channel="voice")
    t.start()
    assert t.listens() == [ListenAction(expect="phone")]
    t.dtmf("3331234567")
    assert t.keys() == ["d/main/noMatch/1"]


def test_dtmf_choice_index() -> None:
    t = Talk(
        {
            "type": "choice",
            "choices": {"visita": {"it": ["visita medica"]}, "esame": {"it": ["esame"]}},
        },
        channel="voice",
    )
    t.start()
    assert t.text() == "Mi dice la sua scelta? Può scegliere tra: visita medica o esame."
    assert t.dtmf("2").value == "esame"


# -- NER / LLM layers ---------------------------------------------------------------------


def test_ner_then_llm_layers_run_outside_the_engine() -> None:
    t = Talk({**BIRTH, "extract": {"ner": True, "llm": True}})
    t.start()
    step = t.say("il giorno della festa della mamma di quell'anno")
    assert step.outcome == "continue" and step.reason == "extract"
    [ex] = t.extracts()
    assert (ex.layer, ex.data_type, ex.language) == ("ner", "date", "it")
    assert t.texts() == []
    t.extraction("ner", no_match=True)
    [ex] = t.extracts()
    assert ex.layer == "llm"
    assert ex.text == "il giorno della festa della mamma di quell'anno"
    t.extraction("llm", "1980-05-11")
    # a value from an LLM is uncertain: when_uncertain confirms it
    assert t.text() == "Ho capito: l'11 maggio 1980. È corretto?"
    assert t.say("sì").value == "1980-05-11"


def test_layer_garbage_is_no_match() -> None:
    t = Talk({"type": "phone", "extract": {"llm": True}})
    t.start()
    t.say("il numero di casa mia")
    t.extraction("llm", {"nonsense": True})
    assert t.keys() == ["d/main/noMatch/1"]


def test_no_layers_means_no_extract_action() -> None:
    t = Talk(BIRTH)
    t.start()
    t.say("il giorno della festa della mamma")
    assert t.extracts() == [] and t.keys() == ["d/main/noMatch/1"]


# -- robustness of the state record ---------------------------------------------------------


def test_state_record_is_small() -> None:
    t = Talk({**BIRTH, "confirm": "always"})
    t.start()
    t.say("boh")
    t.say("il 3 marzo")
    step = t.say("1980")
    assert step.state is not None
    assert len(step.state.model_dump_json()) < 1024


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        ({"ddt": "nope"}, "bad_state: unknown DDT 'nope'"),
        ({"node": ("hour",)}, "bad_state: unknown data node 'hour'"),
        ({"state": "success"}, "bad_state: not a waiting dialogue state 'success'"),
        ({"state": "confirmation"}, "bad_state: confirmation without a candidate"),
    ],
)
def test_a_record_that_does_not_fit_ends_with_failure(update: dict[str, Any], reason: str) -> None:
    t = Talk(BIRTH)
    t.start()
    assert t.state is not None
    t.state = t.state.model_copy(update=update)
    step = t.say("3 marzo 1980")
    assert (step.outcome, step.reason, step.state) == ("failure", reason, None)


def test_unknown_ddt_at_begin() -> None:
    t = Talk(BIRTH)
    step = t.engine.begin("nope", memory={}, language="it", channel="chat", at=AT)
    assert (step.outcome, step.reason) == ("failure", "unknown_ddt: nope")


def test_unknown_language_falls_back_to_the_first_declared() -> None:
    t = Talk(BIRTH, lang="fr")
    t.start()
    assert t.text() == "Mi dice la sua data di nascita?"


# -- other types ------------------------------------------------------------------------


def test_datetime_date_then_time_it() -> None:
    t = Talk({"type": "datetime", "label": {"it": "il giorno e l'ora della visita", "en": "x"}})
    t.start()
    assert t.text() == "Mi dice il giorno e l'ora della visita?"
    t.say("domani")
    assert t.keys() == ["d/time/start/1"]
    assert t.text() == "Mi dice l'orario?"
    t.say("alle 10")  # an hour without am/pm is a guess: confirmed
    assert t.text() == "Ho capito: il 24 novembre 2026, ore 10:00. È corretto?"
    step = t.say("sì")
    assert (step.outcome, step.value) == ("success", "2026-11-24T10:00")


def test_datetime_time_first_then_date_en() -> None:
    t = Talk({"type": "datetime", "confirm": "never"}, lang="en")
    t.start()
    t.say("at 4 pm")
    assert t.keys() == ["d/date/start/1"]
    assert t.text() == "Could you tell me the date?"
    step = t.say("tomorrow")
    assert (step.outcome, step.value) == ("success", "2026-11-24T16:00")


def test_optional_year_defaults_to_the_year_of_the_event() -> None:
    t = Talk({"type": "date", "subdata": {"year": {"required": False}}})
    t.start()
    step = t.say("il 3 marzo")
    assert (step.outcome, step.value) == ("success", "2026-03-03")


def test_custom_pattern() -> None:
    t = Talk({"type": "spelled", "patterns": [r"pratica (\w+)"], "confirm": "never"})
    t.start()
    assert t.say("la pratica XK42").value == "XK42"


def test_choice_by_synonym_and_ordinal_en() -> None:
    data = {
        "type": "choice",
        "label": {"it": "il tipo di visita", "en": "the kind of visit"},
        "choices": {
            "visita": {"it": ["visita"], "en": ["visit", "check-up"]},
            "esame": {"it": ["esame"], "en": ["blood test", "test"]},
        },
    }
    t = Talk(data, lang="en")
    t.start()
    assert t.text() == "Could you tell me the kind of visit? You can choose visit or blood test."
    assert t.say("the blood test please").value == "esame"
    t2 = Talk(data, lang="en")
    t2.start()
    assert t2.say("the first one").value == "visita"


def test_free_text_checks_commands_first() -> None:
    t = Talk({"type": "text"})
    t.start()
    assert t.text() == "Mi dica la sua richiesta."
    assert t.say("voglio parlare con un operatore").outcome == "transfer"
    t2 = Talk({"type": "text"})
    t2.start()
    step = t2.say("vorrei spostare la visita di martedì")
    assert (step.outcome, step.value) == ("success", "vorrei spostare la visita di martedì")


def test_a_date_is_never_a_command() -> None:
    t = Talk(BIRTH)
    t.start()
    assert t.say("3 marzo 1980").outcome == "success"


def test_codice_fiscale_read_back_spelled_on_voice() -> None:
    t = Talk({"type": "codice_fiscale"}, channel="voice")
    t.start()
    assert t.text() == "Mi dice il suo codice fiscale?"
    t.say("RSSMRA80A01H501U")
    assert t.text() == "Ho capito: RSSMRA80A01H501U. È corretto?"
    assert t.ssml() == (
        '<speak>Ho capito: R S S, M R A, 8 0 A, 0 1 H, 5 0 1, U. <break time="300ms"/> '
        "È corretto?</speak>"
    )
    assert t.say("sì").value == "RSSMRA80A01H501U"


def test_invalid_checksum_is_invalid_not_no_match() -> None:
    t = Talk({"type": "partita_iva"})
    t.start()
    t.say("01234567890")
    assert t.keys() == ["d/main/invalid/1"]
    assert t.text() == "Questa partita IVA non è valida. Mi dice la partita IVA?"


def test_money_and_integer_en() -> None:
    t = Talk({"type": "money"}, lang="en")
    t.start()
    assert t.say("twenty euros fifty").value == 20.5
    t2 = Talk(
        {
            "type": "integer",
            "validate": [
                {
                    "rule": "value >= 1 and value <= 8",
                    "prompt": {"it": "Da 1 a 8.", "en": "From 1 to 8, please."},
                }
            ],
        },
        lang="en",
    )
    t2.start()
    t2.say("twenty one")
    assert t2.keys() == ["d/main/invalid:rule1/1"]
    assert t2.text() == "From 1 to 8, please."
    assert t2.say("three").value == 3


def test_ssml_values_are_escaped() -> None:
    t = Talk(
        {
            "type": "text",
            "confirm": "always",
            "prompts": {
                "confirmation": {
                    "it": [
                        {
                            "text": "Ho capito: {{ value }}?",
                            "voice": "Ho capito <break/> {{ value }}?",
                        }
                    ],
                    "en": ["{{ value }}?"],
                }
            },
        },
        channel="voice",
    )
    t.start()
    t.say("a < b & c")
    assert t.text() == "Ho capito: a < b & c?"
    assert t.ssml() == "<speak>Ho capito <break/> a &lt; b &amp; c?</speak>"


def test_help_at_confirmation_asks_for_yes_or_no() -> None:
    t = Talk({"type": "phone"})
    t.start()
    t.say("333 123 4567")
    step = t.say("aiuto")
    assert t.keys() == ["d/main/confirmation/3"]
    assert t.text() == "Mi serve solo un sì o un no: 333 123 4567 è corretto?"
    assert step.state is not None and step.state.total == 0
    assert t.say("sì").value == "+393331234567"


def test_a_long_rejected_text_is_not_kept_in_the_record() -> None:
    t = Talk(
        {
            "type": "text",
            "validate": [
                {"rule": "len(value) <= 40", "prompt": {"it": "Più breve, per favore.", "en": "x"}}
            ],
        }
    )
    t.start()
    step = t.say("vorrei " + "davvero " * 100 + "spostare la visita")
    assert t.text() == "Più breve, per favore."
    assert step.state is not None and step.state.candidate is None
    assert len(step.state.model_dump_json()) < 1024
    assert t.say("spostare la visita").value == "spostare la visita"


def test_asr_nbest_alternative_is_taken_as_a_guess() -> None:
    from schemas.events import NBest, UserInputEvent

    t = Talk(BIRTH)
    t.start()
    t.event(
        UserInputEvent(
            at=AT,
            text="tre mazzo mille nove cento ottanta",
            confidence=0.7,
            nbest=(
                NBest(text="tre mazzo mille nove cento ottanta", confidence=0.7),
                NBest(text="3 marzo 1980", confidence=0.6),
            ),
        )
    )
    assert t.keys() == ["d/main/confirmation/1"]  # a guess: when_uncertain confirms it
    assert t.text() == "Ho capito: il 3 marzo 1980. È corretto?"


def test_engine_refuses_a_broken_compiled_ddt() -> None:
    from ddt_engine.engine import DdtEngine, DdtError
    from schemas.ddt import MachineRule
    from tests.ddt_engine._ddt_helpers import compile_one

    ddt = compile_one(BIRTH)
    broken = ddt.model_copy(
        update={
            "machine": ddt.machine.model_copy(
                update={
                    "transitions": (MachineRule(trigger="matched", source="start", dest="dnoe"),)
                }
            )
        }
    )
    with pytest.raises(DdtError, match="unknown dest state 'dnoe'"):
        DdtEngine({"d": broken})
