"""Yes/no answers in Italian and English, and corrections given with them.

``detect_yes_no("no, il 15", "it")`` → ``(False, "il 15")``: the answer and what follows
it (the remainder may carry a corrected value). ``extract_yes_no`` is the ``yes_no``
extractor (a bool). Both are pure and never raise.
"""

from __future__ import annotations

import re
from datetime import datetime

from ddt_engine.extract._a_text import tokens, words
from ddt_engine.extract.base import Extraction, ExtractOptions

__all__ = ["detect_yes_no", "extract_yes_no"]

# Phrases that may open a longer answer ("no, il 15", "yes, the fifteenth").
_PREFIX: dict[str, dict[bool, tuple[str, ...]]] = {
    "it": {
        True: (
            "sì",
            "si",
            "sì sì",
            "certo",
            "certamente",
            "certo che sì",
            "esatto",
            "esattamente",
            "giusto",
            "giustissimo",
            "corretto",
            "va bene",
            "va benissimo",
            "ok",
            "okay",
            "confermo",
            "confermato",
            "perfetto",
            "d'accordo",
            "affermativo",
            "sicuro",
            "sicuramente",
            "assolutamente sì",
            "assolutamente",
            "proprio così",
            "è giusto",
            "è corretto",
            "è esatto",
            "è così",
            "esatto così",
            "ovviamente",
            "ovvio",
            "senz'altro",
            "sissignore",
            "volentieri",
            "benissimo",
            "yes",
            "è proprio così",
            "sì è giusto",
            "sì è corretto",
            "sì confermo",
            "certo confermo",
            "direi di sì",
            "credo di sì",
            "penso di sì",
            "mi sembra di sì",
            "sì grazie",
            "sì per favore",
            # backchannels: "mh mh", "eh già" ("mh" or "eh" alone is no answer)
            "mh mh",
            "mhm",
            "mhmm",
            "eh già",
        ),
        False: (
            "no",
            "no no",
            "assolutamente no",
            "no grazie",
            "niente affatto",
            "per niente",
            "non è corretto",
            "non è giusto",
            "non è esatto",
            "non è così",
            "non proprio",
            "non esattamente",
            "sbagliato",
            "è sbagliato",
            "negativo",
            "non confermo",
            "nemmeno per sogno",
            "neanche per sogno",
            "macché",
            "ma no",
            "non va bene",
            "nossignore",
            "direi di no",
            "credo di no",
            "penso di no",
            "mi sembra di no",
            "purtroppo no",
            "certo che no",
            "proprio no",
            "non è questo",
            "non è quello",
            "non è la data giusta",
            "non ci siamo",
            "neanche per idea",
            "nemmeno per idea",
            "non sono d'accordo",
        ),
    },
    "en": {
        True: (
            "yes",
            "yeah",
            "yep",
            "yup",
            "ya",
            "yea",
            "yes yes",
            "sure",
            "sure thing",
            "correct",
            "right",
            "that's right",
            "that is right",
            "that's correct",
            "that is correct",
            "exactly",
            "absolutely",
            "of course",
            "confirm",
            "confirmed",
            "i confirm",
            "indeed",
            "definitely",
            "certainly",
            "affirmative",
            "ok",
            "okay",
            "alright",
            "all right",
            "sounds good",
            "perfect",
            "uh huh",
            # backchannels: "mhm", "mm-hm" ("mm", "hmm" or "uh" alone is no answer)
            "mhm",
            "mhmm",
            "mmhm",
            "mm hm",
            "mm hmm",
            "you got it",
            "that's it",
            "that's the one",
            "i think so",
            "i guess so",
            "yes please",
            "yes thanks",
            "yes thank you",
            "yes it is",
            "yes that's right",
            "spot on",
            "thats right",
            "thats correct",
        ),
        False: (
            "no",
            "no no",
            "nope",
            "nah",
            "not really",
            "no thanks",
            "no thank you",
            "wrong",
            "incorrect",
            "that's wrong",
            "that is wrong",
            "that's not right",
            "that is not right",
            "that's incorrect",
            "that is incorrect",
            "that's not correct",
            "that is not correct",
            "not correct",
            "not right",
            "not at all",
            "absolutely not",
            "no way",
            "negative",
            "definitely not",
            "of course not",
            "certainly not",
            "i don't think so",
            "i do not think so",
            "not quite",
            "not exactly",
            "no it isn't",
            "no it's not",
            "no it is not",
            "that's not it",
            "not that",
            "thats wrong",
            "thats not right",
            "thats not correct",
            "thats incorrect",
            "i dont think so",
        ),
    },
}

# Phrases taken only as the whole utterance ("è così" yes, but "it is the 15th" is no answer).
_WHOLE: dict[str, dict[bool, tuple[str, ...]]] = {
    "it": {
        True: (
            "così",
            "bene",
            "è quello",
            "è questo",
            "è lei",
            "è lui",
            "esatto sì",
            "sì sì sì",
            "già",  # whole only: "già detto" is no answer
            "già già",
            "perché no",
            "nessun problema",
            "non c'è problema",
            "non ci sono problemi",
        ),
        False: (
            "non è",
            "non è lui",
            "non è lei",
            "falso",
            "no no no",
            "non credo",
            "meglio di no",
        ),
    },
    "en": {
        True: (
            "it is",
            "it's",
            "true",
            "fine",
            "good",
            "it is correct",
            "it's correct",
            "why not",
            "no problem",
            "no worries",
            "not a problem",
            "go ahead",
            "please do",
            "go for it",
        ),
        False: (
            "it isn't",
            "it's not",
            "it is not",
            "false",
            "no no no",
            "i'd rather not",
            "rather not",
            "better not",
        ),
    },
}

# Whole utterances that open like an answer but are none ("no idea" is not a "no").
_NEUTRAL: dict[str, tuple[str, ...]] = {
    "it": ("no so", "sì e no", "si e no", "sì o no", "non so"),
    "en": ("no idea", "no clue", "not sure", "no idea sorry", "yes and no", "yes or no"),
}

# A self-correction between two answers ("sì, cioè no", "no wait, yes", "yes I mean no"):
# the answer after the marker is the one that counts.
_CORRECTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "it": tuple(
        words(p)
        for p in (
            "anzi",
            "cioè",
            "no scusi",
            "no scusa",
            "scusi",
            "scusa",
            "volevo dire",
            "o meglio",
            "mi correggo",
            "no aspetti",
            "no aspetta",
            "aspetti",
            "aspetta",
        )
    ),
    "en": tuple(
        words(p) for p in ("sorry", "i mean", "i meant", "no wait", "wait", "actually", "or rather")
    ),
}

# Openings that look like an answer and are none ("correct me if I'm wrong").
_NOT_ANSWERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "it": (),
    "en": (("correct", "me"),),
}

# Words skipped around the answer ("beh sì", "no grazie", "no, è il 15" → "il 15").
_FILLERS: dict[str, frozenset[str]] = {
    "it": frozenset(
        "beh be allora eh ehm uhm mmm hmm mah ma guardi senta e grazie prego per favore piacere"
        " oh ah dunque anzi veramente".split()
    ),
    "en": frozenset(
        "well um uh uhm er erm hmm hm mm mmm oh ah so please thanks thank you but and "
        "actually".split()
    ),
}

# Phrases skipped before the answer ("in realtà no", "to be honest, yes").
_LEADS: dict[str, tuple[tuple[str, ...], ...]] = {
    "it": tuple(words(p) for p in ("in realtà", "a dire il vero", "per la verità")),
    "en": tuple(words(p) for p in ("to be honest", "in fact", "come to think of it")),
}

_MAX_PHRASE = 6


def _compile() -> tuple[
    dict[str, dict[tuple[str, ...], bool]], dict[str, dict[tuple[str, ...], bool]]
]:
    prefix: dict[str, dict[tuple[str, ...], bool]] = {}
    whole: dict[str, dict[tuple[str, ...], bool]] = {}
    for lang in _PREFIX:
        prefix[lang] = {words(p): ans for ans, ps in _PREFIX[lang].items() for p in ps}
        whole[lang] = dict(prefix[lang])
        whole[lang].update({words(p): ans for ans, ps in _WHOLE[lang].items() for p in ps})
    return prefix, whole


_PREFIX_C, _WHOLE_C = _compile()
_NEUTRAL_C = {lang: frozenset(words(p) for p in ps) for lang, ps in _NEUTRAL.items()}
_NO_LETTERS = re.compile(r"[\W\d_]*")


def _longest(ws: list[str], i: int, table: dict[tuple[str, ...], bool]) -> tuple[bool, int] | None:
    """The answer of the longest phrase of ``table`` starting at ``ws[i]`` and its end."""
    for n in range(min(_MAX_PHRASE, len(ws) - i), 0, -1):
        ans = table.get(tuple(ws[i : i + n]))
        if ans is not None:
            return ans, i + n
    return None


def detect_yes_no(text: str, lang: str) -> tuple[bool | None, str]:
    """``(answer, remainder)``: the yes/no answer opening ``text`` and the rest of it.

    "sì certo" → (True, ""); "no, il 15" → (False, "il 15"); "boh" → (None, "boh").
    """
    if _NO_LETTERS.fullmatch(text[:200]):  # digits and punctuation: no yes/no here
        return None, text.strip()
    lang = lang if lang in _PREFIX_C else "it"
    toks = tokens(text)
    if not toks:
        return None, text.strip()
    ws = [t for t, _, _ in toks]
    fillers = _FILLERS[lang]
    prefix = _PREFIX_C[lang]
    if len(toks) < 64:
        if tuple(ws) in _NEUTRAL_C[lang]:
            return None, text.strip()
        whole = _WHOLE_C[lang].get(tuple(ws))
        if whole is not None:
            return whole, ""
    i = 0
    first = _longest(ws, i, prefix)
    while first is None and i < len(ws):
        lead = next((n for n in map(len, _LEADS[lang]) if tuple(ws[i : i + n]) in _LEADS[lang]), 0)
        if not lead and ws[i] not in fillers:
            break
        i += lead or 1
        first = _longest(ws, i, prefix)
    j = len(ws)
    while j > i and ws[j - 1] in fillers:
        j -= 1
    if i == j:
        return None, text.strip()
    if len(toks) < 64:
        whole = _WHOLE_C[lang].get(tuple(ws[i:j]))
        if whole is not None:
            return whole, ""
    if first is None or any(tuple(ws[i : i + len(n)]) == n for n in _NOT_ANSWERS[lang]):
        return None, text.strip()
    answer, k = first
    # Swallow repeats of the same answer and fillers ("sì sì certo, grazie"); an answer
    # after a correction marker replaces the one before ("sì, cioè no", "no wait, yes").
    while k < len(ws):
        fix = next((len(m) for m in _CORRECTIONS[lang] if tuple(ws[k : k + len(m)]) == m), 0)
        then = _longest(ws, k + fix, prefix) if fix else None
        if then is not None:
            answer, k = then
            continue
        more = _longest(ws, k, prefix)
        if more is None:
            if ws[k] in fillers:
                k += 1
                continue
            break
        if more[0] != answer:
            return None, text.strip()  # "sì no": contradictory, ask again
        k = more[1]
    if k >= len(ws):
        if len(toks) >= 64:  # the token scan stopped early: there is more text
            return answer, text[toks[-1][2] :].strip(" \t\r\n,;:.!?-")
        return answer, ""
    remainder = text[toks[k][1] :].strip()
    return answer, remainder


def extract_yes_no(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    """The ``yes_no`` extractor: True/False; a yes/no followed by more text is less sure."""
    answer, remainder = detect_yes_no(text, lang)
    if answer is None:
        return None
    if answer and remainder and _YES_BUT.get(lang, _YES_BUT["it"]).search(text):
        # "sì, ma alle dieci e mezza", "yes but make it Thursday" at a recap: a yes with a
        # change, not a yes to what was read (no match: the DDT asks again)
        return None
    return Extraction(value=answer, layer="grammar", confidence=1.0 if not remainder else 0.8)


# A yes qualified by a change ("sì, però giovedì"); "ma certo", "but of course" are a yes.
_YES_BUT = {
    "it": re.compile(
        r"\b(?:ma|però|pero|tranne|invece|solo che)\b(?!\s+(?:certo|sì|si|come no|certamente))",
        re.IGNORECASE,
    ),
    "en": re.compile(
        r"\b(?:but|however|except|instead)\b(?!\s+(?:of course|sure|yes|certainly))",
        re.IGNORECASE,
    ),
}
