"""yes_no extraction and detect_yes_no (answer + remainder for corrections), it and en."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddt_engine.extract import extract
from ddt_engine.extract.yesno import detect_yes_no

AT = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)

IT: list[tuple[str, bool | None]] = [
    ("sì", True),
    ("si", True),
    ("Sì.", True),
    ("sì certo", True),
    ("si certo", True),
    ("certo", True),
    ("certamente", True),
    ("esatto", True),
    ("esattamente", True),
    ("giusto", True),
    ("corretto", True),
    ("va bene", True),
    ("ok", True),
    ("okay", True),
    ("confermo", True),
    ("perfetto", True),
    ("d'accordo", True),
    ("d’accordo", True),
    ("sì sì", True),
    ("sì, è giusto", True),
    ("è corretto", True),
    ("proprio così", True),
    ("beh sì", True),
    ("sì grazie", True),
    ("assolutamente sì", True),
    ("certo che sì", True),
    ("direi di sì", True),
    ("credo di si", True),
    ("affermativo", True),
    ("così", True),
    ("no", False),
    ("No.", False),
    ("no grazie", False),
    ("assolutamente no", False),
    ("no no", False),
    ("non è corretto", False),
    ("non è giusto", False),
    ("sbagliato", False),
    ("negativo", False),
    ("non proprio", False),
    ("per niente", False),
    ("niente affatto", False),
    ("direi di no", False),
    ("penso di no", False),
    ("macché", False),
    ("ma no", False),
    ("non confermo", False),
    ("purtroppo no", False),
    ("boh", None),
    ("non lo so", None),
    ("non ho capito", None),
    ("il 15 marzo", None),
    ("", None),
    ("sì no", None),
    ("forse", None),
    ("sì e no", None),
    ("perché no", True),
    ("nessun problema", True),
    ("non c'è problema", True),
    ("cosa", None),
    ("non credo", False),
    ("neanche per idea", False),
    ("non sono d'accordo", False),
    ("uhm no", False),
    ("dunque sì", True),
    ("veramente no", False),
    ("anzi no", False),
    ("in realtà no", False),
    ("a dire il vero sì", True),
    ("in realtà", None),
    ("non credo di aver capito", None),
    # backchannels (QA): yes; a hesitation alone stays no answer
    ("mh mh", True),
    ("mhm", True),
    ("eh già", True),
    ("già", True),
    ("già già", True),
    ("mhm, il 15", True),
    ("mh", None),
    ("eh", None),
    ("hmm", None),
    ("già detto", None),
]

EN: list[tuple[str, bool | None]] = [
    ("yes", True),
    ("Yes.", True),
    ("yes please", True),
    ("yeah", True),
    ("yep", True),
    ("yup", True),
    ("sure", True),
    ("sure thing", True),
    ("correct", True),
    ("right", True),
    ("that's right", True),
    ("that’s correct", True),
    ("that is correct", True),
    ("exactly", True),
    ("absolutely", True),
    ("of course", True),
    ("confirm", True),
    ("i confirm", True),
    ("indeed", True),
    ("definitely", True),
    ("ok", True),
    ("okay", True),
    ("alright", True),
    ("sounds good", True),
    ("well yes", True),
    ("yes thank you", True),
    ("I think so", True),
    ("it is", True),
    ("perfect", True),
    ("uh huh", True),
    ("no", False),
    ("No!", False),
    ("nope", False),
    ("nah", False),
    ("not really", False),
    ("no thanks", False),
    ("no thank you", False),
    ("wrong", False),
    ("incorrect", False),
    ("that's wrong", False),
    ("that's not right", False),
    ("not at all", False),
    ("absolutely not", False),
    ("no way", False),
    ("negative", False),
    ("I don't think so", False),
    ("not quite", False),
    ("of course not", False),
    ("maybe", None),
    ("I don't know", None),
    ("what", None),
    ("the fifteenth", None),
    ("", None),
    ("yes no", None),
    ("it is the 15th", None),
    ("no idea", None),
    ("not sure", None),
    ("I'm not sure", None),
    ("yes and no", None),
    ("no problem", True),
    ("why not", True),
    ("hmm no", False),
    ("thats right", True),
    ("thats not correct", False),
    ("i dont think so", False),
    ("hmm", None),
    # "actually", "to be honest" before the answer
    ("actually no, make it the first one", False),
    ("actually yes", True),
    ("to be honest, no", False),
    ("in fact yes", True),
    ("actually", None),
    # backchannels (QA: "mhm" was no answer); a hesitation alone stays no answer
    ("mhm", True),
    ("mhmm", True),
    ("mm-hm", True),
    ("mm hmm", True),
    ("uh-huh", True),
    ("yup", True),
    ("yeah yeah", True),
    ("mhm, the 15th", True),
    ("uh", None),
    ("mm", None),
    ("uh uh", None),
    ("hmm no", False),
]


@pytest.mark.parametrize(("text", "expected"), IT)
def test_yes_no_it(text: str, expected: bool | None) -> None:
    got = extract("yes_no", text, "it", AT)
    assert (got.value if got else None) is expected


@pytest.mark.parametrize(("text", "expected"), EN)
def test_yes_no_en(text: str, expected: bool | None) -> None:
    got = extract("yes_no", text, "en", AT)
    assert (got.value if got else None) is expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("no, il 15", "it", (False, "il 15")),
        ("no è il 15 marzo", "it", (False, "il 15 marzo")),
        ("No, è il 15 marzo", "it", (False, "il 15 marzo")),
        ("sì certo", "it", (True, "")),
        ("boh", "it", (None, "boh")),
        ("no no, 15/03/1980", "it", (False, "15/03/1980")),
        ("no grazie, il 16", "it", (False, "il 16")),
        ("sì, ma alle 5", "it", (True, "alle 5")),
        ("non è corretto, è il 3 marzo", "it", (False, "il 3 marzo")),
        ("no, the 15th", "en", (False, "the 15th")),
        ("nope, march third", "en", (False, "march third")),
        ("yes, at 5 pm", "en", (True, "at 5 pm")),
        ("that's wrong, it's the 4th", "en", (False, "it's the 4th")),
        ("", "en", (None, "")),
        ("anzi no, il 16", "it", (False, "il 16")),
        ("in realtà no, il 16", "it", (False, "il 16")),
        ("sì, anzi il 16", "it", (True, "il 16")),
        ("sì anzi no", "it", (False, "")),  # corrected: the answer after the marker
        ("actually no, the 16th", "en", (False, "the 16th")),
    ],
)
def test_detect_yes_no_remainder(text: str, lang: str, expected: tuple[bool | None, str]) -> None:
    assert detect_yes_no(text, lang) == expected


def test_remainder_lowers_confidence() -> None:
    plain = extract("yes_no", "no", "it", AT)
    with_rest = extract("yes_no", "no, il 15", "it", AT)
    assert plain is not None and with_rest is not None
    assert plain.confidence == 1.0 and with_rest.confidence < 1.0
    assert plain.layer == "grammar"
