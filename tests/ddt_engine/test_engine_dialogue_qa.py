"""Dialogue-level QA of the default prompts: what a caller hears and reads, in Italian and
English, on voice and chat — read-backs fit for speech, prompts that do not contradict the
situation, escalation that does not repeat itself word for word."""

from __future__ import annotations

from typing import Any

from tests.ddt_engine._ddt_helpers import Talk

# -- read-backs -----------------------------------------------------------------------------


def test_a_phone_is_read_back_in_its_national_groups() -> None:
    voice = Talk({"type": "phone"}, channel="voice")
    voice.start()
    voice.say("tre tre tre uno due tre quattro cinque sei sette")
    assert voice.text() == "Ho capito: 333 123 4567. È corretto?"
    assert voice.ssml() == (
        '<speak>Ho capito: 3 3 3, 1 2 3, 4 5 6 7. <break time="300ms"/> È corretto?</speak>'
    )
    chat = Talk({"type": "phone"}, lang="en")
    chat.start()
    chat.say("06 1234 5678")
    assert chat.text() == "I got: 06 1234 5678. Is that right?"
    assert chat.say("yes").value == "+390612345678"  # the value stays E.164


def test_long_codes_are_read_back_in_groups_on_voice() -> None:
    """Sixteen or twenty-seven characters in one breath cannot be checked by ear: a short
    pause (a comma) every few characters, as the codes are printed."""
    cases = [
        (
            "iban",
            "IT60X0542811101000000123456",
            "I T 6 0, X 0 5 4, 2 8 1 1, 1 0 1 0, 0 0 0 0, 0 1 2 3, 4 5 6",
        ),
        ("codice_fiscale", "RSSMRA80A01H501U", "R S S, M R A, 8 0 A, 0 1 H, 5 0 1, U"),
        ("partita_iva", "01234560017", "0 1 2 3, 4 5 6 0, 0 1 7"),
    ]
    for type_name, said, spoken in cases:
        for lang, got in (("it", "Ho capito: "), ("en", "I got ")):
            t = Talk({"type": type_name}, lang=lang, channel="voice")
            t.start()
            t.say(said)
            ssml = t.ssml()
            assert ssml is not None and f"{got}{spoken}. <break" in ssml, (type_name, ssml)
            chat = Talk({"type": type_name}, lang=lang)
            chat.start()
            chat.say(said)
            assert said in chat.text()  # chat shows the code as written


# -- confirmation ---------------------------------------------------------------------------


def test_silence_at_a_confirmation_is_not_called_an_answer_not_understood() -> None:
    """A caller who said nothing is not told "non ho capito la risposta": the read-back is
    asked again, with the yes-or-no hint, in words that fit silence and mumbling alike."""
    for channel in ("voice", "chat"):
        t = Talk({"type": "phone"}, channel=channel)
        t.start()
        t.say("333 123 4567")
        t.silence()
        assert t.keys() == ["d/main/confirmation/2"]
        assert t.text() == "Mi scusi, 333 123 4567: è corretto? Risponda sì o no."
        t.say("boh")
        assert t.text() == "Mi serve solo un sì o un no: 333 123 4567 è corretto?"
        assert t.say("sì").value == "+393331234567"


def test_an_italian_date_is_read_back_with_its_article() -> None:
    """ "1 marzo" is read "uno marzo": Italian says "il primo marzo" ("il 1º marzo"), and
    "l'8 marzo", "l'11 marzo" before a vowel sound."""
    for said, heard in (
        ("1/3/80", "il 1º marzo 1980"),
        ("8/3/80", "l'8 marzo 1980"),
        ("11/3/80", "l'11 marzo 1980"),
        ("15/3/80", "il 15 marzo 1980"),
    ):
        t = Talk({"type": "date"}, channel="voice")
        t.start()
        t.say(said)  # a two-digit year: read back
        assert t.text() == f"Ho capito: {heard}. È corretto?"
        t.silence()
        assert t.text() == f"Mi scusi, {heard}: è corretto? Risponda sì o no."
    en = Talk({"type": "date"}, lang="en")
    en.start()
    en.say("March 1st 80")
    assert en.text() == "I got: 1 March 1980. Is that right?"


def test_an_italian_date_and_time_is_read_back_with_its_article() -> None:
    t = Talk({"type": "datetime"})
    t.start()
    t.say("l'8 dicembre alle 3")  # an hour without am/pm: read back
    assert t.text() == "Ho capito: l'8 dicembre 2026, ore 03:00. È corretto?"


# -- help -----------------------------------------------------------------------------------

VISIT: dict[str, Any] = {
    "type": "date",
    "label": {"it": "il giorno della visita", "en": "the day of your visit"},
    "example": {
        "it": "Per esempio: lunedì prossimo, oppure il 15 dicembre.",
        "en": "For example: next Monday, or December the 15th.",
    },
}


def test_help_gives_the_ddts_own_example() -> None:
    """A caller asking for help on a visit date is not told "tre marzo
    millenovecentoottanta" (a date of birth, and a day the DDT would refuse)."""
    for lang, example in (
        ("it", "Per esempio: lunedì prossimo, oppure il 15 dicembre."),
        ("en", "For example: next Monday, or December the 15th."),
    ):
        for channel in ("voice", "chat"):
            t = Talk(VISIT, lang=lang, channel=channel)
            t.start()
            t.say("aiuto" if lang == "it" else "help")
            said = t.text() + (t.ssml() or "")
            assert example in said, said
            assert "1980" not in said and "ottanta" not in said and "eighty" not in said


def test_help_without_an_example_keeps_the_types() -> None:
    t = Talk({"type": "date"}, channel="voice")
    t.start()
    t.say("aiuto")
    assert t.ssml() == (
        "<speak>Mi dica giorno, mese e anno. Per esempio: tre marzo millenovecentoottanta. "
        "Può anche digitarla sulla tastiera: due cifre per il giorno, due per il mese e "
        "quattro per l'anno.</speak>"
    )
    t = Talk({"type": "time"}, lang="en")
    t.start()
    t.say("help")
    assert t.text() == "Type the time. For example: 10:30."


# -- DTMF -----------------------------------------------------------------------------------


def test_a_spelled_code_of_digits_can_be_keyed_in_on_voice() -> None:
    """The last four digits of a card, a PIN-like code: a voice caller keys them in. They
    were "non ho capito" (a spelled code listened for no keys at all)."""
    t = Talk({"type": "spelled", "confirm": "never"}, channel="voice")
    t.start()
    listen = t.listens()[0]
    assert listen.dtmf is not None and listen.dtmf.finish_key == "#"
    step = t.dtmf("0427#")
    assert (step.outcome, step.value) == ("success", "0427")
    chat = Talk({"type": "spelled", "confirm": "never"})
    chat.start()
    assert chat.listens()[0].dtmf is None  # no keypad in a chat


# -- validation -----------------------------------------------------------------------------


def test_a_year_out_of_range_is_told_the_range_not_to_use_four_digits() -> None:
    """ "12 marzo 1850" has four digits: the caller is told which years are possible."""
    t = Talk({"type": "date"})
    t.start()
    t.say("12 marzo 1850")
    assert t.keys() == ["d/year/invalid:year_range/1"]
    assert t.text() == (
        "L'anno deve essere tra il 1900 e il 2100. Scriva l'anno per intero, per esempio 1980."
    )
    t.say("1850")
    assert t.text() == "Mi serve un anno tra il 1900 e il 2100. Di che anno?"
    en = Talk({"type": "date"}, lang="en", channel="voice")
    en.start()
    en.say("12 March 1850")
    assert en.ssml() == (
        "<speak>The year must be between nineteen hundred and twenty-one hundred. Could you "
        "say the full year, for example nineteen eighty?</speak>"
    )


CLINIC: dict[str, Any] = {
    "type": "date",
    "missing_year": "coming",
    "validate": [
        {
            "code": "weekend",
            "rule": "weekday(value) <= 5",
            "prompt": {
                "it": "Il sabato e la domenica siamo chiusi. "
                "Mi dica un giorno dal lunedì al venerdì.",
                "en": "We're closed at weekends. Please tell me a day from Monday to Friday.",
            },
        },
        {
            "code": "not_past",
            "rule": "value >= today()",
            "prompt": {
                "it": {
                    "text": "Quella data è già passata. Mi dica un giorno da oggi in poi.",
                    "voice": '<prosody rate="95%">Quella data è già passata.</prosody> '
                    "Mi dica un giorno da oggi in poi.",
                },
                "en": "I need a day from today onwards.",
            },
        },
    ],
}


def test_a_rule_broken_twice_in_a_row_is_not_said_word_for_word_again() -> None:
    """A designer's rule has one prompt: the second time in a row it is said "as I said",
    not as if for the first time; the caller hears that the bot heard them."""
    t = Talk(CLINIC)  # today is Monday 23 November 2026
    t.start()
    t.say("sabato")
    assert t.text() == (
        "Il sabato e la domenica siamo chiusi. Mi dica un giorno dal lunedì al venerdì."
    )
    t.say("domenica")
    assert t.keys() == ["d/main/invalid:weekend/1"]
    assert t.text() == (
        "Come dicevo, il sabato e la domenica siamo chiusi. Mi dica un giorno dal lunedì al "
        "venerdì."
    )
    t.say("sabato 5 dicembre")
    assert t.text().startswith("Come dicevo, il sabato")  # the third time too
    en = Talk(CLINIC, lang="en")
    en.start()
    en.say("Saturday")
    en.say("Sunday")
    assert en.text() == (
        "As I said, we're closed at weekends. Please tell me a day from Monday to Friday."
    )
    en.say("November 20th 2026")  # another rule: its own words, as said the first time
    assert en.text() == "I need a day from today onwards."
    past = Talk(CLINIC, lang="en")
    past.start()
    past.say("November 20th 2026")
    past.say("November 19th 2026")
    assert past.text() == "As I said, I need a day from today onwards."  # "I" stays


def test_the_again_words_go_inside_the_voice_markup() -> None:
    t = Talk(CLINIC, channel="voice")
    t.start()
    t.say("20 novembre 2026")  # a Friday
    t.say("19 novembre 2026")
    assert t.text() == "Come dicevo, quella data è già passata. Mi dica un giorno da oggi in poi."
    assert t.ssml() == (
        '<speak><prosody rate="95%">Come dicevo, quella data è già passata.</prosody> '
        "Mi dica un giorno da oggi in poi.</speak>"
    )


def test_a_rule_said_again_after_other_prompts_is_said_as_written() -> None:
    t = Talk(CLINIC)
    t.start()
    t.say("sabato")
    t.say("aiuto")  # the help came in between: the rule is not what was said last
    t.say("domenica")
    assert t.text().startswith("Il sabato e la domenica siamo chiusi.")


def test_again_keeps_a_code_or_a_value_at_the_start_as_it_is() -> None:
    slots = Talk(
        {
            "type": "time",
            "confirm": "never",
            "validate": [
                {
                    "code": "not_offered",
                    "rule": "value in slots",
                    "prompt": {
                        "it": "Alle {{ value | time }} non c'è posto.",
                        "en": "{{ value | time }} isn't free. The free times are: {{ slots }}.",
                    },
                }
            ],
        },
        lang="en",
        memory={"slots": ["09:00", "10:30"]},
    )
    slots.start()
    slots.say("4 pm")
    slots.say("5 pm")
    assert slots.text() == "As I said, 17:00 isn't free. The free times are: 09:00, 10:30."
    policy = Talk(
        {
            "type": "spelled",
            "validate": [
                {
                    "code": "policy_format",
                    "rule": "startswith(value, 'POL')",
                    "prompt": {"it": "POL e sei cifre, per esempio POL123456.", "en": "x"},
                }
            ],
        }
    )
    policy.start()
    policy.say("AB123456")
    policy.say("CD123456")
    assert policy.text() == "Come dicevo, POL e sei cifre, per esempio POL123456."


def test_the_help_of_a_spelled_code_of_digits_does_not_talk_of_letters() -> None:
    """A DDT cannot give its own help: the type's must fit a code of digits too (the last
    four digits of a card were helped with "lettere e cifre", "A come Ancona")."""
    digits = {"type": "spelled", "example": {"it": "Per esempio: 1 2 3 4.", "en": "x"}}
    voice = Talk(digits, channel="voice")
    voice.start()
    voice.say("aiuto")
    assert voice.ssml() == (
        "<speak>Me lo dica un carattere alla volta. Per esempio: 1 2 3 4.</speak>"
    )
    assert voice.text() == "Scriva il codice, senza spazi. Per esempio: 1 2 3 4."
    plain = Talk({"type": "spelled"}, lang="en", channel="voice")
    plain.start()
    plain.say("help")
    assert plain.ssml() == (
        "<speak>Say it one character at a time. For letters you can use words, for "
        "example: alpha, bravo.</speak>"
    )


def test_the_help_of_a_free_text_gives_the_ddts_example() -> None:
    """ "aiuto" at "where did it happen?" was "Mi spieghi con parole sue, in una frase.": a
    place needs an example of a place."""
    place = {
        "type": "text",
        "example": {
            "it": "Per esempio: via Roma 12, Bologna.",
            "en": "For example: 12 London Road, Brighton.",
        },
    }
    t = Talk(place)
    t.start()
    t.say("aiuto")
    assert t.text() == "Mi risponda con parole sue. Per esempio: via Roma 12, Bologna."
    en = Talk(place, lang="en")
    en.start()
    en.say("help")
    assert en.text() == "Answer in your own words. For example: 12 London Road, Brighton."
    plain = Talk({"type": "text"})
    plain.start()
    plain.say("aiuto")
    assert plain.text() == "Mi risponda con parole sue. Basta una frase."
