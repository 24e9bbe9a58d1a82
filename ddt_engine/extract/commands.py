"""Global commands a caller may say in any dialogue state: repeat, help, operator, cancel.

``detect_command(text, lang)`` is pure and never raises. A command is recognised when the
whole utterance is a short command word ("come?", "sorry?", "operatore") or contains an
unambiguous command phrase ("voglio parlare con un operatore", "say that again"). A bare
"no" is not a cancel and a date is never a command.
"""

from __future__ import annotations

import re
from typing import Literal

from ddt_engine.extract._a_text import words

Command = Literal["repeat", "help", "operator", "cancel"]

__all__ = ["Command", "detect_command"]

# Checked in this order: asking for a person beats everything, then cancelling.
_ORDER: tuple[Command, ...] = ("operator", "cancel", "help", "repeat")

# Whole-utterance matches (after dropping politeness words at the ends).
_EXACT: dict[str, dict[Command, tuple[str, ...]]] = {
    "it": {
        "repeat": (
            "come",
            "cosa",
            "che",
            "prego",
            "eh",
            "eh come",
            "scusi",
            "scusa",
            "come scusi",
            "scusi come",
            "cosa scusi",
            "che cosa",
            "pardon",
            "ancora",
            "di nuovo",
            "ripeti",
            "ripeta",
            "ripete",
            "ripetere",
            "come dice",
            "come ha detto",
        ),
        "help": (
            "aiuto",
            "help",
            "istruzioni",
            "non so",
            "boh aiuto",
            "cosa vuol dire",
            "che vuol dire",
            "cosa significa",
            "che significa",
            "che cos è",
            "cos è",
        ),
        "operator": (
            "operatore",
            "operatrice",
            "un operatore",
            "una persona",
            "persona",
            "umano",
            "un umano",
            "assistenza",
            "centralino",
        ),
        "cancel": ("basta", "stop", "fine", "esci", "annulla", "basta cosi", "no basta", "fermati"),
    },
    "en": {
        "repeat": (
            "what",
            "sorry",
            "huh",
            "eh",
            "again",
            "pardon",
            "pardon me",
            "excuse me",
            "sorry what",
            "what was that",
            "come again",
            "repeat",
            "say again",
            "once more",
        ),
        "help": (
            "help",
            "help me",
            "instructions",
            "options",
            "what does that mean",
            "what is that",
            "what s that",
        ),
        "operator": (
            "agent",
            "operator",
            "human",
            "a human",
            "person",
            "a person",
            "representative",
            "reception",
        ),
        "cancel": ("stop", "quit", "exit", "cancel", "abort", "enough"),
    },
}

# Phrases found anywhere in the utterance (as whole words).
_PHRASES: dict[str, dict[Command, tuple[str, ...]]] = {
    "it": {
        "repeat": (
            "ripetere",
            "ripetermi",
            "ripeti",
            "ripeta",
            "ripetilo",
            "ripeterlo",
            "ridire",
            "non ho capito",
            "non ho sentito",
            "non capisco",
            "non sento",
            "non si sente",
            "cosa ha detto",
            "cosa hai detto",
            "come ha detto",
            "come hai detto",
            "ancora una volta",
            "un altra volta",
        ),
        "help": (
            "aiuto",
            "aiutami",
            "mi aiuti",
            "mi puo aiutare",
            "cosa devo dire",
            "cosa posso dire",
            "cosa devo fare",
            "non so cosa dire",
            "non so cosa fare",
            "come funziona",
            "in che senso",
            "cosa intende",
        ),
        "operator": (
            "operatore",
            "operatrice",
            "persona vera",
            "persona reale",
            "essere umano",
            "con un umano",
            "parlare con qualcuno",
            "parlare con una persona",
            "passami qualcuno",
            "mi passi qualcuno",
            "assistenza clienti",
            "centralino",
        ),
        "cancel": (
            "annulla",
            "annullare",
            "annullate",
            "lascia stare",
            "lasci stare",
            "lascia perdere",
            "lasci perdere",
            "lasciamo perdere",
            "lasciamo stare",
            "non mi interessa",
            "non importa",
            "ho cambiato idea",
            "interrompi",
            "interrompere",
        ),
    },
    "en": {
        "repeat": (
            "repeat",
            "say that again",
            "say it again",
            "say again",
            "come again",
            "didn t catch",
            "did not catch",
            "didn t hear",
            "did not hear",
            "didn t get that",
            "didn t understand",
            "did not understand",
            "don t understand",
            "what did you say",
            "one more time",
            "once again",
            "pardon",
        ),
        "help": (
            "help",
            "what can i say",
            "what should i say",
            "what do i say",
            "don t know what to say",
            "how does this work",
            "what do you mean",
        ),
        "operator": (
            "agent",
            "operator",
            "human",
            "real person",
            "live person",
            "representative",
            "talk to someone",
            "speak to someone",
            "talk to a person",
            "speak to a person",
            "customer service",
        ),
        "cancel": (
            "cancel",
            "never mind",
            "nevermind",
            "forget it",
            "forget about it",
            "changed my mind",
            "abort",
        ),
    },
}

_EDGE_FILLERS: dict[str, frozenset[str]] = {
    "it": frozenset(
        "per favore piacere grazie allora ehm mah senta senti mi ma ok e voglio vorrei".split()
    ),
    "en": frozenset("please thanks thank you um uh erm well ok i d like want can just".split()),
}


def _compile() -> tuple[
    dict[str, dict[str, Command]], dict[str, list[tuple[Command, re.Pattern[str]]]]
]:
    exact: dict[str, dict[str, Command]] = {}
    phrases: dict[str, list[tuple[Command, re.Pattern[str]]]] = {}
    for lang, table in _EXACT.items():
        exact[lang] = {}
        for cmd in reversed(_ORDER):  # earlier commands win on a clash
            for p in table[cmd]:
                exact[lang][" ".join(words(p))] = cmd
    for lang, table in _PHRASES.items():
        phrases[lang] = [
            (
                cmd,
                re.compile(
                    " (?:" + "|".join(re.escape(" ".join(words(p))) for p in table[cmd]) + ") "
                ),
            )
            for cmd in _ORDER
        ]
    return exact, phrases


_EXACT_C, _PHRASES_C = _compile()
_NO_LETTERS = re.compile(r"[\W\d_]*")


def _strip_edges(ws: tuple[str, ...], fillers: frozenset[str]) -> tuple[str, ...]:
    i, j = 0, len(ws)
    while i < j and ws[i] in fillers:
        i += 1
    while j > i and ws[j - 1] in fillers:
        j -= 1
    return ws[i:j]


def detect_command(text: str, lang: str) -> Command | None:
    """The global command said in ``text`` ("repeat", "help", "operator", "cancel") or None."""
    if _NO_LETTERS.fullmatch(text[:200]):  # "03/03/1980", "3471234567": never a command
        return None
    lang = lang if lang in _EXACT_C else "it"
    ws = words(text, limit=24)
    if not ws:
        return None
    exact = _EXACT_C[lang]
    hit = exact.get(" ".join(ws))
    if hit is not None:
        return hit
    core = _strip_edges(ws, _EDGE_FILLERS[lang])
    if not core:
        return None
    hit = exact.get(" ".join(core))
    if hit is not None:
        return hit
    if len(ws) >= 24:  # long speech is an answer, not a command
        return None
    padded = " " + " ".join(ws) + " "
    for cmd, rx in _PHRASES_C[lang]:
        if rx.search(padded):
            return cmd
    return None
