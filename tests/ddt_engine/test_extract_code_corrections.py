"""A self-correction inside an e-mail address, and spelled e-mail domains, it and en.

Each row: (utterance, expected). Expected is the value, "!reason" for an invalid
extraction, or None for no match. The rule under test: the value said after a correction
marker wins, or completes the one said before (a domain alone); what follows a marker and
looks like part of an address but cannot be read is no match, never the first address.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

Row = tuple[str, str | None]


def check(type_name: str, text: str, lang: str, expected: str | None) -> None:
    got = extract(type_name, text, lang, AT)
    if expected is None:
        assert got is None, got
    elif expected.startswith("!"):
        assert got is not None and got.invalid == expected[1:] and got.value is None, got
    else:
        assert got is not None and got.invalid is None, got
        assert got.value == expected


# ------------------------------------------------------------------- e-mail corrections

EMAIL_CORRECTED_IT: list[Row] = [
    (
        "mario punto rossi chiocciola gmail punto com no scusi chiocciola libero punto it",
        "mario.rossi@libero.it",
    ),
    (
        "mario punto rossi chiocciola gmail punto com anzi mario punto rossi chiocciola "
        "libero punto it",
        "mario.rossi@libero.it",
    ),
    (
        "mario punto rossi chiocciola gmail punto com no scusi libero punto it",
        "mario.rossi@libero.it",
    ),
    (
        "mario punto rossi chiocciola gmail punto com, no scusi, il dominio è libero punto it, "
        "grazie",
        "mario.rossi@libero.it",
    ),
    # the domain was cut short before the correction
    (
        "mario punto rossi chiocciola gmail no scusi chiocciola libero punto it",
        "mario.rossi@libero.it",
    ),
    (
        "mario punto rossi chiocciola gmail punto com cioè chiocciola libero punto it anzi "
        "chiocciola tiscali punto it",
        "mario.rossi@tiscali.it",
    ),
    (
        "giulia chiocciola libero punto it, no scusi, giulia punto bianchi chiocciola libero "
        "punto it",
        "giulia.bianchi@libero.it",
    ),
    ("mario.rossi@gmail.com no scusi mario.rossi@libero.it", "mario.rossi@libero.it"),
    ("mario.rossi@gmail.com anzi @libero.it", "mario.rossi@libero.it"),
    # after the marker: address words that are no address → ask again
    ("mario punto rossi chiocciola gmail punto com no scusi mario punto bianchi", None),
    ("mario.rossi@gmail.com anzi mario@libero", "!invalid_email"),
    # a marker with nothing of an address after it corrects nothing
    ("mario punto rossi chiocciola gmail punto com, no grazie", "mario.rossi@gmail.com"),
    ("mario punto rossi chiocciola gmail punto com, no?", "mario.rossi@gmail.com"),
    ("no, la mia mail è mario punto rossi chiocciola gmail punto com", "mario.rossi@gmail.com"),
    ("scusi, mario punto rossi chiocciola gmail punto com", "mario.rossi@gmail.com"),
    # "no" as a word of the address is no marker
    ("no punto reply chiocciola gmail punto com", "no.reply@gmail.com"),
    ("no.reply@gmail.com", "no.reply@gmail.com"),
]

EMAIL_CORRECTED_EN: list[Row] = [
    ("john dot smith at gmail dot com sorry I mean at yahoo dot com", "john.smith@yahoo.com"),
    (
        "john dot smith at gmail dot com, sorry, john dot smith at yahoo dot com",
        "john.smith@yahoo.com",
    ),
    ("john dot smith at gmail dot com no wait yahoo dot com", "john.smith@yahoo.com"),
    ("john dot smith at gmail, sorry, at yahoo dot co dot uk", "john.smith@yahoo.co.uk"),
    ("john.smith@gmail.com sorry I meant jane.smith@gmail.com", "jane.smith@gmail.com"),
    ("jane at outlook dot com, actually, jane dot doe at outlook dot com", "jane.doe@outlook.com"),
    ("john dot smith at gmail dot com sorry john dot smyth", None),
    ("john dot smith at gmail dot com, sorry about that", "john.smith@gmail.com"),
    ("actually it's john at gmail dot com", "john@gmail.com"),
    ("no, it's jane underscore doe at outlook dot com", "jane_doe@outlook.com"),
]


@pytest.mark.parametrize(("text", "expected"), EMAIL_CORRECTED_IT)
def test_email_correction_it(text: str, expected: str | None) -> None:
    check("email", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), EMAIL_CORRECTED_EN)
def test_email_correction_en(text: str, expected: str | None) -> None:
    check("email", text, "en", expected)


def test_a_corrected_domain_is_uncertain() -> None:
    got = extract("email", "mario.rossi@gmail.com anzi @libero.it", "it", AT)
    assert got is not None and got.uncertain and got.layer == "grammar"


# ----------------------------------------------------------------- spelled e-mail domain

EMAIL_SPELLED_IT: list[Row] = [
    ("mario chiocciola g m a i l punto com", "mario@gmail.com"),
    ("mario chiocciola gi emme a i elle punto com", "mario@gmail.com"),
    ("mario chiocciola genova milano ancona imola livorno punto com", "mario@gmail.com"),
    ("mario punto rossi chiocciola elle i bi e erre o punto it", "mario.rossi@libero.it"),
    ("mario chiocciola g-m-a-i-l punto com", "mario@gmail.com"),
    ("m-a-r-i-o chiocciola libero punto it", "mario@libero.it"),
    # two alphabet words are a name, not two letters
    ("info chiocciola hotel milano punto it", "info@hotelmilano.it"),
    ("prenotazioni chiocciola hotel roma punto it", "prenotazioni@hotelroma.it"),
    ("hotel roma chiocciola gmail punto com", "hotelroma@gmail.com"),
    # typed, the hyphens are kept
    ("a-b-c@x.com", "a-b-c@x.com"),
    ("info chiocciola studio legale bianchi punto it", "info@studiolegalebianchi.it"),
    ("info chiocciola studio legale bianchi rossi punto it", None),
]

EMAIL_SPELLED_EN: list[Row] = [
    ("john at g m a i l dot com", "john@gmail.com"),
    ("john at g-m-a-i-l dot com", "john@gmail.com"),
    ("john at G-M-A-I-L dot com", "john@gmail.com"),
    ("john at golf mike alpha india lima dot com", "john@gmail.com"),
    ("j-o-h-n at gmail dot com", "john@gmail.com"),
    ("john at gee em a i el dot com", "john@gmail.com"),
    ("info at hotel paris dot com", "info@hotelparis.com"),
    ("victor hugo at gmail dot com", "victorhugo@gmail.com"),
]


@pytest.mark.parametrize(("text", "expected"), EMAIL_SPELLED_IT)
def test_spelled_email_it(text: str, expected: str | None) -> None:
    check("email", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), EMAIL_SPELLED_EN)
def test_spelled_email_en(text: str, expected: str | None) -> None:
    check("email", text, "en", expected)


# ------------------------------------------------------ codice fiscale and IBAN corrections

CF_CORRECTED_IT: list[Row] = [
    ("RSSMRA80C03H501F no scusi BNCLRA85T52F205E", "BNCLRA85T52F205E"),
    ("RSSMRA80C03H501F, no scusi, il codice è BNCLRA85T52F205E", "BNCLRA85T52F205E"),
    ("BNCLRA85T52F205E anzi RSSMRA80C03H501F grazie", "RSSMRA80C03H501F"),
    ("il mio codice fiscale è RSSMRA80C03H501A anzi F", "RSSMRA80C03H501F"),
    ("RSSMRA80C03H501A no scusi l'ultima lettera è effe", "RSSMRA80C03H501F"),
    (
        "erre esse esse emme erre a ottanta ci zero tre acca cinquecentouno a, no scusi, effe",
        "RSSMRA80C03H501F",
    ),
    # the corrected code must check out; never the code said before the correction
    ("il mio codice fiscale è RSSMRA80C03H501F anzi G", "!invalid_codice_fiscale"),
    ("RSSMRA80C03H501F anzi BNCLRA85T52F205A", "!invalid_codice_fiscale"),
    ("RSSMRA80C03H501F anzi mi chiami dopo le 5", None),
    # a marker with no code after it corrects nothing
    ("RSSMRA80C03H501F, no?", "RSSMRA80C03H501F"),
    ("no, il codice è RSSMRA80C03H501F", "RSSMRA80C03H501F"),
    ("no, il codice è RSSMRA80C03H501A", "!invalid_codice_fiscale"),
]

CF_CORRECTED_EN: list[Row] = [
    ("RSSMRA80C03H501F sorry I mean BNCLRA85T52F205E", "BNCLRA85T52F205E"),
    ("my tax code is RSSMRA80C03H501F, no wait, BNCLRA85T52F205E", "BNCLRA85T52F205E"),
    ("RSSMRA80C03H501A sorry the last letter is F", "RSSMRA80C03H501F"),
    ("RSSMRA80C03H501F actually G", "!invalid_codice_fiscale"),
    ("sorry, it's RSSMRA80C03H501F", "RSSMRA80C03H501F"),
]

IBAN_CORRECTED_IT: list[Row] = [
    ("IT60 X054 2811 1010 0000 0123 455 anzi 6", "IT60X0542811101000000123456"),
    (
        "IT60 X054 2811 1010 0000 0123 456 no scusi IT21X0306909606000000123456",
        "IT21X0306909606000000123456",
    ),
    (
        "il mio iban è IT21X0306909606000000123456, no scusi, il codice è "
        "IT60X0542811101000000123456",
        "IT60X0542811101000000123456",
    ),
    ("IT60X0542811101000000123456 no scusi 7", "!invalid_iban"),
    ("IT60X0542811101000000123456 no grazie", "IT60X0542811101000000123456"),
]

IBAN_CORRECTED_EN: list[Row] = [
    (
        "IT60X0542811101000000123456 sorry I mean GB82 WEST 1234 5698 7654 32",
        "GB82WEST12345698765432",
    ),
    ("GB82 WEST 1234 5698 7654 33 sorry the last digit is 2", "GB82WEST12345698765432"),
    ("GB82 WEST 1234 5698 7654 32 no wait 3", "!invalid_iban"),
]


@pytest.mark.parametrize(("text", "expected"), CF_CORRECTED_IT)
def test_codice_fiscale_correction_it(text: str, expected: str | None) -> None:
    check("codice_fiscale", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), CF_CORRECTED_EN)
def test_codice_fiscale_correction_en(text: str, expected: str | None) -> None:
    check("codice_fiscale", text, "en", expected)


@pytest.mark.parametrize(("text", "expected"), IBAN_CORRECTED_IT)
def test_iban_correction_it(text: str, expected: str | None) -> None:
    check("iban", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), IBAN_CORRECTED_EN)
def test_iban_correction_en(text: str, expected: str | None) -> None:
    check("iban", text, "en", expected)


# ------------------------------------------------------------------ e-mail: QA pass rows


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        # o'connor or oconnor? (it was connor@gmail.com)
        ("sarah dot o'connor at gmail dot com", "en", "!invalid_email"),
        ("sarah dot o’connor at gmail dot com", "en", "!invalid_email"),
        ("o'connor@gmail.com", "en", "!invalid_email"),
        ("d'angelo chiocciola gmail punto com", "it", "!invalid_email"),
        # an Italian elision before the address is no name
        ("l'indirizzo è mario@gmail.com", "it", "mario@gmail.com"),
        ("l'info chiocciola studio punto it", "it", "info@studio.it"),
    ],
)
def test_email_apostrophe(text: str, lang: str, expected: str | None) -> None:
    check("email", text, lang, expected)


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        # words said for an inner label are joined (it was paolo@pec.ordine)
        (
            "paolo chiocciola pec punto ordine avvocati punto it",
            "it",
            "paolo@pec.ordineavvocati.it",
        ),
        (
            "paolo chiocciola pec punto ordine degli avvocati di roma punto it",
            "it",
            "!invalid_email",
        ),
        ("jane at mail dot acme corp dot com", "en", "jane@mail.acmecorp.com"),
        (
            "luca punto verdi chiocciola pec punto comune punto roma punto it",
            "it",
            "luca.verdi@pec.comune.roma.it",
        ),
        (
            "mario punto rossi chiocciola gmail punto com grazie mille ciao",
            "it",
            "mario.rossi@gmail.com",
        ),
    ],
)
def test_email_inner_labels(text: str, lang: str, expected: str | None) -> None:
    check("email", text, lang, expected)
