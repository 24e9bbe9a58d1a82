"""Spelled-code decoding: letter names, spelling alphabets and spoken digits -> code pieces.

``decode(text, lang)`` turns an utterance into a list of pieces: letters ("erre", "R come
Roma", "bravo"), digit strings (written "80", spoken "ottanta", "zero tre", "doppio
sette"), written codes ("80C03") and a leading "+" ("più", "plus"). Words that are none of
these separate the pieces into runs. The code extractors (codice fiscale, IBAN, phone,
CAP, partita IVA) and the ``spelled`` type all read these runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from text_to_num import alpha2digit

from ddt_engine.extract._a_text import HESITATIONS, correction_parts, correction_spans
from ddt_engine.extract._b_norm import MAX_CODE_TEXT, fold
from ddt_engine.extract.numbers import spoken_digits

# Spelling alphabets: the Italian city alphabet and NATO, accepted in both languages.
ALPHABET: dict[str, str] = {
    # Italian
    "ancona": "A",
    "bologna": "B",
    "bari": "B",
    "como": "C",
    "domodossola": "D",
    "empoli": "E",
    "firenze": "F",
    "genova": "G",
    "hotel": "H",
    "imola": "I",
    "jolly": "J",
    "kursaal": "K",
    "kappa": "K",
    "livorno": "L",
    "milano": "M",
    "napoli": "N",
    "otranto": "O",
    "palermo": "P",
    "padova": "P",
    "quarto": "Q",
    "roma": "R",
    "savona": "S",
    "torino": "T",
    "udine": "U",
    "venezia": "V",
    "washington": "W",
    "xilofono": "X",
    "ics": "X",
    "york": "Y",
    "yacht": "Y",
    "ipsilon": "Y",
    "zara": "Z",
    # NATO
    "alfa": "A",
    "alpha": "A",
    "bravo": "B",
    "charlie": "C",
    "delta": "D",
    "echo": "E",
    "eco": "E",
    "foxtrot": "F",
    "fox": "F",
    "golf": "G",
    "india": "I",
    "juliet": "J",
    "juliett": "J",
    "kilo": "K",
    "lima": "L",
    "mike": "M",
    "november": "N",
    "oscar": "O",
    "papa": "P",
    "quebec": "Q",
    "romeo": "R",
    "sierra": "S",
    "tango": "T",
    "uniform": "U",
    "victor": "V",
    "whiskey": "W",
    "whisky": "W",
    "xray": "X",
    "yankee": "Y",
    "zulu": "Z",
}

# Letter names that are not also common words of the language.
_LETTERS_IT: dict[str, str] = {
    "bi": "B",
    "effe": "F",
    "gi": "G",
    "acca": "H",
    "kappa": "K",
    "cappa": "K",
    "elle": "L",
    "emme": "M",
    "enne": "N",
    "pi": "P",
    "cu": "Q",
    "erre": "R",
    "esse": "S",
    "vu": "V",
    "vi": "V",
    "ics": "X",
    "ipsilon": "Y",
    "ypsilon": "Y",
    "zeta": "Z",
}
_LETTERS_EN: dict[str, str] = {
    "bee": "B",
    "cee": "C",
    "dee": "D",
    "ef": "F",
    "eff": "F",
    "gee": "G",
    "aitch": "H",
    "haitch": "H",
    "jay": "J",
    "kay": "K",
    "el": "L",
    "ell": "L",
    "em": "M",
    "en": "N",
    "pee": "P",
    "cue": "Q",
    "queue": "Q",
    "ar": "R",
    "ess": "S",
    "tee": "T",
    "vee": "V",
    "ex": "X",
    "wye": "Y",
    "zed": "Z",
    "zee": "Z",
}
# Letter names that are also everyday words ("e" = and, "di" = of, "are", "why"). A word of
# two or more characters is a letter only right next to an unambiguous code piece ("my
# initials are a b c": "are" is not R); a group of single vowels is letters when it touches
# any code piece ("a b c": A).
_AMBIGUOUS_IT: dict[str, str] = {
    "a": "A",
    "e": "E",
    "i": "I",
    "o": "O",
    "ci": "C",
    "di": "D",
    "ti": "T",
    "u": "U",
}
_AMBIGUOUS_EN: dict[str, str] = {
    "a": "A",
    "e": "E",
    "i": "I",
    "o": "O",
    "oh": "O",
    "be": "B",
    "see": "C",
    "sea": "C",
    "eye": "I",
    "are": "R",
    "tea": "T",
    "you": "U",
    "u": "U",
    "why": "Y",
}
_TWO_WORD_LETTERS: dict[tuple[str, str], str] = {
    ("i", "lunga"): "J",
    ("i", "lungo"): "J",
    ("doppia", "vu"): "W",
    ("doppio", "vu"): "W",
    ("doppia", "v"): "W",
    ("doppio", "v"): "W",
    ("vu", "doppia"): "W",
    ("vu", "doppio"): "W",
    ("i", "greca"): "Y",
    ("i", "greco"): "Y",
    ("double", "u"): "W",
    ("double", "you"): "W",
    ("x", "ray"): "X",
}
_COME = {"it": ("come",), "en": ("for", "like")}
_STOPWORDS = frozenset(
    "il lo la le gli al allo ai agli del dei di da in con su per tra fra un una uno ho hai ha "
    "sei che chi non sì si no ok è e ed o od ma mi ti ci vi ne mio tuo suo via n nr "
    "the an at in on is it my of to no yes and or but for me we he she you are was its "
    "per via nr no".split()
)
_AS_IN = ("as", "in")
_REPEAT = {"doppio": 2, "doppia": 2, "triplo": 3, "tripla": 3, "double": 2, "triple": 3}
_PLUS = {"più", "piu", "plus"}
_JOINERS = {"it": "e", "en": "and"}

_NUMBER_STEM = {
    "it": re.compile(
        r"zero|un|due|tre|quattr|cinqu|sei|sett|ott|nov|dieci|dici|dodici|tredici|quindici|"
        r"sedici|vent|trent|quarant|cinquant|sessant|settant|ottant|novant|cent|mille|mila"
    ),
    "en": re.compile(
        r"zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|teen|twenty|"
        r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|nought"
    ),
}
_TOKEN = re.compile(r"\+|[^\W_]+(?:['’][^\W_]+)*")
_DIGITS = re.compile(r"[0-9]+")

Kind = Literal["L", "D", "C", "P"]


@dataclass(frozen=True, slots=True)
class Piece:
    """One decoded piece: ``L`` letter, ``D`` digits, ``C`` written code, ``P`` plus sign;
    ``None`` kind for a word that breaks a run (``value`` is then the word)."""

    kind: Kind | None
    value: str
    spoken: bool = False  # came from a letter name, alphabet word or number word


def _a2d(text: str, lang: str) -> str:
    """text2num's ``alpha2digit`` (threshold 0); the input itself if the library fails."""
    try:
        return str(alpha2digit(text, lang, threshold=0))
    except Exception:  # noqa: BLE001 - caller text must never crash the engine
        return text
    except BaseException as exc:  # a Rust panic (pyo3 PanicException) is a BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        return text


def is_ascii_digits(s: str) -> bool:
    return _DIGITS.fullmatch(s) is not None


@functools.lru_cache(maxsize=4096)
def _number_word(token: str, lang: str) -> bool:
    """Whether ``token`` alone is a cardinal number in words (cached: pure)."""
    if len(token) > 40 or not _NUMBER_STEM[lang].search(token):
        return False
    return is_ascii_digits(_a2d(token, lang))


def words_to_digits(words: list[str], lang: str) -> str | None:
    """Digits for a run of number words ("zero tre tre" -> "033", "doppio sette" -> "77").

    The run comes from ``decode`` (number words, doppio/double, English "oh", a joining
    "e"/"and"); the conversion is EXTRACT-A's ``numbers.spoken_digits``.
    """
    got = spoken_digits(" ".join(words), lang)
    if got is None:
        return None
    got = got.lstrip("+")
    return got if is_ascii_digits(got) else None


# Token classes used between the passes.
_UNAMB = 1  # an unambiguous code piece: letter, alphabet word, written code, digits
_AMB = 2  # a letter name that is also a common word
_NUM = 3  # a number word, or a modifier (doppio, oh) next to one
_JOIN = 4  # "e"/"and" that may join two number words
_PLUSC = 5
_OTHER = 0


def _di_word(tok: str, folded: str, letters: dict[str, str], ambiguous: dict[str, str]) -> bool:
    """Whether ``tok`` after "<letter> di" names the letter ("R di Roma"): a word of three
    letters or more that is no letter name, number word or common word ("erre di esse" is
    R, D, S)."""
    return (
        len(tok) >= 3
        and tok.isalpha()
        and (
            folded in ALPHABET
            or (
                tok not in letters
                and tok not in ambiguous
                and folded not in _STOPWORDS
                and not _number_word(tok, "it")
            )
        )
    )


def _as_in_width(
    toks: list[str],
    folded: list[str],
    k: int,
    lang: str,
    letters: dict[str, str],
    ambiguous: dict[str, str],
) -> int:
    """How many words of a "come" / "di" / "as in" construction start at ``toks[k]`` ("R
    *come* Roma", "R *di* Roma", "R *as in* Romeo"); 0 when none does."""
    n = len(toks)
    if k < n and folded[k] in _COME[lang]:
        return 1
    if (
        lang == "it"
        and k + 1 < n
        and folded[k] == "di"
        and _di_word(toks[k + 1], folded[k + 1], letters, ambiguous)
    ):
        return 1
    if k + 1 < n and (folded[k], folded[k + 1]) == _AS_IN:
        return 2
    return 0


def decode(text: str, lang: str) -> list[Piece]:
    """Decode an utterance into pieces; words that are not part of a code become breaks."""
    if lang not in ("it", "en"):
        lang = "it"
    raw = [t for t in _TOKEN.findall(text[:MAX_CODE_TEXT]) if t.lower() not in HESITATIONS]
    toks = [t.lower() for t in raw]
    if len(toks) == 1 and toks[0].isascii() and toks[0].isalnum() and not toks[0].isalpha():
        # one typed token with a digit ("80", "pol123456"): no letter name, alphabet or
        # number word has a digit, so the passes below would give just this piece
        t = toks[0]
        return [Piece("D", t)] if t.isdigit() else [Piece("C", t.upper())]
    folded = [fold(t) for t in toks]
    letters = _LETTERS_IT if lang == "it" else _LETTERS_EN
    ambiguous = _AMBIGUOUS_IT if lang == "it" else _AMBIGUOUS_EN
    n = len(toks)
    # Pass 1: classify, consuming multi-word letters and "R come Roma" constructions.
    cls: list[int] = []
    val: list[str] = []
    spoken: list[bool] = []
    src: list[str] = []  # the (first) token of each entry
    i = 0
    while i < n:
        t, f = toks[i], folded[i]
        letter: str | None = None
        width = 1
        if i + 1 < n and (f, folded[i + 1]) in _TWO_WORD_LETTERS:
            letter, width = _TWO_WORD_LETTERS[(f, folded[i + 1])], 2
        elif len(t) == 1 and "a" <= t <= "z" and t not in ambiguous:
            letter = t.upper()
        elif t in letters:
            letter = letters[t]
        elif f in ALPHABET:
            letter = ALPHABET[f]
        if letter is None and t in ambiguous:
            # "a come Ancona": the construction makes an ambiguous name certain.
            if _as_in_width(toks, folded, i + 1, lang, letters, ambiguous):
                letter = ambiguous[t]
        if letter is not None:
            # "<letter> come <word>" / "<letter> as in <word>": the word decides.
            j = i + width
            skip = _as_in_width(toks, folded, j, lang, letters, ambiguous)
            if skip and j + skip < n and toks[j + skip].isalpha():
                word = folded[j + skip]
                letter = ALPHABET.get(word, word[0].upper() if word[0].isascii() else letter)
                width += skip + 1
            src.append(t)
            cls.append(_UNAMB)
            val.append(letter)
            spoken.append(len(t) > 1 or width > 1)
            i += width
            continue
        if t == "+" or f in _PLUS:
            cls.append(_PLUSC)
            val.append("+")
            spoken.append(t != "+")
        elif is_ascii_digits(t):
            cls.append(_UNAMB)
            val.append(t)
            spoken.append(False)
        elif t.isascii() and t.isalnum() and any(c.isdigit() for c in t):
            cls.append(_UNAMB)
            val.append(t.upper())
            spoken.append(False)
        elif t == _JOINERS[lang]:
            cls.append(_JOIN)
            val.append(t)
            spoken.append(True)
        elif t in ambiguous:
            cls.append(_AMB)
            val.append(ambiguous[t])
            spoken.append(True)
        elif f in _REPEAT or _number_word(f, lang):
            cls.append(_NUM)
            val.append(f)
            spoken.append(True)
        elif len(raw[i]) >= 2 and raw[i].isascii() and raw[i].isalpha() and raw[i].isupper():
            cls.append(_UNAMB)  # a written code in capitals ("RSS MRA")
            val.append(raw[i])
            spoken.append(False)
        else:
            cls.append(_OTHER)
            val.append(t)
            spoken.append(False)
        src.append(t)
        i += 1
    m = len(cls)

    def _written_code(k: int) -> bool:
        return (
            0 <= k < m and cls[k] == _UNAMB and not spoken[k] and any(c.isdigit() for c in val[k])
        )

    def code_at(k: int) -> bool:
        return 0 <= k < m and cls[k] in (_UNAMB, _NUM)

    def digitish(k: int) -> bool:
        return 0 <= k < m and (cls[k] == _NUM or (cls[k] == _UNAMB and is_ascii_digits(val[k])))

    # Pass 2: "e"/"and" between number words joins them; English "oh" next to digits is 0;
    # a modifier (doppio) must precede a number.
    # A short lowercase word typed next to written digits is part of the code ("ab 123 cd").
    for k in range(m):
        if (
            cls[k] == _OTHER
            and 1 < len(val[k]) <= 3
            and val[k].isascii()
            and val[k].isalpha()
            and val[k] not in _STOPWORDS
            and (_written_code(k - 1) or _written_code(k + 1))
        ):
            cls[k], val[k] = _UNAMB, val[k].upper()
    for k in range(m):
        if cls[k] == _JOIN:
            if digitish(k - 1) and cls[k + 1 : k + 2] == [_NUM]:
                cls[k] = _NUM
            elif val[k] in ambiguous:
                cls[k], val[k] = _AMB, ambiguous[val[k]]
            else:
                cls[k] = _OTHER
    changed = lang == "en"
    while changed:  # "oh oh one": the first "oh" is a digit once the second one is
        changed = False
        for k in range(m):
            if cls[k] == _AMB and val[k] == "O" and (digitish(k - 1) or digitish(k + 1)):
                cls[k] = _NUM
                val[k] = "oh"
                changed = True
    for k in range(m):
        if cls[k] == _NUM and val[k] in _REPEAT and not digitish(k + 1):
            cls[k] = _OTHER
    # Word-like ambiguous names need an unambiguous neighbour ...
    word_like = [k for k in range(m) if cls[k] == _AMB and len(src[k]) > 1]
    for k in word_like:
        cls[k] = _UNAMB if (code_at(k - 1) or code_at(k + 1)) else _OTHER
    # ... and a group of single-letter ones is letters when it touches a code piece.
    k = 0
    while k < m:
        if cls[k] != _AMB:
            k += 1
            continue
        start = k
        while k < m and cls[k] == _AMB:
            k += 1
        touches = code_at(start - 1) or code_at(k)
        for g in range(start, k):
            cls[g] = _UNAMB if touches else _OTHER
    # Pass 3: number-word runs become digit pieces.
    pieces: list[Piece] = []
    k = 0
    while k < m:
        c = cls[k]
        if c == _NUM:
            start = k
            while k < m and cls[k] == _NUM:
                k += 1
            digits = words_to_digits(val[start:k], lang)
            if digits:
                pieces.append(Piece("D", digits, True))
            else:
                pieces.append(Piece(None, " ".join(val[start:k])))
            continue
        if c == _UNAMB:
            v = val[k]
            kind: Kind = "D" if is_ascii_digits(v) else ("L" if spoken[k] or len(v) == 1 else "C")
            pieces.append(Piece(kind, v, spoken[k]))
        elif c == _PLUSC:
            pieces.append(Piece("P", "+", spoken[k]))
        else:
            pieces.append(Piece(None, val[k]))
        k += 1
    return pieces


def code_runs(pieces: list[Piece]) -> list[tuple[str, bool]]:
    """Maximal runs of letters, digits and written codes, concatenated uppercase.

    Each run comes with whether any piece of it was spoken (letter names, words).
    """
    runs: list[tuple[str, bool]] = []
    cur: list[str] = []
    was_spoken = False
    for p in pieces:
        if p.kind in ("L", "D", "C"):
            cur.append(p.value)
            was_spoken = was_spoken or p.spoken
        else:
            if cur:
                runs.append(("".join(cur).upper(), was_spoken))
            cur, was_spoken = [], False
    if cur:
        runs.append(("".join(cur).upper(), was_spoken))
    return runs


def digit_groups(pieces: list[Piece]) -> list[list[str]]:
    """Maximal runs of digit pieces (a "+" may open one), as lists of the pieces' strings."""
    groups: list[list[str]] = []
    cur: list[str] = []
    for p in pieces:
        if p.kind == "D":
            cur.append(p.value)
        elif p.kind == "P":
            if cur:
                groups.append(cur)
            cur = ["+"]
        else:
            if cur and cur != ["+"]:
                groups.append(cur)
            cur = []
    if cur and cur != ["+"]:
        groups.append(cur)
    return groups


# Two spelling-alphabet words alone ("hotel milano", "hotel roma") are more likely a name
# than two letters spelled: they spell only from three on ("golf mike alpha india lima").
_MIN_ALPHABET_SPELLING = 3


def _all_alphabet(words: list[str]) -> bool:
    return all(fold(w) in ALPHABET for w in words)


def join_spoken_words(words: list[str], lang: str) -> tuple[str, int]:
    """One e-mail label from the words said for it, joined without spaces, and how many
    plain words (not letters, not numbers) it kept.

    Spelled out entirely (letter names, alphabet words, digits: "emme a erre i o") it is
    the letters ("mario"); otherwise the words are kept as said, a run of number words
    becoming its digits ("mario rossi ottanta" → "mariorossi80"). A letter name inside
    plain words stays a word ("jay smith" → "jaysmith", not "jsmith").
    """
    if lang not in ("it", "en"):
        lang = "it"
    if len(words) > 1 and (len(words) >= _MIN_ALPHABET_SPELLING or not _all_alphabet(words)):
        pieces = decode(" ".join(words), lang)
        if pieces and all(p.kind in ("L", "D", "C") for p in pieces):
            return "".join(p.value for p in pieces).lower(), 0
    out: list[str] = []
    plain = 0
    run: list[str] = []
    for w in [*words, ""]:
        if w and (w in _REPEAT or _number_word(fold(w), lang)):
            run.append(w)  # "doppio zero": the run is decided when it ends
            continue
        if run:
            out.append(words_to_digits(run, lang) or "".join(run))
            run = []
        out.append(w)
        plain += bool(w)
    return "".join(out), plain


def is_letter_word(word: str, lang: str) -> bool:
    """Whether ``word`` can be one spelled letter: a single letter, a letter name or an
    alphabet word ("m", "emme", "bravo", "Roma")."""
    letters = _LETTERS_EN if lang == "en" else _LETTERS_IT
    return (len(word) == 1 and word.isalpha()) or word in letters or fold(word) in ALPHABET


# Words a caller may put between a correction marker and the digits ("no scusi, l'ultima
# è 8", "sorry, the last digit is 8"), or after the digits before the marker.
_CORRECTION_FILLER = frozenset(
    "e è il lo la l al allo ultima ultimo ultime ultimi l'ultima l'ultimo cifra cifre numero "
    "finale finisce "
    "con in per ehm eh uhm uh um er erm allora cioe tipo like is it its s the last digit "
    "digits number ends with ok okay volevo dire i mean meant".split()
)


def _digits_next(part: str, lang: str, at_end: bool) -> bool:
    """Whether the first word of ``part`` (the last with ``at_end``) that is not a filler
    is a digit or a number word."""
    toks = [fold(t) for t in _TOKEN.findall(part)]
    for tok in reversed(toks) if at_end else toks:
        if tok in _CORRECTION_FILLER:
            continue
        return (
            tok[:1].isdigit()
            or tok in _PLUS
            or tok == "+"
            or tok in _REPEAT
            or (lang == "en" and tok in ("oh", "o"))
            or _number_word(tok, lang)
        )
    return False


def corrected_digits(text: str, lang: str, whole: Callable[[str], bool]) -> str | None:
    """The digits of a number corrected while it was said; None when nothing was corrected,
    "" when a correction was said but cannot be read.

    After a marker ("no", "anzi", "cioè", "scusi", "no wait", "sorry", "I mean") the digits
    said first replace as many digits at the end of the number said before ("347 123 456 7
    no 8" → "3471234568", "… 4567 anzi 4568" → "…4568"), or all of it when they are at
    least as many or a whole number by themselves (``whole``). A number said later in the
    part after the marker counts only when it is whole ("06 1234 5678, no scusi, il
    cellulare è 347 123 4567"); other digits there ("anzi mi chiami dopo le 5", "no,
    quello vecchio finiva con 8") cannot be told from a correction: "".
    """
    if lang not in ("it", "en"):
        lang = "it"
    parts = correction_parts(fold(text[:MAX_CODE_TEXT]), lang)
    if len(parts) < 2:  # no marker: nothing corrected (the common case, and no decoding)
        return None
    current: str | None = None
    fixed = False
    for part in parts:
        groups = ["".join(g) for g in digit_groups(decode(part, lang))]
        if not groups:
            continue
        whole_here = next((g for g in groups if whole(g)), None)
        if current is None:
            current = groups[-1] if _digits_next(part, lang, at_end=True) else whole_here
            continue
        if not _digits_next(part, lang, at_end=False):
            if whole_here is None:
                return ""
            current, fixed = whole_here, True
            continue
        said = groups[0]
        if whole(said) or len(said) >= len(current):
            current = said
        else:
            current = current[: len(current) - len(said)] + said
        fixed = True
    return current if fixed else None


# Words a caller may put before the letters that correct a code ("no scusi, l'ultima
# lettera è G", "sorry, the last letter is G").
_CODE_FILLER = _CORRECTION_FILLER | frozenset(
    "lettera lettere carattere caratteri letter letters character characters codice code "
    "fiscale iban".split()
)


def leading_run(part: str, lang: str) -> str | None:
    """The run of code pieces that ``part`` opens with, filler words skipped ("no scusi,
    l'ultima è G" after the marker → "G"); None when it opens with another word."""
    got: list[str] = []
    for p in decode(part, lang if lang in ("it", "en") else "it"):
        if p.kind in ("L", "D", "C"):
            got.append(p.value)
        elif got:
            break
        elif p.kind is not None or fold(p.value) not in _CODE_FILLER:
            return None
    return "".join(got).upper() or None


def parts_as_said(text: str, lang: str) -> list[str]:
    """``text`` cut at its correction markers, as written when folding keeps its length
    (a typed code keeps its case), else folded; one part when there is none. The spelled
    and code extractors read each part for the code said in it."""
    low = fold(text)
    spans = correction_spans(low, lang if lang in ("it", "en") else "it")
    if not spans:
        return [text]
    src = text if len(low) == len(text) else low
    parts: list[str] = []
    start = 0
    for a, b in spans:
        parts.append(src[start:a])
        start = b
    parts.append(src[start:])
    return parts
