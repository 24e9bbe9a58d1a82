"""Phone, e-mail, IBAN, codice fiscale, partita IVA and CAP extraction, it and en.

Each table row: (utterance, expected). Expected is the normalised value, "!reason" for an
invalid extraction (recognised but wrong: bad checksum, voicemail number …), or None for
no match. Valid codes were built with python-stdnum's calc functions (checksums, CIN).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract
from ddt_engine.extract.codes import iban_cin_ok

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


# ----------------------------------------------------------------------------------- phone

PHONE_IT: list[Row] = [
    ("347 123 4567", "+393471234567"),
    ("3471234567", "+393471234567"),
    ("il mio numero è 347 123 4567", "+393471234567"),
    ("chiamami al +39 06 1234 5678", "+390612345678"),
    ("+39 347 1234567", "+393471234567"),
    ("0039 347 1234567", "+393471234567"),
    ("39 347 1234567", "+393471234567"),
    ("347 12 34 567", "+393471234567"),
    ("347-123-4567", "+393471234567"),
    ("347.123.4567", "+393471234567"),
    ("06 12345678", "+390612345678"),
    ("06-1234-5678", "+390612345678"),
    ("(06) 1234 5678", "+390612345678"),
    ("il fisso è 02 8765 4321", "+390287654321"),
    ("numero verde 800 123 456", "+39800123456"),
    ("mi può richiamare al 333 765 4321 grazie", "+393337654321"),
    ("sono nato il 12/12/1985 e il mio cellulare è 3471234567", "+393471234567"),
    ("chiamami al +39 06 1234 5678 o al 3471234567", "+390612345678"),
    ("tre quattro sette uno due tre quattro cinque sei sette", "+393471234567"),
    (
        "il mio numero è tre quattro sette, uno due tre, quattro cinque sei sette",
        "+393471234567",
    ),
    ("trecentoquarantasette centoventitré quarantacinque sessantasette", "+393471234567"),
    ("zero sei dodici trentaquattro cinquantasei settantotto", "+390612345678"),
    (
        "più trentanove tre quattro sette uno due tre quattro cinque sei sette",
        "+393471234567",
    ),
    (
        "zero zero trentanove tre quattro sette uno due tre quattro cinque sei sette",
        "+393471234567",
    ),
    ("tre tre tre sette sei cinque quattro tre due uno", "+393337654321"),
    ("tre quattro sette uno due tre quattro cinque doppio sei", "+393471234566"),
    ("zero due otto sette sei cinque quattro tre due uno", "+390287654321"),
    ("ottocento centoventitré quattrocentocinquantasei", "+39800123456"),
    ("347 uno due tre 4567", "+393471234567"),
    # 11 digits starting with 3: phonenumbers calls this VOICEMAIL; not a caller's phone.
    ("347-123-45678", "!invalid_phone"),
    ("34712345678", "!invalid_phone"),
    ("il numero è 34712345", "!invalid_phone"),
    ("0612", None),
    ("112", None),
    ("12345", None),
    ("ho 38 anni", None),
    ("sono nato il 12/12/1985", None),
    ("non me lo ricordo", None),
    ("", None),
    ("sì", None),
    ("tre", None),
    ("costa 12,50 euro", None),
    # a digit corrected while saying the number: the digits after the marker replace as
    # many at its end, a whole number replaces it (never the number before the correction)
    ("347 123 456 7 no 8", "+393471234568"),
    ("347 123 45 67 anzi 68", "+393471234568"),
    ("347 123 4567 cioè 4568", "+393471234568"),
    ("347 123 456 7 no scusi l'ultima è 8", "+393471234568"),
    ("347 123 456 7 no 8 anzi 9", "+393471234569"),
    ("tre quattro sette uno due tre quattro cinque sei sette anzi otto", "+393471234568"),
    ("347 no 348 123 4567", "+393481234567"),
    ("chiamami al 06 1234 5678, no scusi, al cellulare 347 123 4567", "+393471234567"),
    ("06 1234 5678 no scusi il cellulare è 347 123 4567", "+393471234567"),
    ("347 123 4567 anzi mi chiami dopo le 5", None),
    ("347 123 4567 anzi 12 34 56 78 90 12", "!invalid_phone"),
    ("no, è 347 123 4567", "+393471234567"),
    ("347 123 4567, no?", "+393471234567"),
    ("ho 38 anni no scusi il numero è 347 1234567", "+393471234567"),
    # hesitations between the groups do not break the number
    ("ehm tre quattro sette, ehm, uno due tre, quattro cinque sei sette", "+393471234567"),
    ("allora il numero è 347, ehm, 123, 45, 67", "+393471234567"),
]

PHONE_EN: list[Row] = [
    ("my number is 347 123 4567", "+393471234567"),
    ("it's 3471234567", "+393471234567"),
    ("call me on +39 347 123 4567", "+393471234567"),
    ("+39 06 1234 5678", "+390612345678"),
    ("0039 06 1234 5678", "+390612345678"),
    ("you can reach me at 333-765-4321", "+393337654321"),
    ("(06) 1234 5678 is my landline", "+390612345678"),
    ("the toll free number is 800 123 456", "+39800123456"),
    ("my UK number is +44 20 7946 0958", "+442079460958"),
    ("+44 7911 123456", "+447911123456"),
    ("+44 7700 900123", "!invalid_phone"),  # Ofcom's range for drama: not a real number
    ("+33 6 12 34 56 78", "+33612345678"),
    ("+1 650 253 0000", "+16502530000"),
    ("three four seven one two three four five six seven", "+393471234567"),
    ("my number is three four seven, one two three, four five six seven", "+393471234567"),
    ("it's three three three seven six five four three two one", "+393337654321"),
    ("three four seven one two three four five double six", "+393471234566"),
    ("three four seven one two three four five triple seven", "!invalid_phone"),
    ("oh six one two three four five six seven eight", "+390612345678"),
    ("zero six one two three four five six seven eight", "+390612345678"),
    ("oh two eight seven six five four three two one", "+390287654321"),
    (
        "plus three nine three four seven one two three four five six seven",
        "+393471234567",
    ),
    (
        "double oh three nine three four seven one two three four five six seven",
        "+393471234567",
    ),
    ("three forty seven one twenty three forty five sixty seven", "+393471234567"),
    ("eight zero zero one two three four five six", "+39800123456"),
    ("347 one two three 4567", "+393471234567"),
    ("347 123 4567, thanks", "+393471234567"),
    ("I was born on 12/12/1985 and my mobile is 3471234567", "+393471234567"),
    ("347-123-45678", "!invalid_phone"),
    ("three four seven one two three four five six seven eight", "!invalid_phone"),
    ("my number is 34712345", "!invalid_phone"),
    ("call 911", None),
    ("12345", None),
    ("I am 38 years old", None),
    ("I don't remember", None),
    ("", None),
    ("yes", None),
    ("three", None),
    ("it costs 12.50 euros", None),
    ("room 101", None),
    ("one moment please", None),
    ("my number is 06 1234 5678 or 347 123 4567", "+390612345678"),
    ("347 123 456 7 sorry 8", "+393471234568"),
    ("three four seven one two three four five six seven, no wait, eight", "+393471234568"),
    ("347 123 4567 I mean 4568", "+393471234568"),
    ("call me on 06 1234 5678, sorry, my mobile is 347 123 4567", "+393471234567"),
    ("my phone no. is 347 123 4567", "+393471234567"),
    ("um three four seven, uh, one two three, four five six seven", "+393471234567"),
]


@pytest.mark.parametrize(("text", "expected"), PHONE_IT)
def test_phone_it(text: str, expected: str | None) -> None:
    check("phone", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), PHONE_EN)
def test_phone_en(text: str, expected: str | None) -> None:
    check("phone", text, "en", expected)


# ----------------------------------------------------------------------------------- email

EMAIL_IT: list[Row] = [
    ("mario.rossi@gmail.com", "mario.rossi@gmail.com"),
    ("Mario.Rossi@Gmail.COM", "mario.rossi@gmail.com"),
    ("la mia email è mario.rossi@gmail.com", "mario.rossi@gmail.com"),
    ("la mia mail è mario.rossi@gmail.com, grazie", "mario.rossi@gmail.com"),
    ("scrivimi a giulia_bianchi85@libero.it.", "giulia_bianchi85@libero.it"),
    ("l'indirizzo è info@studio-verdi.it", "info@studio-verdi.it"),
    ("anna+newsletter@tiscali.it", "anna+newsletter@tiscali.it"),
    ("ufficio.acquisti@azienda.co.uk", "ufficio.acquisti@azienda.co.uk"),
    ("mario.rossi @ gmail.com", "mario.rossi@gmail.com"),
    ("mario punto rossi chiocciola gmail punto com", "mario.rossi@gmail.com"),
    (
        "la mia email è mario punto rossi chiocciola gmail punto com",
        "mario.rossi@gmail.com",
    ),
    ("Mario punto Rossi chiocciola Gmail punto com", "mario.rossi@gmail.com"),
    ("giulia chiocciola libero punto it", "giulia@libero.it"),
    ("giulia trattino basso bianchi chiocciola libero punto it", "giulia_bianchi@libero.it"),
    ("giulia underscore bianchi chiocciola libero punto it", "giulia_bianchi@libero.it"),
    ("info chiocciola studio trattino verdi punto it", "info@studio-verdi.it"),
    ("info chiocciola studio meno verdi punto it", "info@studio-verdi.it"),
    ("mario punto rossi at gmail punto com", "mario.rossi@gmail.com"),
    ("mario punto rossi chiocciolina gmail punto com", "mario.rossi@gmail.com"),
    ("mario punto rossi a commerciale gmail punto com", "mario.rossi@gmail.com"),
    ("mario.rossi chiocciola gmail.com", "mario.rossi@gmail.com"),
    # several words for the local part are joined; spelled letters read as letters
    ("mario rossi chiocciola gmail punto com", "mariorossi@gmail.com"),
    ("ehm allora mario rossi chiocciola gmail punto com", "mariorossi@gmail.com"),
    ("la mia email è mario rossi chiocciola gmail punto com grazie", "mariorossi@gmail.com"),
    ("maria grazia bianchi chiocciola gmail punto com", "mariagraziabianchi@gmail.com"),
    ("mario rossi@gmail.com", "mariorossi@gmail.com"),
    ("mario ottanta chiocciola gmail punto com", "mario80@gmail.com"),
    ("mario doppio zero sette chiocciola gmail punto com", "mario007@gmail.com"),
    ("emme a erre i o chiocciola gmail punto com", "mario@gmail.com"),
    ("scrivimi a emme a erre i o punto rossi chiocciola gmail punto com", "mario.rossi@gmail.com"),
    ("la mia email è e elle e enne a chiocciola libero punto it", "elena@libero.it"),
    ("info chiocciola studio verdi punto it", "info@studioverdi.it"),
    ("mario e rossi chiocciola gmail punto com", "!invalid_email"),
    ("guardi io sono mario rossi bianchi verdi chiocciola gmail punto com", "!invalid_email"),
    ("mario80 chiocciola hotmail punto it", "mario80@hotmail.it"),
    (
        "luca punto verdi chiocciola pec punto comune punto roma punto it",
        "luca.verdi@pec.comune.roma.it",
    ),
    ("è luca.verdi@pec.comune.roma.it", "luca.verdi@pec.comune.roma.it"),
    ("<mario.rossi@gmail.com>", "mario.rossi@gmail.com"),
    ("email: mario.rossi@gmail.com", "mario.rossi@gmail.com"),
    ("mario.rossi@gmail.com oppure mario@libero.it", "mario.rossi@gmail.com"),
    ("mario@gmail", "!invalid_email"),
    ("mario@@gmail.com", "!invalid_email"),
    ("mario..rossi@gmail.com", "!invalid_email"),
    ("@gmail.com", "!invalid_email"),
    ("mario.rossi@gmail.c", "!invalid_email"),
    ("mario punto rossi", None),
    ("non ho una email", None),
    ("gmail punto com", None),
    ("", None),
    ("sì", None),
    ("a che punto siamo?", None),
    ("sono a casa", None),
    ("mario rossi", None),
]

EMAIL_EN: list[Row] = [
    ("john.smith@example.com", "john.smith@example.com"),
    ("my email is john.smith@example.com", "john.smith@example.com"),
    ("my email is John.Smith@Example.com.", "john.smith@example.com"),
    ("it's jane_doe99@outlook.com thanks", "jane_doe99@outlook.com"),
    ("send it to j.doe+orders@company.co.uk", "j.doe+orders@company.co.uk"),
    ("support@my-shop.io", "support@my-shop.io"),
    ("john dot smith at example dot com", "john.smith@example.com"),
    ("my email is john dot smith at example dot com", "john.smith@example.com"),
    ("John dot Smith at Example dot com", "john.smith@example.com"),
    ("jane underscore doe at outlook dot com", "jane_doe@outlook.com"),
    ("jane dash doe at outlook dot com", "jane-doe@outlook.com"),
    ("jane hyphen doe at outlook dot com", "jane-doe@outlook.com"),
    ("info at my dash shop dot io", "info@my-shop.io"),
    ("john dot smith at sign example dot com", "john.smith@example.com"),
    ("john period smith at example period com", "john.smith@example.com"),
    ("john.smith at example.com", "john.smith@example.com"),
    ("john.smith at example dot co dot uk", "john.smith@example.co.uk"),
    ("john smith at example dot com", "johnsmith@example.com"),
    ("um it's john smith at gmail dot com", "johnsmith@gmail.com"),
    ("jay smith at gmail dot com", "jaysmith@gmail.com"),
    ("john smith eighty five at gmail dot com", "johnsmith85@gmail.com"),
    ("it's j o h n at gmail dot com", "john@gmail.com"),
    ("my email address is jane at gmail dot com", "jane@gmail.com"),
    ("john and jane at gmail dot com", "!invalid_email"),
    ("bob42 at gmail dot com", "bob42@gmail.com"),
    ("it is mario punto rossi chiocciola gmail punto com", "mario.rossi@gmail.com"),
    ("email: john.smith@example.com", "john.smith@example.com"),
    ("(john.smith@example.com)", "john.smith@example.com"),
    ("john.smith @ example.com", "john.smith@example.com"),
    ("first.last@sub.domain.example.org", "first.last@sub.domain.example.org"),
    ("a@b.co", "a@b.co"),
    ("reach me at john.smith@example.com or at work", "john.smith@example.com"),
    ("john@example", "!invalid_email"),
    ("john@@example.com", "!invalid_email"),
    ("john..smith@example.com", "!invalid_email"),
    ("@example.com", "!invalid_email"),
    ("john@example.c", "!invalid_email"),
    ("john dot smith", None),
    ("I'm at home", None),
    ("meet me at the station", None),
    ("I don't have an email", None),
    ("example dot com", None),
    ("", None),
    ("yes", None),
    ("at five o'clock", None),
    ("dot dot dot", None),
    ("john smith", None),
]


@pytest.mark.parametrize(("text", "expected"), EMAIL_IT)
def test_email_it(text: str, expected: str | None) -> None:
    check("email", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), EMAIL_EN)
def test_email_en(text: str, expected: str | None) -> None:
    check("email", text, "en", expected)


def test_spoken_email_is_uncertain_and_written_is_not() -> None:
    spoken = extract("email", "mario punto rossi chiocciola gmail punto com", "it", AT)
    written = extract("email", "mario.rossi@gmail.com", "it", AT)
    assert spoken is not None and spoken.uncertain and spoken.layer == "grammar"
    assert written is not None and not written.uncertain and written.layer == "pattern"


# ------------------------------------------------------------------------------------ IBAN

IBAN_IT: list[Row] = [
    ("IT60X0542811101000000123456", "IT60X0542811101000000123456"),
    ("IT60 X054 2811 1010 0000 0123 456", "IT60X0542811101000000123456"),
    ("il mio iban è IT60 X054 2811 1010 0000 0123 456", "IT60X0542811101000000123456"),
    ("it60x0542811101000000123456", "IT60X0542811101000000123456"),
    ("IBAN: IT21X0306909606000000123456", "IT21X0306909606000000123456"),
    ("IT21 X030 6909 6060 0000 0123 456 grazie", "IT21X0306909606000000123456"),
    ("IT21-X030-6909-6060-0000-0123-456", "IT21X0306909606000000123456"),
    ("IT25R0200801600000100129899", "IT25R0200801600000100129899"),
    ("l'iban è IT18A0306234210000001234567", "IT18A0306234210000001234567"),
    ("IT05 L010 3003 2000 0000 4567 890", "IT05L0103003200000004567890"),
    ("IT93H0503411701000000009876", "IT93H0503411701000000009876"),
    ("IT85 M030 6905 0361 0000 0046 009", "IT85M0306905036100000046009"),
    ("IT47C0200805364000103291476", "IT47C0200805364000103291476"),
    ("accredito su IT46X0832703398000000012345", "IT46X0832703398000000012345"),
    ("IT26O0335901600100000061234", "IT26O0335901600100000061234"),
    ("IT89 S062 3012 4000 0004 0123 456", "IT89S0623012400000040123456"),
    ("IT04A0311111200000000001234", "IT04A0311111200000000001234"),
    ("SM86U0322509800000000270100", "SM86U0322509800000000270100"),
    ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ("il conto tedesco è DE89370400440532013000", "DE89370400440532013000"),
    ("FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"),
    ("ES91 2100 0418 4502 0005 1332", "ES9121000418450200051332"),
    (
        "i ti sei zero ics zero cinque quattro due otto uno uno uno zero uno zero zero "
        "zero zero zero zero uno due tre quattro cinque sei",
        "IT60X0542811101000000123456",
    ),
    (
        "I come Imola T come Torino sessanta X come Xilofono zero cinquecentoquarantadue "
        "ottantuno uno uno zero uno zero zero zero zero zero zero uno due tre quattro "
        "cinque sei",
        "IT60X0542811101000000123456",
    ),
    # Wrong CIN, right mod-97 digits: python-stdnum alone would accept these.
    ("IT26A0306909606000000123456", "!invalid_iban"),
    ("IT65A0542811101000000123456", "!invalid_iban"),
    ("IT54A0200801600000100129899", "!invalid_iban"),
    ("IT22B0306234210000001234567", "!invalid_iban"),
    # Wrong mod-97 check.
    ("IT21X0306909606000000123457", "!invalid_iban"),
    ("IT60X0542811101000000123457", "!invalid_iban"),
    ("IT25R0200801600000100129890", "!invalid_iban"),
    # Too short for Italy.
    ("IT60X054281110100000012345", "!invalid_iban"),
    ("IT60 X054 2811", "!invalid_iban"),
    ("IT99X0542811101000000123456", "!invalid_iban"),
    ("non ho l'iban sotto mano", None),
    ("3471234567", None),
    ("RSSMRA80C03H501F", None),
    ("", None),
    ("sì", None),
    ("il conto è alla posta", None),
    ("12345", None),
]

IBAN_EN: list[Row] = [
    ("my IBAN is IT60X0542811101000000123456", "IT60X0542811101000000123456"),
    ("IT60 X054 2811 1010 0000 0123 456", "IT60X0542811101000000123456"),
    ("it's IT21 X030 6909 6060 0000 0123 456", "IT21X0306909606000000123456"),
    ("it21x0306909606000000123456", "IT21X0306909606000000123456"),
    ("IT25R0200801600000100129899 thanks", "IT25R0200801600000100129899"),
    ("IBAN IT18A0306234210000001234567", "IT18A0306234210000001234567"),
    ("IT05L0103003200000004567890", "IT05L0103003200000004567890"),
    ("IT93 H050 3411 7010 0000 0009 876", "IT93H0503411701000000009876"),
    ("IT85M0306905036100000046009", "IT85M0306905036100000046009"),
    ("IT47 C020 0805 3640 0010 3291 476", "IT47C0200805364000103291476"),
    ("IT46X0832703398000000012345", "IT46X0832703398000000012345"),
    ("IT26O0335901600100000061234", "IT26O0335901600100000061234"),
    ("IT89S0623012400000040123456", "IT89S0623012400000040123456"),
    ("IT04A0311111200000000001234", "IT04A0311111200000000001234"),
    ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
    ("my UK account is GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("DE89370400440532013000", "DE89370400440532013000"),
    ("CH93 0076 2011 6238 5295 7", "CH9300762011623852957"),
    ("NL91ABNA0417164300", "NL91ABNA0417164300"),
    ("ES9121000418450200051332", "ES9121000418450200051332"),
    ("SM86 U032 2509 8000 0000 0270 100", "SM86U0322509800000000270100"),
    (
        "india tango six zero x-ray zero five four two eight one one one zero one zero zero "
        "zero zero zero zero one two three four five six",
        "IT60X0542811101000000123456",
    ),
    (
        "I T six oh X oh five four two eight one one one oh one oh oh oh oh oh oh one two "
        "three four five six",
        "IT60X0542811101000000123456",
    ),
    ("IT26A0306909606000000123456", "!invalid_iban"),
    ("IT65A0542811101000000123456", "!invalid_iban"),
    ("my IBAN is IT54A0200801600000100129899", "!invalid_iban"),
    ("IT22B0306234210000001234567", "!invalid_iban"),
    ("IT21X0306909606000000123457", "!invalid_iban"),
    ("IT60X0542811101000000123457", "!invalid_iban"),
    ("IT18A0306234210000001234568", "!invalid_iban"),
    ("GB82WEST12345698765433", "!invalid_iban"),
    ("DE89370400440532013001", "!invalid_iban"),
    ("IT60X054281110100000012345", "!invalid_iban"),
    ("I don't have it with me", None),
    ("my phone is 3471234567", None),
    ("", None),
    ("yes", None),
    ("it's at the bank", None),
    ("12345", None),
    ("IT", None),
    ("it is 60 euros", None),
]


@pytest.mark.parametrize(("text", "expected"), IBAN_IT)
def test_iban_it(text: str, expected: str | None) -> None:
    check("iban", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), IBAN_EN)
def test_iban_en(text: str, expected: str | None) -> None:
    check("iban", text, "en", expected)


def test_iban_cin_matches_the_codice_fiscale_algorithm() -> None:
    assert iban_cin_ok("IT60X0542811101000000123456")
    assert not iban_cin_ok("IT60Y0542811101000000123456")
    assert iban_cin_ok("DE89370400440532013000")  # no CIN outside Italy / San Marino


# -------------------------------------------------------------------------- codice fiscale

CF_IT: list[Row] = [
    ("RSSMRA80C03H501F", "RSSMRA80C03H501F"),
    ("rssmra80c03h501f", "RSSMRA80C03H501F"),
    ("il mio codice fiscale è RSSMRA80C03H501F", "RSSMRA80C03H501F"),
    ("RSS MRA 80C03 H501F", "RSSMRA80C03H501F"),
    ("rss mra 80c03 h501f", "RSSMRA80C03H501F"),
    ("RSSMRA 80 C 03 H 501 F", "RSSMRA80C03H501F"),
    ("codice fiscale: BNCLRA85T52F205E.", "BNCLRA85T52F205E"),
    ("VRDGPP13R10B293P", "VRDGPP13R10B293P"),
    ("è FRRLCU75A01F205Q", "FRRLCU75A01F205Q"),
    ("CLMCST90E41L219J grazie", "CLMCST90E41L219J"),
    ("PLLMRC66H23A944R", "PLLMRC66H23A944R"),
    ("SPSSFO92B45H501O", "SPSSFO92B45H501O"),
    ("BRN GNN 70L15 D612F", "BRNGNN70L15D612F"),
    ("GLLFNC88M60G273E", "GLLFNC88M60G273E"),
    ("MRTLSN01S14L736Z", "MRTLSN01S14L736Z"),
    ("CSTNDR99P08F839S", "CSTNDR99P08F839S"),
    ("RMNLNE77D55C351I", "RMNLNE77D55C351I"),
    ("DMCPLA83H12E463K", "DMCPLA83H12E463K"),
    ("TRNSLV02E50Z404Z", "TRNSLV02E50Z404Z"),
    # Omocodia: digits replaced by letters for homonyms; still a valid code.
    ("RSSMRA80C03H50MX", "RSSMRA80C03H50MX"),
    ("RSSMRA80C03HRLMD", "RSSMRA80C03HRLMD"),
    ("BNCLRAU5T52F205B", "BNCLRAU5T52F205B"),
    ("erre esse esse emme erre a 80 ci 03 acca 501 effe", "RSSMRA80C03H501F"),
    (
        "erre esse esse emme erre a ottanta ci zero tre acca cinquecentouno effe",
        "RSSMRA80C03H501F",
    ),
    (
        "R come Roma, S come Savona, S come Savona, M come Milano, R come Roma, A come "
        "Ancona, otto zero, C come Como, zero tre, H come Hotel, cinque zero uno, F come Firenze",
        "RSSMRA80C03H501F",
    ),
    (
        "il mio codice è Roma Savona Savona Milano Roma Ancona 80 Como 03 Hotel 501 Firenze",
        "RSSMRA80C03H501F",
    ),
    (
        "bi enne ci elle erre a ottantacinque ti cinquantadue effe duecentocinque e",
        "BNCLRA85T52F205E",
    ),
    (
        "vu erre di gi pi pi tredici erre dieci bi duecentonovantatré pi",
        "VRDGPP13R10B293P",
    ),
    # Wrong check letter.
    ("RSSMRA80C03H501A", "!invalid_codice_fiscale"),
    ("il codice è BNCLRA85T52F205A", "!invalid_codice_fiscale"),
    ("VRDGPP13R10B293A", "!invalid_codice_fiscale"),
    ("erre esse esse emme erre a 80 ci 03 acca 501 gi", "!invalid_codice_fiscale"),
    # 11 digits: a company's codice fiscale (= partita IVA), not a person's.
    ("12345670017", "!invalid_codice_fiscale"),
    ("il codice fiscale della ditta è 01234560017", "!invalid_codice_fiscale"),
    # 15 characters: one missing.
    ("RSSMRA80C03H501", "!invalid_codice_fiscale"),
    ("non lo ricordo", None),
    ("", None),
    ("sì", None),
    ("3471234567", None),
    ("Mario Rossi", None),
    ("nato a Roma il 3 marzo 1980", None),
]

CF_EN: list[Row] = [
    ("RSSMRA80C03H501F", "RSSMRA80C03H501F"),
    ("my tax code is RSSMRA80C03H501F", "RSSMRA80C03H501F"),
    ("my fiscal code is rssmra80c03h501f", "RSSMRA80C03H501F"),
    ("RSS MRA 80C03 H501F", "RSSMRA80C03H501F"),
    ("it's BNCLRA85T52F205E", "BNCLRA85T52F205E"),
    ("VRDGPP13R10B293P thanks", "VRDGPP13R10B293P"),
    ("FRRLCU75A01F205Q", "FRRLCU75A01F205Q"),
    ("CLMCST90E41L219J", "CLMCST90E41L219J"),
    ("PLLMRC66H23A944R", "PLLMRC66H23A944R"),
    ("SPSSFO92B45H501O", "SPSSFO92B45H501O"),
    ("BRNGNN70L15D612F", "BRNGNN70L15D612F"),
    ("GLLFNC88M60G273E", "GLLFNC88M60G273E"),
    ("MRTLSN01S14L736Z", "MRTLSN01S14L736Z"),
    ("CSTNDR99P08F839S", "CSTNDR99P08F839S"),
    ("RMNLNE77D55C351I", "RMNLNE77D55C351I"),
    ("DMCPLA83H12E463K", "DMCPLA83H12E463K"),
    ("NGRFRN54A22H501B", "NGRFRN54A22H501B"),
    ("TRNSLV02E50Z404Z", "TRNSLV02E50Z404Z"),
    ("RSSMRA80C03H50MX", "RSSMRA80C03H50MX"),
    ("RSSMRA80C03HRLMD", "RSSMRA80C03HRLMD"),
    ("BNCLRAU5T52F205B", "BNCLRAU5T52F205B"),
    (
        "romeo sierra sierra mike romeo alpha eight zero charlie zero three hotel five "
        "zero one foxtrot",
        "RSSMRA80C03H501F",
    ),
    (
        "R as in Romeo, S as in Sierra, S as in Sierra, M as in Mike, R as in Romeo, A as "
        "in Alpha, eighty, C as in Charlie, oh three, H as in Hotel, five oh one, F as in "
        "Foxtrot",
        "RSSMRA80C03H501F",
    ),
    ("ar ess ess em ar a eight zero cee zero three aitch five zero one eff", "RSSMRA80C03H501F"),
    (
        "bravo november charlie lima romeo alpha eight five tango five two foxtrot two "
        "zero five echo",
        "BNCLRA85T52F205E",
    ),
    ("RSSMRA80C03H501A", "!invalid_codice_fiscale"),
    ("BNCLRA85T52F205A", "!invalid_codice_fiscale"),
    ("my code is VRDGPP13R10B293A", "!invalid_codice_fiscale"),
    ("FRRLCU75A01F205A", "!invalid_codice_fiscale"),
    (
        "romeo sierra sierra mike romeo alpha eight zero charlie zero three hotel five "
        "zero one golf",
        "!invalid_codice_fiscale",
    ),
    ("12345670017", "!invalid_codice_fiscale"),
    ("the company number is 01234560017", "!invalid_codice_fiscale"),
    ("RSSMRA80C03H501", "!invalid_codice_fiscale"),
    ("I don't know it", None),
    ("", None),
    ("yes", None),
    ("3471234567", None),
    ("Mario Rossi", None),
    ("born in Rome on March 3rd 1980", None),
    ("I don't have an Italian tax code", None),
    ("hold on a second", None),
]


@pytest.mark.parametrize(("text", "expected"), CF_IT)
def test_codice_fiscale_it(text: str, expected: str | None) -> None:
    check("codice_fiscale", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), CF_EN)
def test_codice_fiscale_en(text: str, expected: str | None) -> None:
    check("codice_fiscale", text, "en", expected)


# ----------------------------------------------------------------------------- partita IVA

IVA_IT: list[Row] = [
    ("12345670017", "12345670017"),
    ("12345670018 anzi 7", "12345670017"),
    ("1234567001 anzi 12345670017", "12345670017"),
    ("12345670017 no scusi 8", "!invalid_partita_iva"),
    ("IT12345670017", "12345670017"),
    ("IT 12345 670017", "12345670017"),
    ("it12345670017", "12345670017"),
    ("la partita iva è 12345670017", "12345670017"),
    ("P.IVA 01234560017", "01234560017"),
    ("partita IVA: IT07654320014.", "07654320014"),
    ("02109870150", "02109870150"),
    ("09876541211", "09876541211"),
    ("13579240030 grazie", "13579240030"),
    ("02468130055", "02468130055"),
    ("019 283 700 61", "01928370061"),
    ("05647380095", "05647380095"),
    ("10293840103", "10293840103"),
    ("09182730011", "09182730011"),
    ("02030400507", "02030400507"),
    ("0123456 0017", "01234560017"),
    ("uno due tre quattro cinque sei sette zero zero uno sette", "12345670017"),
    ("zero uno due tre quattro cinque sei zero zero uno sette", "01234560017"),
    ("i ti uno due tre quattro cinque sei sette zero zero uno sette", "12345670017"),
    ("dodici trentaquattro cinquantasei settanta zero diciassette", "12345670017"),
    ("zero sette sei cinque quattro tre due zero zero uno quattro", "07654320014"),
    ("zero due uno zero nove otto sette zero uno cinque zero", "02109870150"),
    ("la mia partita iva è zero nove otto sette sei cinque quattro uno due uno uno", "09876541211"),
    # Wrong check digit.
    ("12345670018", "!invalid_partita_iva"),
    ("IT01234560018", "!invalid_partita_iva"),
    ("07654320015", "!invalid_partita_iva"),
    ("la partita iva è 02109870151", "!invalid_partita_iva"),
    ("09876541212", "!invalid_partita_iva"),
    ("uno due tre quattro cinque sei sette zero zero uno otto", "!invalid_partita_iva"),
    # Wrong length.
    ("1234567001", "!invalid_partita_iva"),
    ("123456700178", "!invalid_partita_iva"),
    # Office code 000 is not assigned.
    ("12345670009", "!invalid_partita_iva"),
    ("non ho la partita iva", None),
    ("", None),
    ("sì", None),
    ("RSSMRA80C03H501F", None),
    ("12345", None),
    ("ho 38 anni", None),
    ("costa 12,50 euro", None),
    ("sono un privato", None),
]

IVA_EN: list[Row] = [
    ("12345670017", "12345670017"),
    ("my VAT number is IT12345670017", "12345670017"),
    ("VAT: IT 12345 670017", "12345670017"),
    ("it's 01234560017", "01234560017"),
    ("07654320014", "07654320014"),
    ("02109870150 thanks", "02109870150"),
    ("09876541211", "09876541211"),
    ("13579240030", "13579240030"),
    ("02468130055", "02468130055"),
    ("01928370061", "01928370061"),
    ("056 473 800 95", "05647380095"),
    ("10293840103", "10293840103"),
    ("09182730011", "09182730011"),
    ("02030400507", "02030400507"),
    ("it12345670017", "12345670017"),
    ("one two three four five six seven zero zero one seven", "12345670017"),
    ("zero one two three four five six zero zero one seven", "01234560017"),
    ("oh one two three four five six oh oh one seven", "01234560017"),
    ("I T one two three four five six seven zero zero one seven", "12345670017"),
    ("zero seven six five four three two zero zero one four", "07654320014"),
    ("my VAT number is zero two one zero nine eight seven zero one five zero", "02109870150"),
    ("zero nine eight seven six five four one two double one", "09876541211"),
    ("one three five seven nine two four double oh three oh", "13579240030"),
    ("12345670018", "!invalid_partita_iva"),
    ("IT01234560018", "!invalid_partita_iva"),
    ("my VAT number is 07654320015", "!invalid_partita_iva"),
    ("02109870151", "!invalid_partita_iva"),
    ("09876541212", "!invalid_partita_iva"),
    ("one two three four five six seven zero zero one eight", "!invalid_partita_iva"),
    ("1234567001", "!invalid_partita_iva"),
    ("123456700178", "!invalid_partita_iva"),
    ("12345670009", "!invalid_partita_iva"),
    ("I don't have a VAT number", None),
    ("", None),
    ("yes", None),
    ("RSSMRA80C03H501F", None),
    ("12345", None),
    ("I am 38", None),
    ("it costs 12.50", None),
    ("I'm a private customer", None),
    ("room 101", None),
]


@pytest.mark.parametrize(("text", "expected"), IVA_IT)
def test_partita_iva_it(text: str, expected: str | None) -> None:
    check("partita_iva", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), IVA_EN)
def test_partita_iva_en(text: str, expected: str | None) -> None:
    check("partita_iva", text, "en", expected)


# ------------------------------------------------------------------------------------- CAP

CAP_IT: list[Row] = [
    ("00184", "00184"),
    ("zero zero uno otto cinque no quattro", "00184"),
    ("00185 anzi 00184", "00184"),
    ("00184 anzi 5", "00185"),
    ("il cap è 00184", "00184"),
    ("CAP 20121", "20121"),
    ("20121 Milano", "20121"),
    ("via Roma 12, 00184 Roma", "00184"),
    ("abito in via Garibaldi 5, 10121 Torino", "10121"),
    ("80133", "80133"),
    ("50122 Firenze", "50122"),
    ("il codice postale è 40121", "40121"),
    ("90133", "90133"),
    ("16121 Genova", "16121"),
    ("98168", "98168"),
    ("00010", "00010"),
    ("09170 Oristano", "09170"),
    ("00 184", "00184"),
    ("001 84", "00184"),
    ("zero zero uno otto quattro", "00184"),
    ("zero zero centottantaquattro", "00184"),
    ("il cap è zero zero uno otto quattro", "00184"),
    ("venti centoventuno", "20121"),
    ("due zero uno due uno", "20121"),
    ("ottanta centotrentatré", "80133"),
    ("cinque zero uno due due", "50122"),
    ("quaranta cento ventuno", "40121"),
    ("dieci cento ventuno", "10121"),
    ("zero zero uno doppio otto", "00188"),
    ("novantotto centosessantotto", "98168"),
    # Out of the Italian range.
    ("99999", "!invalid_cap"),
    ("00000", "!invalid_cap"),
    ("00005", "!invalid_cap"),
    # One digit missing or extra.
    ("0018", "!invalid_cap"),
    ("001844", "!invalid_cap"),
    ("zero zero uno otto", "!invalid_cap"),
    ("non lo so", None),
    ("", None),
    ("sì", None),
    ("ho 38 anni", None),
    ("abito a Roma", None),
    ("via Roma 12", None),
    ("3471234567", None),
    ("tre", None),
    ("sono nato nel 1980", None),
]

CAP_EN: list[Row] = [
    ("zero zero one eight five sorry four", "00184"),
    ("00184", "00184"),
    ("my postcode is 00184", "00184"),
    ("the zip code is 20121", "20121"),
    ("20121 Milan", "20121"),
    ("via Roma 12, 00184 Rome", "00184"),
    ("I live at via Garibaldi 5, 10121 Turin", "10121"),
    ("80133", "80133"),
    ("50122 Florence", "50122"),
    ("it's 40121", "40121"),
    ("90133", "90133"),
    ("16121", "16121"),
    ("98168", "98168"),
    ("00010", "00010"),
    ("09170", "09170"),
    ("00 184", "00184"),
    ("zero zero one eight four", "00184"),
    ("oh oh one eight four", "00184"),
    ("double oh one eight four", "00184"),
    ("my postcode is zero zero one eight four", "00184"),
    ("two zero one two one", "20121"),
    ("two oh one twenty one", "20121"),
    ("eight zero one three three", "80133"),
    ("five oh one two two", "50122"),
    ("four zero one two one", "40121"),
    ("one oh one two one", "10121"),
    ("nine eight one six eight", "98168"),
    ("zero nine one seven zero", "09170"),
    ("99999", "!invalid_cap"),
    ("00000", "!invalid_cap"),
    ("00005", "!invalid_cap"),
    ("0018", "!invalid_cap"),
    ("001844", "!invalid_cap"),
    ("zero zero one eight", "!invalid_cap"),
    ("I don't know", None),
    ("", None),
    ("yes", None),
    ("I am 38", None),
    ("I live in Rome", None),
    ("via Roma 12", None),
    ("3471234567", None),
    ("three", None),
    ("I was born in 1980", None),
]


@pytest.mark.parametrize(("text", "expected"), CAP_IT)
def test_cap_it(text: str, expected: str | None) -> None:
    check("cap", text, "it", expected)


@pytest.mark.parametrize(("text", "expected"), CAP_EN)
def test_cap_en(text: str, expected: str | None) -> None:
    check("cap", text, "en", expected)


def test_tables_have_at_least_40_rows_each() -> None:
    tables = [PHONE_IT, PHONE_EN, EMAIL_IT, EMAIL_EN, IBAN_IT, IBAN_EN, CF_IT, CF_EN]
    tables += [IVA_IT, IVA_EN, CAP_IT, CAP_EN]
    assert all(len(t) >= 40 for t in tables), [len(t) for t in tables]


# ------------------------------------------------------------- robustness and determinism
# Every extractor of codes/spelled/choice/text is called directly (not through extract(),
# which cuts the text to 2,000 characters) so that its own caps are what bounds the work.

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ddt_engine.extract import ExtractOptions  # noqa: E402
from ddt_engine.extract.base import Extraction, Extractor  # noqa: E402
from ddt_engine.extract.choice import extract_choice  # noqa: E402
from ddt_engine.extract.codes import (  # noqa: E402
    extract_cap,
    extract_codice_fiscale,
    extract_email,
    extract_iban,
    extract_partita_iva,
    extract_phone,
)
from ddt_engine.extract.spelled import extract_spelled  # noqa: E402
from ddt_engine.extract.text import extract_text  # noqa: E402

OWN: list[Extractor] = [
    extract_phone,
    extract_email,
    extract_iban,
    extract_codice_fiscale,
    extract_partita_iva,
    extract_cap,
    extract_spelled,
    extract_choice,
    extract_text,
]
ROBUST_OPTIONS = ExtractOptions(
    choices={"carta": {"it": ["bancomat"], "en": ["card"]}, "contanti": {"en": ["cash"]}},
    patterns=[r"[A-Z]{2}[0-9]{3}[A-Z]{2}", r"\d+"],
)
# Hostile fragments: what the grammars look for, repeated into long inputs.
FRAGMENTS = st.sampled_from(
    [
        "tre ", "zero ", "oh ", "doppio ", "double ", "più ", "+", "39", "347", " ", "@",
        "punto ", "dot ", "chiocciola ", "at ", "IT60", "X054", "erre ", "a ", "e ", "come ",
        "Roma ", "as in ", "bravo ", "i lunga ", "il primo ", "8", "0", ".", "-", "è ",
        "RSSMRA", "80C03", "H501F", "cinquecentouno ", "ottanta ", "ventuno ", "\u200b", "😀",
    ]
)  # fmt: skip


def _run_twice(fn: Extractor, text: str, lang: str) -> None:
    first = fn(text, lang, AT, ROBUST_OPTIONS)
    second = fn(text, lang, AT, ROBUST_OPTIONS)
    assert first == second
    assert first is None or isinstance(first, Extraction)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300), lang=st.sampled_from(["it", "en", "fr", ""]))
def test_own_extractors_never_raise_and_are_deterministic(text: str, lang: str) -> None:
    for fn in OWN:
        _run_twice(fn, text, lang)


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(FRAGMENTS, max_size=200), lang=st.sampled_from(["it", "en"]))
def test_own_extractors_on_code_like_noise(parts: list[str], lang: str) -> None:
    text = "".join(parts)
    for fn in OWN:
        _run_twice(fn, text, lang)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a" * 100_000,
        "3" * 100_000,
        "tre " * 25_000,
        "punto " * 17_000,
        "@" * 100_000,
        "IT60 " * 20_000,
        "erre come Roma " * 7_000,
        "mario.rossi@gmail.com " * 5_000,
        "😀" * 50_000,
        "\u200b\x00" * 50_000,
    ],
    ids=lambda t: f"{len(t)}:{t[:8]!r}",
)
def test_own_extractors_on_100kb_inputs(text: str) -> None:
    for lang in ("it", "en"):
        for fn in OWN:
            _run_twice(fn, text, lang)


def test_codes_are_found_early_in_long_text_and_ignored_after_the_cap() -> None:
    padding = " bla" * 25_000
    got = extract_phone("il mio numero è 347 123 4567" + padding, "it", AT, ROBUST_OPTIONS)
    assert got is not None and got.value == "+393471234567"
    assert extract_phone(padding + " 347 123 4567", "it", AT, ROBUST_OPTIONS) is None


# The phone fast path must never accept what phonenumbers itself would refuse.

import phonenumbers  # noqa: E402

from ddt_engine.extract.codes import _fast_italian  # noqa: E402

ACCEPTED = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
}


def _library_says(cand: str) -> str | None:
    try:
        num = phonenumbers.parse(cand, "IT")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(num) and phonenumbers.number_type(num) in ACCEPTED:
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return None


@settings(max_examples=800, deadline=None)
@given(
    prefix=st.sampled_from(["", "+39", "0039"]),
    lead=st.sampled_from(["0", "3", "8", "06", "02", "34", "80", "39", "0669", "0878", "89"]),
    rest=st.text(alphabet="0123456789", min_size=3, max_size=11),
)
def test_phone_fast_path_agrees_with_phonenumbers(prefix: str, lead: str, rest: str) -> None:
    cand = prefix + lead + rest
    fast = _fast_italian(cand)
    if fast is not None:
        assert fast == _library_says(cand)
