"""Extractors: phone, email, iban, codice_fiscale, partita_iva, cap (pattern layer + spoken forms).

Each extractor finds the value inside a whole sentence, written ("il mio numero è 347 123
4567") or spoken ("tre quattro sette …", "erre esse esse …", "mario punto rossi chiocciola
gmail punto com"), and verifies it with phonenumbers / python-stdnum before answering. A
recognisably shaped but wrong value (bad checksum, wrong length, voicemail number) is an
``invalid`` extraction, so the engine plays the invalid prompt rather than "not understood".
Policies are documented in docs/extract-codes.md.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import datetime

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumberDesc,
    PhoneNumberFormat,
    PhoneNumberType,
)
from stdnum import iban as std_iban
from stdnum.it import codicefiscale as std_cf
from stdnum.it import iva as std_iva

from ddt_engine.extract._a_text import correction_spans
from ddt_engine.extract._b_norm import MAX_CODE_TEXT, fold, never_raises
from ddt_engine.extract._b_spell import (
    Piece,
    code_runs,
    corrected_digits,
    decode,
    digit_groups,
    is_letter_word,
    join_spoken_words,
    leading_run,
    parts_as_said,
)
from ddt_engine.extract.base import Extraction, ExtractOptions

__all__ = [
    "extract_cap",
    "extract_codice_fiscale",
    "extract_email",
    "extract_iban",
    "extract_partita_iva",
    "extract_phone",
    "iban_cin_ok",
]

_HAS_DIGIT = re.compile(r"\d")
_WORD_TOKEN = re.compile(r"[^\W_]+")

# --------------------------------------------------------------------------------- phone

_PHONE_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.TOLL_FREE,
    }
)
_WRITTEN_PHONE = re.compile(r"\+?[0-9][0-9 ().\-/]{4,24}[0-9]")
_NOT_DIGIT = re.compile(r"[^0-9]+")
_MAX_PHONE_TRIES = 12  # phonenumbers calls per utterance (35 µs each): bounded work


def _phone_windows(group: list[str]) -> Iterator[str]:
    """Candidate numbers in a run of digit pieces: the whole run, then shorter windows on
    piece boundaries (a date next to a number: "12 12 1985 347 …"), longest first."""
    k = len(group)
    spans = sorted(
        ((i, j) for i in range(k) for j in range(i + 1, k + 1) if group[i] != "+" or j > i + 1),
        key=lambda s: (s[0] - s[1], s[0]),
    )
    for i, j in spans:
        cand = "".join(group[i:j])
        digits = len(cand) - cand.startswith("+")
        if 6 <= digits <= 15:
            yield cand


def _phone_like(cand: str) -> bool:
    """A digit string a caller plausibly meant as a phone number (for ``invalid_phone``)."""
    digits = cand.lstrip("+")
    return len(digits) >= 8 and (cand.startswith(("+", "0", "3")) or len(digits) >= 9)


_Table = dict[int, tuple[tuple[re.Pattern[str], bool], ...]]


@functools.cache
def _it_table() -> _Table:
    """Italy's number descriptions from phonenumbers' own metadata, compiled once (lazily).

    For each national-number length: the (pattern, accepted) pairs that allow that length,
    in phonenumbers' ``_number_type_helper`` order (refused types first, then toll free,
    fixed line, mobile), with the general description first as a gate (accepted=True means
    "go on" there).
    """
    meta = PhoneMetadata.metadata_for_region("IT")
    if meta is None or meta.same_mobile_and_fixed_line_pattern:
        return {}  # metadata changed shape: always use the library
    general = meta.general_desc
    ordered: list[tuple[PhoneNumberDesc | None, bool]] = [
        (meta.premium_rate, False),
        (meta.toll_free, True),
        (meta.shared_cost, False),
        (meta.voip, False),
        (meta.personal_number, False),
        (meta.pager, False),
        (meta.uan, False),
        (meta.voicemail, False),
        (meta.fixed_line, True),
        (meta.mobile, True),
    ]
    if general is None or general.national_number_pattern is None:
        return {}
    table: _Table = {}
    for length in general.possible_length or ():
        entries: list[tuple[re.Pattern[str], bool]] = []
        for desc, accepted in ordered:
            if desc is None or desc.national_number_pattern is None:
                continue
            if desc.possible_length and length not in desc.possible_length:
                continue
            entries.append((re.compile(desc.national_number_pattern), accepted))
        table[length] = tuple(entries)
    general_rx = re.compile(general.national_number_pattern)
    return {n: ((general_rx, True), *entries) for n, entries in table.items()}


def _fast_italian(cand: str) -> str | None:
    """E.164 for an Italian number of an accepted type, without ``phonenumbers.parse``.

    The same decision as phonenumbers' number_type on Italy's metadata, several times
    cheaper; it only ever says yes: anything else goes through the full library (foreign
    numbers, "39 347…" without "+", Vatican ranges, voicemail …).
    """
    if cand.startswith("+39"):
        nsn = cand[3:]
    elif cand.startswith("0039"):
        nsn = cand[4:]
    elif cand[:1] in ("0", "3", "8") and not cand.startswith("39"):
        nsn = cand
    else:
        return None
    entries = _it_table().get(len(nsn))
    if not entries or entries[0][0].fullmatch(nsn) is None:
        return None
    for rx, accepted in entries[1:]:
        if rx.fullmatch(nsn) is not None:
            return "+39" + nsn if accepted else None
    return None


def _classify_phone(cand: str) -> str | None:
    """E.164 when ``cand`` is a valid number of an accepted type (region IT by default)."""
    fast = _fast_italian(cand)
    if fast is not None:
        return fast
    try:
        num = phonenumbers.parse(cand, "IT")
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    if phonenumbers.number_type(num) not in _PHONE_TYPES:
        return None  # e.g. 11-digit 3xx numbers are VOICEMAIL, not a caller's phone
    return phonenumbers.format_number(num, PhoneNumberFormat.E164)


@never_raises
def extract_phone(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """A phone number anywhere in the utterance, as E.164 ("+393471234567"); a digit
    corrected while saying it is taken ("347 123 456 7 no 8" → +393471234568)."""
    text = text[:MAX_CODE_TEXT]
    if not _HAS_DIGIT.search(text) and not _maybe_spoken_digits(text):
        return None
    got = _corrected_code(text, lang, _whole_phone, _classify_phone, "invalid_phone", _phone_like)
    if got is not _NOT_CORRECTED:
        return got
    for m in _WRITTEN_PHONE.finditer(text):
        # Pattern layer first: a written number needs no spoken-language decoding.
        written = m.group(0)
        cand = ("+" if written.startswith("+") else "") + _NOT_DIGIT.sub("", written)
        if 6 <= len(cand.lstrip("+")) <= 15:
            e164 = _classify_phone(cand)
            if e164 is not None:
                return Extraction(e164, "pattern")
    pieces = decode(text, lang)
    tries = 0
    invalid = False
    for group in digit_groups(pieces):
        spoken = _group_spoken(pieces, group)
        for cand in _phone_windows(group):
            if tries >= _MAX_PHONE_TRIES:
                break
            tries += 1
            e164 = _classify_phone(cand)
            if e164 is not None:
                return Extraction(e164, "grammar" if spoken else "pattern")
            invalid = invalid or _phone_like(cand)
    if invalid:
        return Extraction(None, "pattern", invalid="invalid_phone")
    return None


_NOT_CORRECTED = Extraction(None, "pattern")


def _corrected_code(
    text: str,
    lang: str,
    whole: Callable[[str], bool],
    read: Callable[[str], str | None],
    invalid: str,
    like: Callable[[str], bool],
) -> Extraction | None:
    """The code read from digits corrected while said (``_b_spell.corrected_digits``):
    ``read`` gives its value; a wrong one is ``invalid`` when ``like`` a code, else no match
    (never the code as said before the correction). ``_NOT_CORRECTED`` when none was said.
    """
    fixed = corrected_digits(text, lang, whole)
    if fixed is None:
        return _NOT_CORRECTED
    value = read(fixed) if fixed else None
    if value is not None:
        return Extraction(value, "grammar")
    return Extraction(None, "pattern", invalid=invalid) if fixed and like(fixed) else None


def _corrected_run(
    text: str,
    lang: str,
    said: Callable[[str, str], Extraction | None],
    value: Callable[[str], str | None],
    invalid: str,
) -> Extraction | None:
    """A letters-and-digits code (codice fiscale, IBAN) corrected while said.

    A whole code after a marker replaces the one said before ("RSSMRA80C03H501F, no scusi,
    il codice è BNCLRA85T52F205E"); characters said right after it replace as many at its
    end ("… H501F anzi G", "… 455 anzi 6"), and the result must check out (``value``), else
    it is ``invalid``. Code pieces after a marker that are neither are a no-match, never
    the code said before. ``_NOT_CORRECTED`` when nothing was corrected.
    """
    parts = parts_as_said(text, lang)
    if len(parts) < 2:
        return _NOT_CORRECTED
    current: str | None = None  # the code as said so far, valid or not
    fixed = False
    for part in parts:
        got = said(part, lang)
        if got is not None and got.value is not None:
            current, fixed = str(got.value), fixed or current is not None
            continue
        runs = code_runs(decode(part, lang))
        if not runs:
            continue  # nothing code-like: not a correction ("…, no, grazie")
        if current is None:
            current = max((r for r, _ in runs), key=len)
            continue
        head = leading_run(part, lang)
        if head is None:
            return None  # "… anzi mi chiami dopo le 5": not a correction we can read
        keep = len(current) - len(head)
        current = head if keep <= 0 else current[:keep] + head
        fixed = True
    if not fixed or current is None:
        return _NOT_CORRECTED
    checked = value(current)
    if checked is None:
        return Extraction(None, "pattern", invalid=invalid)
    return Extraction(checked, "grammar")


def _whole_phone(cand: str) -> bool:
    return 6 <= len(cand.lstrip("+")) <= 15 and _classify_phone(cand) is not None


def _group_spoken(pieces: list[Piece], group: list[str]) -> bool:
    values = set(group)
    return any(p.spoken and p.kind == "D" and p.value in values for p in pieces)


_NUMBER_HINT = re.compile(
    r"zero|uno|due|tre|quattro|cinque|sei|sette|otto|nove|dieci|venti|trenta|quaranta|"
    r"cinquanta|sessanta|settanta|ottanta|novanta|cento|one|two|three|four|five|six|seven|"
    r"eight|nine|ten|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|oh|double"
)


def _maybe_spoken_digits(text: str) -> bool:
    return _NUMBER_HINT.search(fold(text)) is not None


# --------------------------------------------------------------------------------- email

_SPOKEN_EMAIL: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\s*\b(?:{words})\b\s*"), symbol)
    for words, symbol in (
        (
            r"chiocciola|chiocciolina|a commerciale|at sign|at symbol|at",
            "@",
        ),
        (r"trattino basso|underscore|under score|sottolineatura|sottolineato", "_"),
        (r"trattino alto|trattino|lineetta|dash|hyphen|meno|minus", "-"),
        (r"punto|dot|period|full stop", "."),
    )
)
_AT_SPACES = re.compile(r"\s*@\s*")
_EMAIL = re.compile(
    r"(?<![a-z0-9._%+\-])([a-z0-9._%+\-]{1,64})@([a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){1,8})"
)
_TLD = re.compile(r"[a-z]{2,24}")
_EMAIL_HINT = re.compile(r"@|chiocciol|\bat\b|commerciale")
# A name with an apostrophe glued to the local part ("o'connor"), unless an Italian elision
# ("l'indirizzo", "dell'ufficio", "l'info@…")
_APOSTROPHE_NAME = re.compile(r"([a-z0-9._%+\-]*)['’]$")
_ELISIONS = frozenset("l dell nell all dall sull coll un quest quell c s".split())
_IS_VERB = re.compile(r"(?<!\w)[èé](?!\w)")  # "è" (is) ends a lead-in, it is no letter E
_LABEL_WORD = re.compile(r"[a-z0-9]+(?:[._%+\-][a-z0-9]+)*")
_LABEL_SEP = re.compile(r"([._%+\-])")
# Words that end the lead-in before a spoken address ("la mia email è", "it's"): the words
# between one of these and "@" are the local part, joined ("mario rossi" → "mariorossi").
_EMAIL_BREAK = {
    "it": frozenset(
        "e ed sono sarebbe era mail email e-mail posta elettronica indirizzo mio mia il la lo "
        "l i gli le un una a al ad allo alla all di del della per scrivimi scrivi scriva "
        "scrivete mandami manda mandi invia ecco allora dunque quindi cioe tipo ehm eh ehmm "
        "uhm uh mmm beh si no ok okay certo guardi senta prego grazie ho ha questa questo "
        "io me mi anzi oppure o pure anche nome utente".split()
    ),
    "en": frozenset(
        "is it its s my the email mail e-mail address to me send write at um uh er erm "
        "like so well yeah yes yep ok okay sure please that thats try use and or i im m am "
        "here you can reach on an a e o".split()
    ),
}
_JOINING = frozenset("e ed o oppure and or".split())
_MAIL_WORDS = frozenset("mail email e-mail indirizzo address posta elettronica".split())
MAX_LOCAL_WORDS = 3
"""Words said for one part of an address ("maria grazia bianchi"); more is no reading."""
_MAX_SPELLED = 40  # letters spelled one by one for a local part


def _local_words(prefix: str, local: str, lang: str) -> list[str] | None:
    """The words said for the local part at the end of ``prefix``, before ``local`` (the
    part glued to "@"); None when there are more than an address can plausibly have."""
    if prefix and not prefix[-1].isspace():
        return []  # "<mario@…", "email:mario@…": no spoken words before it
    toks = prefix.split()
    breaks = _EMAIL_BREAK.get(lang, _EMAIL_BREAK["it"])
    got: list[str] = []
    nearest = _LABEL_SEP.split(local)[0]
    for k in range(len(toks) - 1, -1, -1):
        tok = toks[k]
        if _LABEL_WORD.fullmatch(tok) is None:
            break
        if tok in breaks:
            # a single vowel inside a spelled run is a letter ("e elle e enne a")
            spelled = len(tok) == 1 and is_letter_word(got[-1] if got else nearest, lang)
            before = toks[k - 1] if k else ""
            if not spelled or before in breaks or before in _MAIL_WORDS:
                if tok in _JOINING and before and before not in breaks | _MAIL_WORDS:
                    return None  # "mario e rossi …": is "mario" a lead-in? cannot tell
                break
        got.append(tok)
        if len(got) > _MAX_SPELLED:
            return None
    got.reverse()
    return got


def _spoken_local(words: list[str], lang: str) -> str | None:
    """The local part from its words: each part between separators joined by
    ``join_spoken_words``; None when a part has more plain words than a name."""
    out: list[str] = []
    for seg in _LABEL_SEP.split(" ".join(words)):
        if _LABEL_SEP.fullmatch(seg):
            out.append(seg)
            continue
        joined, plain = join_spoken_words(seg.split(), lang)
        if plain > MAX_LOCAL_WORDS:
            return None  # too many words for one name: not an address said as it is
        out.append(joined)
    return "".join(out)


_DOMAIN_WORDS = re.compile(rf"@((?:[a-z0-9\-]+ ){{1,{_MAX_SPELLED}}}[a-z0-9\-]+)(?=\.)")


def _join_domain(m: re.Match[str], lang: str, label: str | None = None) -> str:
    """ "@studio verdi.it" → "@studioverdi.it", "@g m a i l.com" → "@gmail.com" (a lead-in
    word there is no domain, nor are more than three plain words). With ``label``: that
    label joined, or "" when it cannot be."""
    words = (m.group(1) if label is None else label).split()
    joined, plain = join_spoken_words(words, lang)
    if plain == 0:
        pass  # spelled out ("g m a i l", "gi emme a i elle") or digits
    elif len(words) > MAX_LOCAL_WORDS or any(
        w in _EMAIL_BREAK.get(lang, _EMAIL_BREAK["it"]) for w in words
    ):
        return m.group(0) if label is None else ""
    return "@" + joined if label is None else joined


_INNER_LABEL_WORDS = re.compile(
    rf"(@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.)((?:[a-z0-9\-]+ ){{1,{_MAX_SPELLED}}}[a-z0-9\-]+)(?=\.)"
)
_DOMAIN_GOES_ON = re.compile(r"\s+(?:[a-z0-9\-]+\s+)*[a-z0-9\-]+\.[a-z0-9]")


def _join_label(m: re.Match[str], lang: str) -> str:
    """ "@pec.ordine avvocati.it" → "@pec.ordineavvocati.it", as ``_join_domain``."""
    joined = _join_domain(m, lang, m.group(2))
    return m.group(0) if not joined else m.group(1) + joined


# "g-m-a-i-l", "m-a-r-i-o": letters an ASR wrote joined by hyphens while they were spelled
_HYPHEN_SPELLED = re.compile(r"(?<![a-z0-9\-])[a-z0-9](?:-[a-z0-9]){2,}(?![a-z0-9\-])")


def _unhyphen(m: re.Match[str]) -> str:
    return m.group(0).replace("-", "")


def _spoken_symbols(low: str) -> str:
    """Folded text with the spoken "@", ".", "_", "-" words as symbols and spelled
    hyphenated letters joined ("mario chiocciola g-m-a-i-l punto com" → "mario@gmail.com")."""
    cand = _HYPHEN_SPELLED.sub(_unhyphen, low) if "-" in low else low
    for rx, symbol in _SPOKEN_EMAIL:
        cand = rx.sub(symbol, cand)
    return cand


def _email_ok(local: str, domain: str) -> bool:
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    return _domain_ok(domain)


def _domain_ok(domain: str) -> bool:
    labels = domain.split(".")
    if any(not lab or lab.startswith("-") or lab.endswith("-") for lab in labels):
        return False
    return _TLD.fullmatch(labels[-1]) is not None and len(domain) <= 253


@never_raises
def extract_email(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """An e-mail address, written or spoken ("mario punto rossi chiocciola gmail punto com").

    Several words said for the local part are joined ("mario rossi chiocciola …" →
    mariorossi@…), letters spelled one by one are read as letters, number words as
    digits; such a reading is uncertain (the DDT reads it back). After a correction marker
    the address said after it wins, or its domain alone ("… gmail punto com, no scusi,
    chiocciola libero punto it").
    """
    low = fold(_IS_VERB.sub(" : ", text[:MAX_CODE_TEXT]))
    if _EMAIL_HINT.search(low) is None:
        return None
    got = _corrected_email(low, lang)
    if got is not _NOT_CORRECTED:
        return got
    return _read_email(low, lang)


def _read_email(low: str, lang: str) -> Extraction | None:
    """The first address in folded ``low``, written or spoken (no corrections read)."""
    written = "@" in low
    for spoken in (False, True):
        cand = _spoken_symbols(low) if spoken else low
        cand = _AT_SPACES.sub("@", cand)
        if spoken and " " in cand:
            cand = _DOMAIN_WORDS.sub(lambda m: _join_domain(m, lang), cand)
            for _ in range(8):  # "@pec.ordine avvocati.it": the inner labels too
                again = _INNER_LABEL_WORDS.sub(lambda m: _join_label(m, lang), cand)
                if again == cand:
                    break
                cand = again
        for m in _EMAIL.finditer(cand):
            domain = m.group(2).rstrip(".-")
            local = m.group(1)
            if spoken and _DOMAIN_GOES_ON.match(cand, m.end()):
                # "@pec.ordine avvocati bianchi rossi.it": not "pec.ordine"
                return Extraction(None, "pattern", invalid="invalid_email")
            name = _APOSTROPHE_NAME.search(cand, 0, m.start(1))
            if name is not None and name.group(1) not in _ELISIONS:
                # "sarah dot o'connor at …": o'connor or oconnor? (it was connor@…)
                return Extraction(None, "pattern", invalid="invalid_email")
            words = _local_words(cand[: m.start(1)], local, lang)
            if words is None:
                return Extraction(None, "pattern", invalid="invalid_email")
            if words or spoken:
                joined = _spoken_local([*words, local], lang)
                if joined is None:
                    return Extraction(None, "pattern", invalid="invalid_email")
                local = joined
            if _email_ok(local, domain):
                changed = spoken and cand != _AT_SPACES.sub("@", low)
                return Extraction(
                    f"{local}@{domain}",
                    "grammar" if changed or words else "pattern",
                    uncertain=changed or bool(words),
                )
    if written:
        return Extraction(None, "pattern", invalid="invalid_email")
    return None


# --- a correction inside an address: "… gmail punto com, no scusi, chiocciola libero punto it"

_SEPARATOR_WORDS = frozenset(
    "punto dot period stop trattino basso alto underscore score dash hyphen meno minus".split()
)
_SEPARATOR_CHARS = "._-+"
# TLDs that make a bare "libero punto it" after a marker a domain, not a local part
_COMMON_TLDS = frozenset(
    "com it net org eu info biz io co uk de fr es ch at be nl sm va us me edu gov".split()
)
# Words around a corrected domain ("no scusi, il dominio è libero punto it, grazie")
_DOMAIN_LEAD = frozenset("dominio domain provider : e scusa scusi sorry mean".split())
_DOMAIN_TAIL = frozenset("grazie thanks thank you please per favore ok okay".split())
_ADDRESS_BIT = re.compile(r"[a-z0-9][._][a-z0-9]")  # "john.smyth", "jane_doe"
_PUNCTUATION = re.compile(r"[,;:!?]|\.(?![a-z0-9])")
_LOCAL_END = re.compile(r"([a-z0-9._%+\-]{1,64})$")
_DOMAIN = re.compile(r"@([a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){1,8})")


def _email_parts(low: str, lang: str) -> list[str]:
    """Folded ``low`` cut at its correction markers, except a marker that is a word of the
    address itself ("no punto reply", "no.reply@…")."""
    parts: list[str] = []
    start = 0
    for a, b in correction_spans(low, lang):
        before, after = low[start:a].split(), low[b:].split()
        prev, nxt = (before[-1] if before else ""), (after[0] if after else "")
        if (prev and (prev[-1] in _SEPARATOR_CHARS + "@" or prev in _SEPARATOR_WORDS)) or (
            nxt and (nxt[0] in _SEPARATOR_CHARS or nxt in _SEPARATOR_WORDS)
        ):
            continue
        parts.append(low[start:a])
        start = b
    parts.append(low[start:])
    return parts


def _said_local(part: str, lang: str) -> str | None:
    """The local part said before the last "@" of ``part``, whatever follows it (a domain
    cut short is corrected later: "mario chiocciola gmail, no, chiocciola libero punto it")."""
    cand = _AT_SPACES.sub("@", _spoken_symbols(part))
    at = cand.rfind("@")
    m = _LOCAL_END.search(cand, 0, at) if at > 0 else None
    if m is None:
        return None
    words = _local_words(cand[: m.start()], m.group(1), lang)
    local = _spoken_local([*words, m.group(1)], lang) if words is not None else None
    if not local or not _email_ok(local, "x.it"):
        return None
    return local


def _said_domain(part: str, lang: str) -> str | None:
    """The domain alone said in ``part``: "chiocciola libero punto it", "at yahoo dot com",
    or "libero punto it" with a common TLD; None for anything else."""
    toks = _PUNCTUATION.sub(" ", _spoken_symbols(part)).replace("@", " @").split()
    lead = _EMAIL_BREAK.get(lang, _EMAIL_BREAK["it"]) | _DOMAIN_LEAD
    while toks and toks[0] in lead:
        toks.pop(0)
    while toks and toks[-1] in _DOMAIN_TAIL:
        toks.pop()
    if not toks:
        return None
    said = " ".join(toks).rstrip(".")
    explicit = said.startswith("@")
    joined = _DOMAIN_WORDS.sub(lambda m: _join_domain(m, lang), said if explicit else "@" + said)
    m = _DOMAIN.fullmatch(joined)
    if m is None or not _domain_ok(m.group(1)):
        return None
    if not explicit and m.group(1).rsplit(".", 1)[-1] not in _COMMON_TLDS:
        return None  # "john dot smith" after a marker: a local part or a domain? cannot tell
    return m.group(1)


def _corrected_email(low: str, lang: str) -> Extraction | None:
    """The address of a self-correction: a whole address said after the last marker wins;
    a domain alone replaces the domain said before. None when what follows a marker looks
    like part of an address but cannot be read (never the address said before it);
    ``_NOT_CORRECTED`` when nothing was corrected."""
    parts = _email_parts(low, lang)
    if len(parts) < 2:
        return _NOT_CORRECTED
    current: Extraction | None = None
    local: str | None = None  # the local part said so far
    fixed = False
    for part in parts:
        got = _read_email(part, lang) if _EMAIL_HINT.search(part) else None
        if got is not None and got.value is not None:
            current, local, fixed = got, str(got.value).split("@")[0], fixed or local is not None
            continue
        symbols = _spoken_symbols(part)
        if local is None:  # nothing said before: this part opens the address
            local = _said_local(part, lang) if "@" in symbols else None
            continue
        domain = _said_domain(part, lang)
        if domain is not None:
            current = Extraction(f"{local}@{domain}", "grammar", uncertain=True)
            fixed = True
        elif got is not None:
            return got  # an ill-formed address typed after the marker: invalid_email
        elif "@" in symbols or _ADDRESS_BIT.search(symbols):
            return None  # address words after the marker that are no address
    return current if fixed else _NOT_CORRECTED


# ---------------------------------------------------------------------------------- IBAN

_IBAN_START = re.compile(r"(?=([A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}))")
_WRITTEN_IBAN = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}(?:[ \-.]?[0-9A-Za-z]){4,30}")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_IBAN_IT_SHORT = re.compile(r"(?:IT|SM)[0-9]{2}[A-Z][0-9]{5}")  # a cut Italian IBAN
_IBAN_LEN = {"IT": 27, "SM": 27, "VA": 22, "DE": 22, "FR": 27, "ES": 24, "CH": 21, "GB": 22}
_CIN_BY_COUNTRY = {"IT", "SM"}  # the BBAN starts with the CIN check letter


def iban_cin_ok(number: str) -> bool:
    """The Italian (and San Marino) CIN: the check letter over ABI+CAB+account.

    python-stdnum checks only the mod-97 digits; the CIN uses the codice-fiscale
    algorithm (verified on real IBANs, see ../shared/notes/libraries.md).
    """
    if number[:2] not in _CIN_BY_COUNTRY:
        return True
    return bool(std_cf.calc_check_digit(number[5:27]) == number[4])


def _mod97_ok(cand: str) -> bool:
    rearranged = cand[4:] + cand[:4]
    total = 0
    for ch in rearranged:
        total = (total * (100 if ch.isalpha() else 10) + int(ch, 36)) % 97
    return total == 1


def _iban_candidates(run: str) -> Iterator[tuple[str, bool]]:
    """(candidate, exact) pairs in a compact run; ``exact`` when the length is right."""
    for m in _IBAN_START.finditer(run):
        body = m.group(1)
        want = _IBAN_LEN.get(body[:2])
        if want is not None:
            yield body[:want], len(body) >= want
        else:
            for size in range(min(len(body), 34), 14, -1):
                if _mod97_ok(body[:size]):
                    yield body[:size], True
                    break
            else:
                yield body, False


def _chain(first: list[tuple[str, bool]], text: str, lang: str) -> Iterator[tuple[str, bool]]:
    """The written candidates, then (only when they did not answer) the decoded runs."""
    yield from first
    yield from code_runs(decode(text, lang))


@never_raises
def extract_iban(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """An IBAN, compact and uppercase ("IT60X0542811101000000123456"); Italian CIN checked.
    After a correction marker the IBAN said after it wins (see ``_corrected_run``)."""
    text = text[:MAX_CODE_TEXT]
    if not _HAS_DIGIT.search(text) and not _maybe_spoken_digits(text):
        return None
    got = _corrected_run(text, lang, _iban_said, _iban_value, "invalid_iban")
    return _iban_said(text, lang) if got is _NOT_CORRECTED else got


def _iban_value(cand: str) -> str | None:
    return cand if std_iban.is_valid(cand) and iban_cin_ok(cand) else None


def _iban_said(text: str, lang: str) -> Extraction | None:
    """The first IBAN in ``text`` (no corrections read)."""
    written = [
        (_NOT_ALNUM.sub("", m.group(0)).upper(), False) for m in _WRITTEN_IBAN.finditer(text)
    ]
    invalid = False
    for run, spoken in _chain(written, text, lang):
        for cand, exact in _iban_candidates(run):
            if exact and std_iban.is_valid(cand) and iban_cin_ok(cand):
                return Extraction(cand, "grammar" if spoken else "pattern")
            invalid = True
        invalid = invalid or _IBAN_IT_SHORT.search(run) is not None
    if invalid:
        return Extraction(None, "pattern", invalid="invalid_iban")
    return None


# ------------------------------------------------------------------------ codice fiscale

_OMO = "0-9LMNPQRSTUV"
_CF_SHAPE = re.compile(
    rf"(?=([A-Z]{{6}}[{_OMO}]{{2}}[ABCDEHLMPRST][{_OMO}]{{2}}[A-Z][{_OMO}]{{3}}[A-Z]))"
)
_CF_PREFIX = re.compile(r"[A-Z]{6}[0-9]{2}[ABCDEHLMPRST][0-9]{2}")


def _token_windows(text: str, size: int) -> Iterator[str]:
    """Compact uppercase concatenations of consecutive word tokens with exactly ``size``
    characters ("rss mra 80c03 h501f" -> "RSSMRA80C03H501F")."""
    toks = _WORD_TOKEN.findall(text)
    for i in range(len(toks)):
        total = 0
        for j in range(i, min(len(toks), i + size)):
            total += len(toks[j])
            if total == size:
                cand = "".join(toks[i : j + 1])
                if cand.isascii():
                    yield cand.upper()
                break
            if total > size:
                break


@never_raises
def extract_codice_fiscale(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    """A personal codice fiscale (16 characters, omocodia accepted), uppercase, no spaces.

    An 11-digit number (a company's codice fiscale / partita IVA) is ``invalid`` here.
    After a correction marker the code said after it wins (see ``_corrected_run``).
    """
    text = text[:MAX_CODE_TEXT]
    got = _corrected_run(text, lang, _cf_said, _cf_value, "invalid_codice_fiscale")
    return _cf_said(text, lang) if got is _NOT_CORRECTED else got


def _cf_value(cand: str) -> str | None:
    m = _CF_SHAPE.match(cand)
    return cand if m is not None and m.group(1) == cand and std_cf.is_valid(cand) else None


def _cf_said(text: str, lang: str) -> Extraction | None:
    """The first personal codice fiscale in ``text`` (no corrections read)."""
    invalid = False
    seen: set[str] = set()
    windows = ((w, False, False) for w in _token_windows(text, 16))
    decoded = ((r, spoken, True) for r, spoken in _chain([], text, lang))
    for run, spoken, is_run in itertools.chain(windows, decoded):
        if run in seen:
            continue
        seen.add(run)
        for m in _CF_SHAPE.finditer(run):
            cand = m.group(1)
            if std_cf.is_valid(cand):
                return Extraction(cand, "grammar" if spoken else "pattern")
            invalid = True
        if is_run and (
            (len(run) == 11 and run.isdigit())
            or (15 <= len(run) <= 17 and _CF_PREFIX.search(run) is not None)
        ):
            invalid = True  # a company's 11-digit code, or a character missing / extra
    if invalid:
        return Extraction(None, "pattern", invalid="invalid_codice_fiscale")
    return None


# ---------------------------------------------------------------------------- partita IVA


def _iva_written(text: str) -> Iterator[str]:
    toks = _WORD_TOKEN.findall(text)
    for i, tok in enumerate(toks):
        # "IT12345670017", "IT 12345 670017": drop the country prefix, keep the digits.
        if tok[:2].upper() == "IT" and (tok[2:].isdigit() or (len(tok) == 2 and i + 1 < len(toks))):
            toks[i] = tok[2:]
    yield from _digit_windows([t for t in toks if t], 11)


def _digit_windows(parts: list[str], size: int) -> Iterator[str]:
    """Concatenations of consecutive all-digit parts with exactly ``size`` digits."""
    for i in range(len(parts)):
        total = 0
        for j in range(i, len(parts)):
            if not (parts[j].isdigit() and parts[j].isascii()):
                break
            total += len(parts[j])
            if total == size:
                yield "".join(parts[i : j + 1])
                break
            if total > size:
                break


def _iva_shaped(cand: str) -> bool:
    return len(cand) == 11 and cand.isdigit()


def _iva_value(cand: str) -> str | None:
    return cand if _iva_shaped(cand) and std_iva.is_valid(cand) else None


def _iva_like(cand: str) -> bool:
    return 9 <= len(cand) <= 13


@never_raises
def extract_partita_iva(
    text: str, lang: str, at: datetime, options: ExtractOptions
) -> Extraction | None:
    """A partita IVA: 11 digits (an "IT" prefix is accepted and dropped), checksum verified."""
    text = text[:MAX_CODE_TEXT]
    if not _HAS_DIGIT.search(text) and not _maybe_spoken_digits(text):
        return None
    got = _corrected_code(text, lang, _iva_shaped, _iva_value, "invalid_partita_iva", _iva_like)
    if got is not _NOT_CORRECTED:
        return got
    invalid = False
    for cand in _iva_written(text):
        if std_iva.is_valid(cand):
            return Extraction(cand, "pattern")
        invalid = True
    pieces = decode(text, lang)
    groups = digit_groups(pieces)
    for group in groups:
        for cand in _digit_windows([g for g in group if g != "+"], 11):
            if std_iva.is_valid(cand):
                return Extraction(cand, "grammar")
            invalid = True
    if not invalid:
        invalid = any(_iva_like("".join(g for g in group if g != "+")) for group in groups)
    if invalid:
        return Extraction(None, "pattern", invalid="invalid_partita_iva")
    return None


# ----------------------------------------------------------------------------------- CAP

_CAP_MIN, _CAP_MAX = 10, 98168  # 00010 (Affile area) … 98168 (Messina)
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
_WRITTEN_CAP = re.compile(r"(?<![0-9])[0-9]{5}(?![0-9])")  # "sono nato nel 1980" is not a cut CAP


def _cap_shaped(cand: str) -> bool:
    return len(cand) == 5 and cand.isdigit()


def _cap_value(cand: str) -> str | None:
    return cand if _cap_shaped(cand) and _CAP_MIN <= int(cand) <= _CAP_MAX else None


def _cap_like(cand: str) -> bool:
    return 4 <= len(cand) <= 6


@never_raises
def extract_cap(text: str, lang: str, at: datetime, options: ExtractOptions) -> Extraction | None:
    """An Italian postcode (CAP): 5 digits, written or spoken, as a string ("00184")."""
    text = text[:MAX_CODE_TEXT]
    if not _HAS_DIGIT.search(text) and not _maybe_spoken_digits(text):
        return None
    got = _corrected_code(text, lang, _cap_shaped, _cap_value, "invalid_cap", _cap_like)
    if got is not _NOT_CORRECTED:
        return got
    for m in _WRITTEN_CAP.finditer(text):
        if _CAP_MIN <= int(m.group(0)) <= _CAP_MAX:
            return Extraction(m.group(0), "pattern")  # pattern layer: no decoding needed
    pieces = decode(text, lang)
    invalid = False
    groups = digit_groups(pieces)
    for group in groups:
        parts = [g for g in group if g != "+"]
        for cand in _digit_windows(parts, 5):
            if _CAP_MIN <= int(cand) <= _CAP_MAX:
                spoken = any(p.spoken and p.kind == "D" and p.value in parts for p in pieces)
                return Extraction(cand, "grammar" if spoken else "pattern")
            invalid = True
        if len(parts) == 1 and len(parts[0]) in (4, 6) and not _YEAR.fullmatch(parts[0]):
            invalid = True  # one digit missing or extra: say so rather than "not understood"
    if invalid:
        return Extraction(None, "pattern", invalid="invalid_cap")
    return None
