"""The DDT engine: collects one piece of data, one event at a time, as a pure function.

``DdtEngine(ddts)`` prepares every compiled DDT once (its transitions Machine exported to a
table, prompt plans, extractor options, compiled validation closures). ``begin`` asks the
first question; ``handle(state, event, …)`` applies one event to a small state record and
returns a ``DdtStep``: the new record, the actions (say … then listen, or extract), the
outcome and, on success, the normalised value. Time comes only from ``event.at``.

Rules a designer can rely on (see docs/ddt.md):

- One prompt per turn: a noMatch, noInput or invalid prompt already re-asks, so it is never
  followed by the question again.
- Counters per data node and state (``"day:noMatch"``) and a total of failed attempts; a
  counter above its limit (``max_attempts``) ends the DDT with outcome ``failure``.
- A validation prompt is not said word for word twice in a row: the same rule broken again
  right after it is said "Come dicevo, …" / "As I said, …".
- Any answer fills what it can (partial fill, mixed initiative); only missing parts are asked.
- Confirmation: "sì" confirms, "no" asks again, "no, il 15" corrects and confirms again.
- Commands (repeat, help, operator, cancel) work in every state; repeat and help cost no
  attempt. An utterance that gives a value is taken as the answer (free text excepted),
  unless it is a clear command phrase: once the command's words, politeness words and
  indefinite articles are set aside nothing gives a value ("voglio parlare con un
  operatore" transfers in a date DDT; "non ho capito, il 15 marzo" is an answer). An
  utterance with digits is always an answer.
- ``handle`` never raises: a state record that does not fit the DDT ends it with outcome
  ``failure`` and a ``reason`` starting with ``bad_state``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from ddt_engine.catalogue import BUILTIN_TYPES, DtmfFormat, again_words
from ddt_engine.expressions import (
    _fn_spell,
    compile_expr,
    compile_template,
    format_value,
    phone_read_back,
)
from ddt_engine.extract import Extraction, ExtractOptions, extract
from ddt_engine.extract._a_text import words
from ddt_engine.extract.choice import pick_position
from ddt_engine.extract.commands import (
    _EDGE_FILLERS,
    _EXACT_C,
    _PHRASES,
    _PHRASES_C,
    _strip_edges,
    detect_command,
)
from ddt_engine.extract.yesno import detect_yes_no
from ddt_engine.machine import DdtError, Table, build_machine, export_table, fire, machine_mermaid
from schemas.actions import Action, DtmfListen, ExtractAction, ListenAction, SayAction
from schemas.ddt import CompiledDdt, DataNode, DdtStep, Limits
from schemas.events import (
    Event,
    ExtractionResultEvent,
    HangupEvent,
    NoInputEvent,
    UserInputEvent,
)
from schemas.expressions import Binary, Call, Expr, ExprPart, Lit, Template, Unary, Var
from schemas.prompts import Prompt
from schemas.session import DdtState

__all__ = ["UNCERTAIN_BELOW", "DdtEngine", "DdtError", "machine_mermaid"]

UNCERTAIN_BELOW = 0.6
"""ASR or extraction confidence under which a value counts as uncertain."""
MAX_TEXT = 2000  # the extractors cut there too
MAX_PENDING = 500  # characters of an utterance handed to NER/LLM and kept in the record
MAX_PICK_ITEMS = 100  # items of an options_from list a caller can pick by position
# a yes followed by "but …" at a confirmation ("ma certo", "but of course" are still a yes)
_BUT = {
    "it": re.compile(
        r"\b(?:ma|però|pero|tranne|invece|solo che)\b(?!\s+(?:certo|sì|si|come no|certamente))",
        re.IGNORECASE,
    ),
    "en": re.compile(
        r"\b(?:but|however|except|though|actually)\b(?!\s+(?:of course|sure|yes|certainly))",
        re.IGNORECASE,
    ),
}
_MAX_REJECTED = 120  # characters of a rejected value kept in the record

_LAST = 99  # a level past any prompt list: the last level is played
_WAITING = frozenset({"start", "noMatch", "noInput", "invalid", "confirmation", "notConfirmed"})
_LIMIT = {"noMatch": "no_match", "noInput": "no_input", "invalid": "invalid"}
_GREEDY = frozenset({"text"})  # types whose extractor takes any utterance
_DIGITS = re.compile(r"\d+")
_ANY_DIGIT = re.compile(r"\d")
# indefinite articles: "un operatore" is not the number one, "an agent" not the letter A
_ARTICLES = {"it": frozenset({"un", "una", "uno"}), "en": frozenset({"a", "an"})}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HH_MM = re.compile(r"^\d{2}:\d{2}$")

M = TypeVar("M")
_new = object.__new__
_set = object.__setattr__


def _fast(cls: type[M], fields: dict[str, Any]) -> M:
    """Build a pydantic model from values the engine itself made (already valid): ~1 µs
    against ~4 µs validated and ~8 µs for ``model_construct``. A test pins the equality."""
    obj = _new(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", set(fields))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def _state(**fields: Any) -> DdtState:
    return _fast(DdtState, fields)


def _step(
    state: DdtState | None,
    actions: tuple[Action, ...],
    outcome: str = "continue",
    value: Any = None,
    critical: bool = False,
    reason: str | None = None,
) -> DdtStep:
    return _fast(
        DdtStep,
        {
            "state": state,
            "actions": actions,
            "outcome": outcome,
            "value": value,
            "critical": critical,
            "reason": reason,
        },
    )


# -- prepared prompts -------------------------------------------------------------------


Slot = Callable[[Mapping[str, Any], datetime], Any]


def _digits_fast(x: Any) -> str | None:
    """The ``digits`` filter without its loop over characters: the same answers."""
    if x is None:
        return None
    s = x if type(x) is str else format_value(x, "en")
    return " ".join("".join(s.split()))


# filters a read-back is made of: their plain-Python form and how many constant arguments
_FAST_FILTERS: dict[str, tuple[Callable[..., Any], int]] = {
    "phone": (phone_read_back, 0),
    "digits": (_digits_fast, 0),
    "spell": (_fn_spell, 1),
}


def _fast_slot(e: Expr, lang: str) -> Slot | None:
    """A slot that is a chain of the read-back filters over a variable (``value | phone |
    spell``) as plain Python calls, without the evaluator's wrapper around each one: the
    same answers as ``compile_expr`` (a test pins them); None for any other slot."""
    chain: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    while isinstance(e, Call) and e.fn in _FAST_FILTERS and e.args:
        fn, most = _FAST_FILTERS[e.fn]
        extra = e.args[1:]
        if len(extra) > most or not all(isinstance(a, Lit) for a in extra):
            return None
        chain.append((fn, tuple(a.v for a in extra if isinstance(a, Lit))))
        e = e.args[0]
    if not chain or not isinstance(e, Var):
        return None
    get = compile_expr(e, lang=lang)
    chain.reverse()

    def slot(m: Mapping[str, Any], now: datetime) -> Any:
        v = get(m, now)
        try:
            for fn, extra in chain:
                v = fn(v, *extra)
        except Exception:  # the evaluator gives None where a filter fails
            return None
        return v

    return slot


class _Tpl:
    """A template prepared for one language: constant text, or text and compiled slots.

    ``pieces`` holds the text between the slots and a placeholder at each slot; ``slots``
    the position and the compiled expression of each slot. A voice template may take some
    slot values from the text template of the same prompt (``share``)."""

    __slots__ = ("const", "pieces", "slots", "exprs", "plain", "ssml", "lang", "links")

    def __init__(self, template: Template, lang: str, *, ssml: bool) -> None:
        pieces: list[str] = []
        slots: list[tuple[int, Slot]] = []
        exprs: list[Expr] = []
        faster = False  # a slot has a plain-Python form: render it here
        for part in template.parts:
            if isinstance(part, ExprPart):
                fast = _fast_slot(part.expr, lang)
                faster = faster or fast is not None
                slots.append((len(pieces), fast or compile_expr(part.expr, lang=lang)))
                exprs.append(part.expr)
                pieces.append("")
            elif pieces and (not slots or slots[-1][0] != len(pieces) - 1):
                pieces[-1] += part.text
            else:
                pieces.append(part.text)
        self.lang = lang
        self.ssml = ssml
        self.pieces = tuple(pieces)
        self.slots = tuple(slots)
        self.exprs = tuple(exprs)
        # per slot: None (evaluated here), or (slot of the other template, a filter over
        # its value or None for the value itself)
        self.links: tuple[tuple[int, Slot | None] | None, ...] | None = None
        self.const: str | None = "".join(pieces) if not slots else None
        # with nothing to escape, the evaluator's compiled template gives the same text
        plain = not ssml and self.const is None and not faster
        self.plain = compile_template(template, lang) if plain else None

    def share(self, other: _Tpl) -> bool:
        """Reuse the slot values ``other`` computes for the same prompt: a slot that is one
        of its slots (``{{ value }}`` in both), or a filter with constant arguments over
        one (``value | phone | spell`` over the text's ``value | phone``), is not evaluated
        twice. True when some slot is shared."""
        theirs = {e: k for k, e in enumerate(other.exprs)}
        links: list[tuple[int, Slot | None] | None] = []
        for e in self.exprs:
            link: tuple[int, Slot | None] | None = None
            if e in theirs:
                link = (theirs[e], None)
            elif (
                isinstance(e, Call)
                and e.args
                and e.args[0] in theirs
                and all(isinstance(a, Lit) for a in e.args[1:])
            ):
                tail = Call(fn=e.fn, args=(Var(path=(_SHARED,)), *e.args[1:]))
                fn = _fast_slot(tail, self.lang) or compile_expr(tail, lang=self.lang)
                link = (theirs[e.args[0]], fn)
            links.append(link)
        if any(x is not None for x in links):
            self.links = tuple(links)
        return self.links is not None

    def values(self, memory: Mapping[str, Any], now: datetime) -> list[Any]:
        """The value of every slot, in order."""
        return [fn(memory, now) for _, fn in self.slots]

    def text_of(self, v: Any) -> str:
        """How a slot value is written into this template (XML-escaped in SSML)."""
        if type(v) is str:
            text: str = v
        else:
            try:
                text = format_value(v, self.lang)
            except Exception:  # the evaluator never raises; a formatter bug must not either
                text = ""
        if self.ssml and ("&" in text or "<" in text or ">" in text):
            return _xml_escape(text)
        return text

    def join(self, values: Sequence[Any]) -> str:
        """The text with the slot ``values`` (as ``values`` gave them) filled in."""
        out = list(self.pieces)
        k = 0
        for i, _ in self.slots:
            v = values[k]
            out[i] = v if type(v) is str and not self.ssml else self.text_of(v)
            k += 1
        return "".join(out)

    def render(
        self, memory: Mapping[str, Any], now: datetime, theirs: Sequence[Any] | None = None
    ) -> str:
        """The text; ``theirs``: the slot values of the template this one shares with."""
        if self.const is not None:
            return self.const
        if self.plain is not None:
            return self.plain(memory, now)
        out = list(self.pieces)
        text_of = self.text_of
        links = self.links if theirs is not None else None
        for k, (i, fn) in enumerate(self.slots):
            link = links[k] if links is not None else None
            if link is None:
                v = fn(memory, now)
            elif link[1] is None:
                v = theirs[link[0]]  # type: ignore[index]
            else:
                v = link[1]({_SHARED: theirs[link[0]]}, now)  # type: ignore[index]
            out[i] = text_of(v)
        return "".join(out)


_SHARED = "\x00shared"  # the variable a shared slot's filter reads (no name can clash)


def _xml_escape(text: str) -> str:
    """A value inserted into SSML: &, < and > escaped (the voice templates are the markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _speak(ssml: str) -> str:
    return ssml if ssml.lstrip().startswith("<speak") else f"<speak>{ssml}</speak>"


def _index(level: int, n: int) -> int:
    """The prompt played at ``level`` among ``n`` levels (the last one repeats)."""
    return 0 if level < 1 else (level if level < n else n) - 1


_LEAD_MARKUP = re.compile(r"(?:\s*<[^>]*>)*\s*")  # "<speak><prosody …>" before the words
_FIRST_WORD = re.compile(r"[^\W\d_]+")


def _ordinary_capital(word: str, lang: str) -> bool:
    """Whether ``word`` (before any apostrophe) is capitalised only because it begins the
    sentence: "Il", "L'", "È", "We" — not "POL", "IBAN", nor the English "I"."""
    if not word[0].isupper() or (lang == "en" and word == "I"):
        return False
    return all(c.islower() for c in word[1:])


def _again(text: str, words: str, lang: str) -> str:
    """A prompt said again right after itself: "Come dicevo, il sabato …" — the first word in
    lower case when it is an ordinary capitalised word; markup at the start stays first."""
    lead = _LEAD_MARKUP.match(text)
    i = lead.end() if lead is not None else 0
    body = text[i:]
    m = _FIRST_WORD.match(body)
    if m is not None and _ordinary_capital(m.group(0), lang):
        body = body[0].lower() + body[1:]
    return f"{text[:i]}{words} {body}"


class _Plan:
    """One prompt level for one language and channel: a prebuilt SayAction when constant."""

    __slots__ = ("key", "text", "ssml", "action", "shares", "wrap")

    def __init__(self, key: str, prompt: Prompt, lang: str, channel: str) -> None:
        self.key = key
        self.shares = False
        if channel == "voice":
            self.text = _Tpl(prompt.text, lang, ssml=False)
            self.ssml = None if prompt.voice is None else _Tpl(prompt.voice, lang, ssml=True)
            if self.ssml is not None and self.text.const is None and self.ssml.const is None:
                self.shares = self.ssml.share(self.text)
        else:
            self.text = _Tpl(prompt.chat or prompt.text, lang, ssml=False)
            self.ssml = None
        # whether the SSML gets a <speak> around it: known here when it begins with text
        self.wrap: bool | None = None
        if self.ssml is not None and self.ssml.pieces[0].strip():
            self.wrap = not self.ssml.pieces[0].lstrip().startswith("<speak")
        self.action: SayAction | None = None
        if self.text.const is not None and (self.ssml is None or self.ssml.const is not None):
            self.action = self._build(self.text.const, self.ssml.const if self.ssml else None)

    def _build(self, text: str, ssml: str | None) -> SayAction:
        if ssml is not None:
            wrap = self.wrap
            if wrap is None:
                ssml = _speak(ssml)
            elif wrap:
                ssml = f"<speak>{ssml}</speak>"
        return _fast(
            SayAction,
            {"type": "say", "text": text, "ssml": ssml, "prompt": self.key, "barge_in": None},
        )

    def say(self, memory: Mapping[str, Any], now: datetime) -> SayAction:
        if self.action is not None:
            return self.action
        if self.shares:  # the voice variant reuses slot values of the text
            values = self.text.values(memory, now)
            ssml = self.ssml.render(memory, now, values)  # type: ignore[union-attr]
            return self._build(self.text.join(values), ssml)
        text = self.text.render(memory, now)
        ssml = None if self.ssml is None else self.ssml.render(memory, now)
        return self._build(text, ssml)


PlanTable = dict[tuple[str, str, str], tuple[_Plan, ...]]  # (state, lang, channel) -> levels


@dataclass(frozen=True, slots=True)
class _Rule:
    code: str
    check: Callable[[Mapping[str, Any], datetime], Any]
    plans: PlanTable  # ("invalid:<code>", lang, channel) -> levels
    fast: Callable[[Any], bool | None] | None = None  # a range check on a number


_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _number(e: Expr) -> int | float | None:
    if isinstance(e, Lit) and type(e.v) in (int, float):
        return e.v  # type: ignore[return-value]
    if isinstance(e, Unary) and e.op == "neg":
        n = _number(e.a)
        return None if n is None else -n
    return None


def _range_terms(e: Expr) -> list[tuple[Callable[[Any, Any], Any], Any]] | None:
    """``value >= 1 and value <= 31`` as [(>=, 1), (<=, 31)]; None for anything else."""
    if isinstance(e, Binary) and e.op == "and":
        a, b = _range_terms(e.a), _range_terms(e.b)
        return None if a is None or b is None else a + b
    if isinstance(e, Binary) and e.op in _CMP:
        left, right, op = e.a, e.b, str(e.op)
        if isinstance(right, Var):
            left, right, op = right, left, _MIRROR[op]
        bound = _number(right)
        if isinstance(left, Var) and left.path == ("value",) and bound is not None:
            return [(_CMP[op], bound)]
    return None


def _fast_rule(e: Expr) -> Callable[[Any], bool | None] | None:
    """A plain-Python check for numeric range rules (the catalogue's day, month, year):
    the same answers as the evaluator for an int or float value, None (ask the evaluator)
    for any other value."""
    terms = _range_terms(e)
    if not terms:
        return None

    def check(v: Any) -> bool | None:
        if type(v) is not int and type(v) is not float:
            return None
        for cmp, bound in terms:
            if not cmp(v, bound):
                return False
        return True

    return check


@dataclass(slots=True)
class _Node:
    """A data node prepared for the hot path."""

    dn: DataNode
    key: str  # "" for the main data, else the dotted path
    keyname: str  # the key as it appears in prompt keys ("main" for the main data)
    extract_type: str | None
    options: ExtractOptions
    patterns: tuple[re.Pattern[str], ...]
    rules: tuple[_Rule, ...]
    plans: PlanTable
    # channel -> language -> the listen that ends a turn asking this node, and the one that
    # ends a read-back (the main data's confirmation: ``confirming``); prebuilt, shared
    # (two string lookups: cheaper than building a (channel, language) key each turn)
    listen: dict[str, dict[str, ListenAction]]
    confirm_listen: dict[str, dict[str, ListenAction]]
    dtmf_format: DtmfFormat | None
    dtmf_allowed: bool
    limits: Limits
    children: tuple[_Node, ...] = ()
    compose: str | None = None
    rule_by_code: dict[str, _Rule] = field(default_factory=dict)  # the first of each code
    pick: Callable[[Mapping[str, Any], datetime], Any] | None = None  # options_from


# (state, trigger, has missing children, needs confirmation) -> destination
Routes = dict[tuple[str, str, bool, bool], str]


def _routes(table: Table) -> Routes:
    """Every answer of ``fire`` on the table, for the two conditions the engine sets:
    one lookup per transition instead of a conditions dict and a scan of the rules."""
    routes: Routes = {}
    for source, trigger in table:
        for missing in (False, True):
            for confirm in (False, True):
                conds = {"has_missing_children": missing, "needs_confirmation": confirm}
                dest = fire(table, source, trigger, conds)
                if dest is not None:
                    routes[(source, trigger, missing, confirm)] = dest
    return routes


@dataclass(slots=True)
class _Ddt:
    compiled: CompiledDdt
    table: Table
    routes: Routes
    root: _Node
    nodes: dict[str, _Node]  # key -> node
    paths: dict[tuple[str, ...], _Node]  # data node path (as in the record) -> node
    langs: tuple[str, ...]
    out_layers: tuple[str, ...]
    child_keys: frozenset[str]
    required: tuple[_Node, ...]  # the sub-data that must be given, in order


@dataclass(slots=True)
class _Found:
    """What one utterance gave for the node asked: a leaf value or parts of the main data."""

    value: Any = None
    parts: dict[str, Any] | None = None
    invalid: str | None = None
    invalid_key: str = ""
    uncertain: bool = False
    layer: str = "pattern"


# -- building ---------------------------------------------------------------------------


def _plans(
    ddt: str, keyname: str, prompts: Mapping[str, Mapping[str, Sequence[Prompt]]], state_key: str
) -> PlanTable:
    table: PlanTable = {}
    for state, per_lang in prompts.items():
        name = state_key or state
        for lang, levels in per_lang.items():
            for channel in ("voice", "chat"):
                table[(name, lang, channel)] = tuple(
                    _Plan(f"{ddt}/{keyname}/{name}/{i + 1}", p, lang, channel)
                    for i, p in enumerate(levels)
                )
    return table


def _listens(
    dn: DataNode, langs: Sequence[str], *, confirming: bool
) -> dict[str, dict[str, ListenAction]]:
    """The listen actions of a data node per channel and language. On voice they carry the
    DDT's listen settings (timeout, barge-in, the hints of the language); on chat only what
    is expected. Unset fields keep the action's defaults, so its JSON is unchanged."""
    out: dict[str, dict[str, ListenAction]] = {}
    dtmf, spec = dn.dtmf, dn.listen
    for channel in ("voice", "chat"):
        fields: dict[str, Any] = {"expect": dn.type}
        if confirming:
            fields["confirming"] = True
        if channel == "voice":
            if dtmf is not None and dtmf.allowed:
                fields["dtmf"] = DtmfListen(max_digits=dtmf.max_digits, finish_key=dtmf.finish_key)
            if spec is not None:
                fields["timeout_ms"] = spec.timeout_ms
                fields["barge_in"] = spec.barge_in
        out[channel] = {
            lang: ListenAction(
                **fields,
                hints=spec.hints.get(lang, ()) if spec is not None and channel == "voice" else (),
            )
            for lang in langs
        }
    return out


def _prepare_node(ddt: CompiledDdt, dn: DataNode, langs: Sequence[str]) -> _Node:
    key = ".".join(dn.path)
    keyname = key or "main"
    spec = BUILTIN_TYPES.get(dn.type)
    in_engine = [x for x in dn.extractors if x.layer in ("pattern", "grammar")]
    rules = tuple(
        _Rule(
            code=r.code,
            check=compile_expr(r.expr),
            plans=_plans(ddt.name, keyname, {"invalid": r.prompts}, f"invalid:{r.code}"),
            fast=_fast_rule(r.expr),
        )
        for r in dn.validations
    )
    dtmf = dn.dtmf
    return _Node(
        dn=dn,
        key=key,
        keyname=keyname,
        extract_type=in_engine[0].name if in_engine else None,
        options=ExtractOptions(
            choices=dn.choices, patterns=dn.patterns, past=dn.missing_year == "past"
        ),
        patterns=tuple(re.compile(p) for p in dn.patterns),
        rules=rules,
        plans=_plans(ddt.name, keyname, dn.prompts, ""),
        listen=_listens(dn, langs, confirming=False),
        # only the main data is confirmed
        confirm_listen=_listens(dn, langs, confirming=True) if not dn.path else {},
        dtmf_format=spec.dtmf if spec else None,
        dtmf_allowed=dtmf is not None and dtmf.allowed,
        limits=dn.limits,
        children=tuple(_prepare_node(ddt, c, langs) for c in dn.children),
        compose=spec.compose if spec and dn.children else None,
        rule_by_code={r.code: r for r in reversed(rules)},
        pick=None if dn.options_from is None else compile_expr(dn.options_from),
    )


def _prepare(ddt: CompiledDdt) -> _Ddt:
    machine = build_machine(ddt.machine, name=ddt.name)
    langs = tuple(ddt.root.prompts.get("start", {}))
    if not langs:
        raise DdtError(f"DDT {ddt.name!r} has no start prompt")
    root = _prepare_node(ddt, ddt.root, langs)
    nodes = {root.key: root}
    for child in root.children:
        nodes[child.key] = child
    out_layers: tuple[str, ...] = tuple(
        str(x.layer) for x in ddt.root.extractors if x.layer in ("ner", "llm")
    ) or tuple(layer for layer, on in (("ner", ddt.ner), ("llm", ddt.llm)) if on)
    table = export_table(machine)
    return _Ddt(
        compiled=ddt,
        table=table,
        routes=_routes(table),
        root=root,
        nodes=nodes,
        paths={n.dn.path: n for n in nodes.values()},
        langs=langs,
        out_layers=out_layers,
        child_keys=frozenset(c.key for c in root.children),
        required=tuple(c for c in root.children if c.dn.required),
    )


# -- values -----------------------------------------------------------------------------


def _year_of(day: Any, month: Any, at: datetime, missing_year: str | None) -> Any:
    """The year of a day and month said without one: this year's, or with ``missing_year``
    the coming such day (on or after ``at``'s date) or the past one (on or before it)."""
    if missing_year is None or type(day) is not int or type(month) is not int:
        return at.year
    today = at.date()
    step = 1 if missing_year == "coming" else -1
    for k in range(9):  # 29 February comes back within 8 years
        y = today.year + step * k
        try:
            d = date(y, month, day)
        except (ValueError, OverflowError):
            continue
        if (d >= today) if step == 1 else (d <= today):
            return y
    return at.year  # no such day (31 April): this year's, and the date is invalid


def _day_of_month(day: int, at: datetime, missing_year: str | None) -> date | None:
    """The coming (on or after ``at``'s date) or the past (on or before it) date that is
    the ``day``-th of its month; None for another policy or a day no month has."""
    if missing_year not in ("coming", "past") or not 1 <= day <= 31:
        return None
    today = at.date()
    step = 1 if missing_year == "coming" else -1
    y, m = today.year, today.month
    for _ in range(13):  # a 31st comes back within two months, any day within a year
        try:
            d = date(y, m, day)
        except (ValueError, OverflowError):
            d = None
        if d is not None and ((d >= today) if step == 1 else (d <= today)):
            return d
        m += step
        if m == 0:
            y, m = y - 1, 12
        elif m == 13:
            y, m = y + 1, 1
    return None


def _compose(
    kind: str | None, vals: Mapping[str, Any], at: datetime, missing_year: str | None = None
) -> tuple[Any, str | None]:
    """The main value assembled from its parts, or (None, invalid code)."""
    if kind == "date":
        d, m = vals.get("day"), vals.get("month")
        y = vals["year"] if "year" in vals else _year_of(d, m, at, missing_year)
        if not (type(d) is int and type(m) is int and type(y) is int):
            return None, "invalid_date"
        try:
            return date(y, m, d).isoformat(), None
        except (ValueError, OverflowError):
            return None, "invalid_date"
    if kind == "datetime":
        d, t = vals.get("date"), vals.get("time")
        if not (isinstance(d, str) and _ISO_DATE.match(d) and isinstance(t, str)):
            return None, "invalid_datetime"
        if not _HH_MM.match(t):
            return None, "invalid_datetime"
        return f"{d}T{t}", None
    return dict(vals), None


def _decompose(kind: str | None, value: Any) -> dict[str, Any] | None:
    """Parts of a full main value (``"1980-03-15"`` -> day, month, year), None if unknown."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    if kind == "date":
        try:
            d = date.fromisoformat(value[:10])
        except ValueError:
            return None
        return {"day": d.day, "month": d.month, "year": d.year}
    if kind == "datetime" and len(value) >= 16 and value[10] == "T":
        return {"date": value[:10], "time": value[11:16]}
    return None


def _command_keys() -> dict[str, frozenset[str]]:
    """Per language, one word of every command entry (its longest): a command is said only
    if the utterance has one of them as a word."""
    keys: dict[str, frozenset[str]] = {}
    for lang, exact in _EXACT_C.items():
        entries = [tuple(e.split()) for e in exact]
        entries += [words(p) for ps in _PHRASES.get(lang, {}).values() for p in ps]
        keys[lang] = frozenset(max(e, key=len) for e in entries if e)
    return keys


_COMMAND_KEYS = _command_keys()
_ASCII_WORD = re.compile(r"[a-z]+")


def _detect_command(text: str, lang: str) -> str | None:
    """``detect_command`` behind a cheap rejection: text without any command word cannot be
    a command (an answer such as "quindici marzo" costs one regex, not the tokeniser and
    the phrase search; "sì" costs the tokeniser alone)."""
    keys = _COMMAND_KEYS.get(lang) or _COMMAND_KEYS["it"]
    if text.isascii():
        if keys.isdisjoint(_ASCII_WORD.findall(text.lower())):
            return None
    elif keys.isdisjoint(words(text, limit=24)):  # the words detect_command reads
        return None
    return detect_command(text, lang)


def _command_rest(text: str, lang: str) -> str:
    """What an utterance says besides its command phrase, politeness words and indefinite
    articles ("voglio parlare con un operatore" -> "parlare con"; "non ho capito, il 15
    marzo" -> "il 15 marzo"). Empty when the whole utterance is a command word."""
    lang = lang if lang in _EXACT_C else "it"
    exact, fillers = _EXACT_C[lang], _EDGE_FILLERS[lang]
    ws = words(text, limit=24)
    if " ".join(ws) in exact or " ".join(_strip_edges(ws, fillers)) in exact:
        return ""
    padded = " " + " ".join(ws) + " "
    for _, rx in _PHRASES_C[lang]:
        prev = None
        while prev != padded:  # adjacent phrases share a space: remove them one by one
            prev, padded = padded, rx.sub(" ", padded, count=1)
    articles = _ARTICLES.get(lang, frozenset())
    return " ".join(w for w in padded.split() if w not in articles and w not in fillers)


def _scope(memory: Mapping[str, Any], value: Any) -> dict[str, Any]:
    scope = dict(memory)
    scope["value"] = value
    return scope


# -- the engine -------------------------------------------------------------------------


class DdtEngine:
    """Runs compiled DDTs. Build it once per program: it builds each Machine once."""

    def __init__(self, ddts: Mapping[str, CompiledDdt]) -> None:
        self._ddts: dict[str, _Ddt] = {}
        # (ddt, language, channel) -> the first step when its question is constant: the
        # record and actions are immutable, so every session may share them
        self._begun: dict[tuple[str, str, str], DdtStep] = {}
        for name, ddt in ddts.items():
            try:
                self._ddts[name] = _prepare(ddt)
            except (re.error, ValueError, KeyError) as e:
                raise DdtError(f"DDT {name!r} cannot run: {e}") from e

    def table(self, ddt: str) -> Table:
        """The exported transition table of a DDT (for tests and tools)."""
        return self._ddts[ddt].table

    # -- public API -------------------------------------------------------------------

    def begin(
        self,
        ddt: str,
        *,
        memory: Mapping[str, Any],
        language: str,
        channel: str,
        at: datetime,
    ) -> DdtStep:
        """Start collecting ``ddt``: the first question and a listen."""
        hit = self._begun.get((ddt, language, channel))
        if hit is not None:
            return hit
        d = self._ddts.get(ddt)
        if d is None:
            return _step(None, (), "failure", critical=True, reason=f"unknown_ddt: {ddt}")
        state = _state(
            ddt=ddt,
            node=(),
            state="start",
            counters={},
            total=0,
            values={},
            candidate=None,
            uncertain=False,
            last_prompt=("start", 1),
            rule=None,
            pending=None,
        )
        lang, ch = self._lang(d, language), self._channel(channel)
        say = self._say(d, d.root, "start", 1, lang, ch, memory, None, at)
        step = _step(state, (*say, d.root.listen[ch][lang]))
        levels = d.root.plans.get(("start", lang, ch), ())
        if not levels or levels[0].action is not None:  # constant: the same for everyone
            if len(self._begun) < 4096:
                self._begun[(ddt, language, channel)] = step
        return step

    def handle(
        self,
        state: DdtState,
        event: Event,
        *,
        memory: Mapping[str, Any],
        language: str,
        channel: str,
    ) -> DdtStep:
        """Apply one event. Pure and deterministic; never raises."""
        try:
            return self._handle(state, event, memory, language, channel)
        except Exception as e:  # the last line of defence: a bug ends the DDT, not the call
            return _step(
                None, (), "failure", critical=True, reason=f"internal_error: {type(e).__name__}"
            )

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _lang(d: _Ddt, language: str) -> str:
        return language if language in d.langs else d.langs[0]

    @staticmethod
    def _channel(channel: str) -> str:
        return "voice" if channel == "voice" else "chat"

    def _say(
        self,
        d: _Ddt,
        node: _Node,
        state: str,
        level: int,
        lang: str,
        ch: str,
        memory: Mapping[str, Any],
        value: Any,
        at: datetime,
        rule: str | None = None,
    ) -> tuple[SayAction, ...]:
        levels = (
            node.plans.get((state, lang, ch), ())
            if rule is None
            else self._levels(node, state, lang, ch, rule)
        )
        if not levels:
            return ()
        n = len(levels)
        plan = levels[0 if level < 1 else (level if level < n else n) - 1]
        if plan.action is not None:
            return (plan.action,)
        return (plan.say(_scope(memory, value), at),)

    @staticmethod
    def _levels(
        node: _Node, state: str, lang: str, ch: str, rule: str | None = None
    ) -> tuple[_Plan, ...]:
        """The prompt levels of ``state`` (of ``rule``'s own prompts when it has some)."""
        if rule is not None:
            r = node.rule_by_code.get(rule)
            if r is not None:
                levels = r.plans.get((f"invalid:{rule}", lang, ch), ())
                if levels:
                    return levels
        return node.plans.get((state, lang, ch), ())

    # -- the turn ---------------------------------------------------------------------

    def _handle(
        self,
        st: DdtState,
        event: Event,
        memory: Mapping[str, Any],
        language: str,
        channel: str,
    ) -> DdtStep:
        d = self._ddts.get(st.ddt)
        if d is None:
            return _step(
                None, (), "failure", critical=True, reason=f"bad_state: unknown DDT {st.ddt!r}"
            )
        node = d.paths.get(st.node)
        if node is None:  # a record whose node path is a list, or spelt differently
            node = d.nodes.get(".".join(st.node))
        if node is None:
            return _step(
                None,
                (),
                "failure",
                critical=True,
                reason=f"bad_state: unknown data node {'.'.join(st.node)!r}",
            )
        if st.state not in _WAITING:
            return _step(
                None,
                (),
                "failure",
                critical=True,
                reason=f"bad_state: not a waiting dialogue state {st.state!r}",
            )
        if st.state == "confirmation" and st.candidate is None:
            return _step(
                None,
                (),
                "failure",
                critical=True,
                reason="bad_state: confirmation without a candidate",
            )
        kind = type(event)  # exact classes (no ABC isinstance on the hot path)
        if kind is not UserInputEvent and kind not in _OTHER_EVENTS:
            kind = next((k for k in _EVENT_KINDS if isinstance(event, k)), kind)
        if kind is HangupEvent:
            return _step(None, (), "cancel", critical=True, reason="hangup")
        if kind not in _EVENT_KINDS:
            return _step(st, (), reason=f"ignored_event: {event.type}")
        turn = _Turn(self, d, node, st, memory, self._lang(d, language), self._channel(channel))
        if kind is UserInputEvent:
            return turn.user_input(event)  # type: ignore[arg-type]
        if kind is NoInputEvent:
            turn.at = event.at
            return turn.fire("no_input")
        return turn.extraction_result(event)  # type: ignore[arg-type]


_EVENT_KINDS: tuple[type[Event], ...] = (
    UserInputEvent,
    NoInputEvent,
    ExtractionResultEvent,
    HangupEvent,
)
_OTHER_EVENTS = frozenset(_EVENT_KINDS[1:])


class _Turn:
    """The work of one event: a copy-on-write view of the record, then the transition."""

    __slots__ = (
        "engine", "d", "node", "st", "memory", "lang", "ch", "at", "values", "counters",
        "total", "candidate", "uncertain", "invalid_rule", "invalid_node", "critical",
    )  # fmt: skip

    def __init__(
        self,
        engine: DdtEngine,
        d: _Ddt,
        node: _Node,
        st: DdtState,
        memory: Mapping[str, Any],
        lang: str,
        ch: str,
    ) -> None:
        self.engine = engine
        self.d = d
        self.node = node  # the node asked
        self.st = st
        self.memory = memory
        self.lang = lang
        self.ch = ch
        self.at: datetime = datetime.min
        self.values: dict[str, Any] = dict(st.values)
        self.counters: dict[str, int] = dict(st.counters)
        self.total = st.total
        self.candidate: Any = st.candidate
        self.uncertain = st.uncertain
        self.invalid_rule: str | None = None
        self.invalid_node: _Node = node
        self.critical = False

    def say(
        self, node: _Node, topic: str, level: int, value: Any, rule: str | None = None
    ) -> tuple[SayAction, ...]:
        """The prompts of ``topic`` at ``level`` for ``node``, in this turn's language,
        channel, memory and time."""
        return self.engine._say(
            self.d, node, topic, level, self.lang, self.ch, self.memory, value, self.at, rule
        )

    # -- events -----------------------------------------------------------------------

    def user_input(self, ev: UserInputEvent) -> DdtStep:
        self.at = ev.at
        text = ev.text[:MAX_TEXT] if ev.text else ""
        dtmf = ev.dtmf or ""
        if not text.strip() and not dtmf.strip():
            return self.fire("no_input")  # silence on voice, an empty message on chat
        low_conf = ev.confidence is not None and ev.confidence < UNCERTAIN_BELOW
        if self.st.state == "confirmation":
            return self.confirmation(text, dtmf, low_conf)
        greedy = self.d.compiled.type in _GREEDY
        if greedy and text:
            cmd = self.command(text)
            if cmd is not None:
                return cmd
        found = self.find(text, dtmf)
        if not greedy and text:
            if found is None:
                cmd = self.command(text)
                if cmd is not None:
                    return cmd
            elif not _ANY_DIGIT.search(text):
                # a clear command phrase beats what an extractor reads in its words
                # ("un operatore": not the number one); a value said besides the command
                # ("non ho capito, il quindici marzo") is still the answer
                kind = _detect_command(text, self.lang)
                if kind is not None and self.find(_command_rest(text, self.lang), "") is None:
                    cmd = self.command(text, kind)
                    if cmd is not None:
                        return cmd
        if found is None and ev.nbest:
            found = self.from_nbest(ev, text)
        if found is None:
            if self.d.out_layers and text.strip():
                return self.ask_layer(self.d.out_layers[0], text[:MAX_PENDING])
            return self.fire("unmatched")
        if low_conf:
            found.uncertain = True
        return self.take(found)

    def from_nbest(self, ev: UserInputEvent, text: str) -> _Found | None:
        """The ASR's other hypotheses, in order, when the best one gave nothing: a value
        found there is a guess (uncertain)."""
        for alt in ev.nbest[:5]:
            if alt.text == text or not alt.text.strip():
                continue
            found = self.find(alt.text[:MAX_TEXT], "")
            if found is not None and found.invalid is None:
                found.uncertain = True
                return found
        return None

    def extraction_result(self, ev: ExtractionResultEvent) -> DdtStep:
        self.at = ev.at
        pending = self.st.pending
        if pending is None or self.st.state == "confirmation":
            return _step(self.st, (), reason="ignored_event: extraction_result")
        layers = self.d.out_layers
        found = None if ev.no_match or ev.value is None else self.from_layer(ev)
        if found is None:
            later = layers[layers.index(ev.layer) + 1 :] if ev.layer in layers else ()
            if later:
                return self.ask_layer(later[0], pending)
            return self.fire("unmatched")
        return self.take(found)

    def command(self, text: str, detected: str | None = None) -> DdtStep | None:
        cmd = detected or _detect_command(text, self.lang)
        if cmd is None:
            return None
        st = self.st
        if cmd == "operator":
            return _step(None, (), "transfer", critical=True, reason="operator_requested")
        if cmd == "cancel":
            return _step(None, (), "cancel", critical=True, reason="caller_cancelled")
        if cmd == "help":
            # at a confirmation the help is the most explicit confirmation level (yes or no)
            topic, level = ("confirmation", _LAST) if st.state == "confirmation" else ("help", 1)
            say = self.say(self.node, topic, level, st.candidate)
            new = st.model_copy(update={"last_prompt": (topic, level), "pending": None})
            return _step(new, (*say, self.listen()), reason="help")
        # repeat: the last prompt again, no attempt counted
        last_state, level = st.last_prompt or (st.state, 1)
        rule = st.rule if last_state == "invalid" else None
        say = self.say(self.node, last_state, level, st.candidate, rule)
        return _step(st, (*say, self.listen()), reason="repeat")

    def listen(self) -> ListenAction:
        """The listen of the state the record stays in (a help or a repeat)."""
        if self.st.state == "confirmation":
            return self.node.confirm_listen[self.ch][self.lang]
        return self.node.listen[self.ch][self.lang]

    def ask_layer(self, layer: str, text: str) -> DdtStep:
        node = self.node
        action = ExtractAction(
            layer="ner" if layer == "ner" else "llm",
            data_type=node.dn.type,
            text=text,
            language=self.lang,
            choices=tuple(node.dn.choices)
            or tuple(self.d.root.dn.choices)
            or tuple(str(item) for item in self.pick_items(self.d.root)),
        )
        return _step(self.st.model_copy(update={"pending": text}), (action,), reason="extract")

    # -- extraction -------------------------------------------------------------------

    def run(self, node: _Node, text: str) -> Extraction | None:
        if node.extract_type is None or not text:
            return None
        if node.patterns:  # the DDT's own regexes come first (pattern layer)
            ex = self.custom_patterns(node, text)
            if ex is not None:
                return ex
        return extract(node.extract_type, text, self.lang, self.at, node.options)

    def custom_patterns(self, node: _Node, text: str) -> Extraction | None:
        for pattern in node.patterns:
            m = pattern.search(text)
            if m is None:
                continue
            raw = (m.group(1) if m.re.groups else m.group(0)) or ""
            if node.extract_type is not None:  # the regex matched: normalise, no re-check
                plain = ExtractOptions(choices=node.dn.choices, past=node.options.past)
                norm = extract(node.extract_type, raw, self.lang, self.at, plain)
                if norm is not None:
                    return norm
            if node.dn.value_type == "string" and raw.strip():
                return Extraction(value=raw.strip(), layer="pattern")
        return None

    def find(self, text: str, dtmf: str) -> _Found | None:
        node = self.node
        if node.pick is None:  # only the main data can have one
            return self.extract_found(text, dtmf)
        items = self.pick_items(node)
        if not items:
            return self.extract_found(text, dtmf)
        if dtmf and node.dtmf_allowed:
            digits = "".join(_DIGITS.findall(dtmf))
            if 1 <= len(digits) <= 2:  # a key per item: the position (longer: a value)
                i = int(digits) - 1
                return self.picked(node, items[i]) if 0 <= i < len(items) else None
        found = self.extract_found(text, dtmf)
        if found is not None and found.uncertain and not node.children:
            self.offered_reading(node, found, items)
        pos = pick_position(text, self.lang, len(items)) if text else None
        if pos is None:
            return found
        index, rest = pos
        if found is not None and found.invalid is None and rest.strip():
            # "il primo marzo": the words besides the ordinal still say a value of the
            # type, so the ordinal is part of it; "la prima": nothing is left, a pick
            own = self.run(node, rest)
            if own is not None and own.invalid is None and own.value is not None:
                return found
        return self.picked(node, items[index]) or found

    def pick_items(self, node: _Node) -> list[Any]:
        """The list ``options_from`` gives now (empty when unset or not a list)."""
        if node.pick is None:
            return []
        items = node.pick(self.memory, self.at)  # compiled expressions never raise
        return list(items[:MAX_PICK_ITEMS]) if isinstance(items, list | tuple) else []

    def offered_reading(self, node: _Node, found: _Found, items: list[Any]) -> None:
        """An hour from 1 to 12 said without am/pm ("at 3", "alle 3": 03:00, a guess) is
        the other reading (15:00) when only that one is among the times offered. The value
        stays a guess: a ``when_uncertain`` DDT reads it back."""
        v = found.value
        if node.dn.type != "time" or not isinstance(v, str) or not _HH_MM.match(v):
            return
        h = int(v[:2])
        if not 1 <= h <= 12:
            return
        other = f"{(h + 12) % 24:02d}{v[2:]}"
        offered: set[Any] = set()
        for item in items:
            if isinstance(item, str) and _HH_MM.match(item):
                offered.add(item)
            elif not (item is None or isinstance(item, dict | list | bool)):
                ex = self.run(node, str(item))  # "15:00:00", "3 pm": as the type reads it
                if ex is not None and ex.invalid is None:
                    offered.add(ex.value)
        if v not in offered and other in offered:
            found.value = other

    def picked(self, node: _Node, item: Any) -> _Found | None:
        """The item at the position the caller said, normalised as the type's own values
        are (an item the type does not read is no answer: the caller is asked again)."""
        if item is None or isinstance(item, dict | list | bool):
            return None
        ex = self.run(node, str(item))
        if ex is None or ex.invalid is not None or ex.value is None:
            return None
        parts = _decompose(node.compose, ex.value) if node.children else None
        if parts is not None:
            return _Found(parts=parts, layer="pick")
        return _Found(value=ex.value, layer="pick")

    def extract_found(self, text: str, dtmf: str) -> _Found | None:
        """What the extractors read in the utterance (or the DTMF keys)."""
        node = self.node
        if dtmf and node.dtmf_allowed:
            found = self.from_dtmf(node, dtmf)
            if found is not None or not text:
                return found
        if not text:
            return None
        root = self.d.root
        if not root.children:
            return self.leaf(root, self.run(root, text))
        whole = self.run(root, text)
        parts = self.parts_of(whole)
        asked: Extraction | None = None
        if node is not root:
            if parts and (len(parts) >= 2 or node.key in parts):
                return self.composite(whole, parts)  # several parts, or just the one asked
            asked = self.run(node, text)
            if asked is not None and asked.invalid is None and asked.value is not None:
                return self.leaf(node, asked)
            if asked is None and parts and whole is not None and self.replaces(whole, parts):
                return self.composite(whole, parts)  # "no wait, the 24th" asked the month
            # mixed initiative: a part not given yet, unless the answer was a bad value for
            # the part asked and the other reading is a guess ("45": day 45, not year 2045)
            if parts and whole is not None and not parts.keys() & self.values.keys():
                if asked is None or not (whole.uncertain or whole.confidence < UNCERTAIN_BELOW):
                    return self.composite(whole, parts)
        elif parts:
            return self.composite(whole, parts)
        elif whole is not None and whole.invalid is not None:
            return self.composite(whole, None)
        for child in root.children:  # last resort: the grammar of another missing part
            if child is node or child.key in self.values:
                continue
            ex = self.run(child, text)
            if ex is None or ex.invalid is not None or ex.value is None:
                continue
            if asked is not None and (ex.uncertain or ex.confidence < UNCERTAIN_BELOW):
                continue
            return self.leaf(child, ex)
        if node is not root:
            if asked is not None:
                return self.leaf(node, asked)
            if whole is not None and whole.invalid is not None:
                return _Found(invalid=whole.invalid, invalid_key=node.key, layer=whole.layer)
        return None

    def replaces(self, whole: Extraction, parts: dict[str, Any]) -> bool:
        """Whether a clear answer gives only parts already given, and another value for
        them: a correction of what was said before, not an answer to the part asked."""
        if whole.uncertain or whole.confidence < UNCERTAIN_BELOW:
            return False
        values = self.values
        return all(k in values for k in parts) and any(values[k] != v for k, v in parts.items())

    def parts_of(self, ex: Extraction | None) -> dict[str, Any] | None:
        if ex is None or ex.invalid is not None:
            return None
        parts = _decompose(self.d.root.compose, ex.value)
        if parts is None:
            return None
        keys = self.d.child_keys
        return {k: v for k, v in parts.items() if k in keys and v is not None}

    def composite(self, ex: Extraction | None, parts: dict[str, Any] | None) -> _Found | None:
        if ex is None:
            return None
        unsure = ex.uncertain or ex.confidence < UNCERTAIN_BELOW
        if ex.invalid is not None:
            return _Found(invalid=ex.invalid, invalid_key="", uncertain=unsure, layer=ex.layer)
        if not parts:
            return None
        whole = ex.value if isinstance(ex.value, str) else None  # a complete value as given
        return _Found(value=whole, parts=parts, uncertain=unsure, layer=ex.layer)

    def leaf(self, node: _Node, ex: Extraction | None) -> _Found | None:
        if ex is None:
            return None
        unsure = ex.uncertain or ex.confidence < UNCERTAIN_BELOW
        if ex.invalid is not None:
            return _Found(
                invalid=ex.invalid, invalid_key=node.key, uncertain=unsure, layer=ex.layer
            )
        value = ex.value
        if node.key and node.dn.type == "date" and isinstance(value, dict):
            value, _ = _compose("date", value, self.at)  # "il 3 marzo" for a datetime's date
        if value is None:
            return None
        if node.key:
            return _Found(parts={node.key: value}, uncertain=unsure, layer=ex.layer)
        return _Found(value=value, uncertain=unsure, layer=ex.layer)

    def from_dtmf(self, node: _Node, dtmf: str) -> _Found | None:
        digits = "".join(_DIGITS.findall(dtmf))
        fmt = node.dtmf_format
        if not digits or fmt is None:
            return None
        value: Any = None
        if fmt == "yes_no_12":
            value = {"1": True, "2": False}.get(digits)
        elif fmt == "choice_index":
            keys = list(node.dn.choices)
            i = int(digits[:3])
            value = keys[i - 1] if 1 <= i <= len(keys) else None
        else:
            text = digits
            if fmt == "date_ddmmyyyy":
                if len(digits) != 8:
                    return None
                text = f"{digits[:2]}/{digits[2:4]}/{digits[4:]}"
            elif fmt == "time_hhmm":
                if len(digits) != 4:
                    return None
                text = f"{digits[:2]}:{digits[2:]}"
            ex = self.run(node, text)
            if ex is None:
                return None
            if ex.invalid is not None:
                return _Found(invalid=ex.invalid, invalid_key=node.key, layer="dtmf")
            value = ex.value
        if value is None:
            return None
        if node.key:
            return _Found(parts={node.key: value}, layer="dtmf")
        parts = _decompose(node.compose, value) if node.children else None
        if parts is not None:
            return _Found(parts=parts, layer="dtmf")
        return _Found(value=value, layer="dtmf")

    def from_layer(self, ev: ExtractionResultEvent) -> _Found | None:
        """A value from NER/LLM, normalised again by the in-engine grammar (never trusted)."""
        root = self.d.root
        node = self.node
        v = ev.value

        def norm(n: _Node, raw: Any) -> Any:
            if n.dn.type == "choice":
                return raw if isinstance(raw, str) and raw in n.dn.choices else None
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                return None
            ex = self.run(n, str(raw)[:MAX_PENDING])
            return None if ex is None or ex.invalid is not None else ex.value

        if root.children:
            parts: dict[str, Any] = {}
            if isinstance(v, dict):
                for child in root.children:
                    if child.key in v:
                        nv = norm(child, v[child.key])
                        if nv is not None:
                            parts[child.key] = nv
            else:
                target = node if node is not root else root
                nv = norm(target, v)
                if nv is not None:
                    if target is root:
                        parts = self.parts_of(Extraction(value=nv, layer=ev.layer)) or {}
                    else:
                        parts = {target.key: nv}
            return _Found(parts=parts, uncertain=True, layer=ev.layer) if parts else None
        nv = norm(root, v)
        return None if nv is None else _Found(value=nv, uncertain=True, layer=ev.layer)

    # -- applying a value ---------------------------------------------------------------

    def validate(self, node: _Node, value: Any) -> str | None:
        """The code of the first rule ``value`` breaks, or None. Validating the main data,
        or any failure, makes the turn critical."""
        if not node.rules:
            return None
        scope: dict[str, Any] | None = None
        for rule in node.rules:
            ok = rule.fast(value) if rule.fast is not None else None
            if ok is None:
                if scope is None:
                    scope = _scope(self.memory, value)
                ok = rule.check(scope, self.at) is True
            if not ok:
                self.critical = True
                return rule.code
        if not node.key:
            self.critical = True
        return None

    def take(self, found: _Found) -> DdtStep:
        """Apply what the utterance gave; fire matched or invalid."""
        root = self.d.root
        if found.parts is not None and root.compose == "date" and root.dn.missing_year:
            self.day_alone(found)
        self.uncertain = self.uncertain or found.uncertain
        if found.invalid is not None:
            self.invalid_node = self.d.nodes.get(found.invalid_key, root)
            self.invalid_rule = found.invalid
            if self.invalid_node is root:
                self.values = {}
            return self.fire("invalid")
        if not root.children:
            code = self.validate(root, found.value)
            if code is not None:
                return self.reject(root, code, found.value)
            self.candidate = found.value
            return self.fire("matched")
        for child in root.children:
            if found.parts and child.key in found.parts:
                v = found.parts[child.key]
                code = self.validate(child, v)
                if code is not None:
                    self.values.pop(child.key, None)
                    # keep the other parts given in the same breath, then say what was wrong
                    for other in root.children:
                        ov = found.parts.get(other.key)
                        if (
                            other is not child
                            and ov is not None
                            and self.validate(other, ov) is None
                        ):
                            self.values[other.key] = ov
                    return self.reject(child, code, v)
                self.values[child.key] = v
        if self.missing() is not None:
            return self.fire("matched")  # (fire asks missing() again: cheap, keeps one path)
        value: Any  # not narrowed to str by the first branch (mypyc checks it)
        if isinstance(found.value, str) and self.values == found.parts:
            value, bad = found.value, None  # given whole: nothing to assemble
        else:
            value, bad = _compose(root.compose, self.values, self.at, root.dn.missing_year)
        if bad is not None:
            self.values = {}
            self.invalid_node, self.invalid_rule = root, bad
            return self.fire("invalid")
        code = self.validate(root, value)
        if code is not None:
            self.values = {}
            return self.reject(root, code, value)
        self.candidate = value
        return self.fire("matched")

    def day_alone(self, found: _Found) -> None:
        """A day of the month said alone ("the 14th", "il 14") by a caller asked for a date
        with ``missing_year``: the last (``past``) or coming such day, as a guess the DDT
        reads back; a DDT that confirms ``never`` asks for the month instead."""
        root = self.d.root
        parts = found.parts
        day = parts.get("day") if parts is not None and len(parts) == 1 else None
        if type(day) is not int or root.dn.confirm == "never":
            return
        if "month" in self.values or "year" in self.values:
            return  # a day asked for, or said again, after the month or the year
        got = _day_of_month(day, self.at, root.dn.missing_year)
        if got is not None:
            found.parts = {"day": day, "month": got.month, "year": got.year}
            found.uncertain = True

    def reject(self, node: _Node, code: str, value: Any) -> DdtStep:
        self.invalid_node, self.invalid_rule = node, code
        # kept for the invalid prompt ("Il giorno 45 …") and a repeat; a long text is not
        small = not isinstance(value, str | dict | list) or len(value) <= _MAX_REJECTED
        self.candidate = value if small else None
        return self.fire("invalid")

    def missing(self) -> _Node | None:
        values = self.values
        for child in self.d.required:
            if child.key not in values:
                return child
        return None

    def needs_confirmation(self) -> bool:
        policy = self.d.root.dn.confirm
        return policy == "always" or (policy == "when_uncertain" and self.uncertain)

    # -- confirmation -------------------------------------------------------------------

    def confirmation(self, text: str, dtmf: str, low_conf: bool) -> DdtStep:
        answer: bool | None = None
        rest = text
        if dtmf and not text:
            answer = {"1": True, "2": False}.get("".join(_DIGITS.findall(dtmf)))
            rest = ""
        elif text:
            answer, rest = detect_yes_no(text, self.lang)
        if answer is True:
            # "sì, ma il 15" / "yes but it's the 15th": not a yes to the value read back
            but = bool(text) and _BUT.get(self.lang, _BUT["it"]).search(text) is not None
            found = self.find_root(rest) if rest.strip() else None
            if found is not None and (but or not found.uncertain) and self.differs(found):
                if low_conf:
                    found.uncertain = True
                return self.correct(found)
            return self.fire("unmatched" if but and found is None else "confirmed")
        if text:
            cmd = self.command(text)
            if cmd is not None:
                return cmd
        if rest.strip():
            found = self.find_root(rest)
            if found is not None:
                if low_conf:
                    found.uncertain = True
                return self.correct(found)
        if answer is False:
            return self.fire("denied")
        return self.fire("unmatched")

    def find_root(self, text: str) -> _Found | None:
        """What ``text`` gives for the main data (a correction at the confirmation)."""
        saved = self.node
        self.node = self.d.root
        try:
            return self.find(text, "")
        finally:
            self.node = saved

    def differs(self, found: _Found) -> bool:
        """Whether ``found`` changes the value read back (a bad value does too)."""
        if found.invalid is not None:
            return True
        if found.value is not None:
            return bool(found.value != self.candidate)
        return any(self.values.get(k) != v for k, v in (found.parts or {}).items())

    def correct(self, found: _Found) -> DdtStep:
        """A correction at confirmation: merged into the parts given, then confirmed again
        (``take`` fires ``matched``, which the confirmation state reads as ``corrected``)."""
        return self.take(found)

    # -- saying a validation prompt again ----------------------------------------------

    def said_last(self, node: _Node, rule: str | None, level: int) -> bool:
        """Whether the invalid prompt of ``rule`` at ``level`` is the very prompt said last
        (the same rule broken again in a row, its prompt levels used up)."""
        st = self.st
        last = st.last_prompt
        if not last or last[0] != "invalid" or st.rule != rule or tuple(st.node) != node.dn.path:
            return False
        n = len(self.engine._levels(node, "invalid", self.lang, self.ch, rule))
        return _index(last[1], n) == _index(level, n)

    def again(self, say: tuple[SayAction, ...]) -> tuple[SayAction, ...]:
        """The prompt said last, said again: "Come dicevo, …" rather than word for word."""
        words = again_words(self.lang)
        if words is None:
            return say
        return tuple(
            _fast(
                SayAction,
                {
                    "type": "say",
                    "text": _again(a.text, words, self.lang),
                    "ssml": None if a.ssml is None else _again(a.ssml, words, self.lang),
                    "prompt": a.prompt,
                    "barge_in": a.barge_in,
                },
            )
            for a in say
        )

    # -- transition and effects -----------------------------------------------------------

    def count(self, key: str, state: str, limit: int) -> bool:
        """Count one failed attempt; True when a limit is exceeded."""
        name = f"{key}:{state}"
        n = self.counters.get(name, 0) + 1
        self.counters[name] = n
        self.total += 1
        return n > limit or self.total > self.d.root.limits.total

    def fire(self, trigger: str) -> DdtStep:
        st = self.st
        source = st.state
        root = self.d.root
        node = self.node
        limits = root.limits
        exhausted = False
        if source == "confirmation" and trigger == "matched":  # take() after a correction
            trigger = "corrected"
        if trigger == "unmatched":
            exhausted = self.count(node.key, "noMatch", limits.no_match)
        elif trigger == "no_input":
            exhausted = self.count(node.key, "noInput", limits.no_input)
        elif trigger == "invalid":
            exhausted = self.count(self.invalid_node.key, "invalid", limits.invalid)
        elif trigger in ("denied", "corrected"):
            self.critical = True
            exhausted = self.count(root.key, "notConfirmed", limits.confirmation)
        elif trigger == "confirmed":
            self.critical = True
        if exhausted:
            reason_state = {"unmatched": "noMatch", "no_input": "noInput"}.get(trigger, trigger)
            trigger = "exhausted"
        else:
            reason_state = ""
        missing = self.missing() if root.children else None
        dest = self.d.routes.get(
            (source, trigger, missing is not None, self.needs_confirmation() is True)
        )
        if dest is None:
            return _step(
                None,
                (),
                "failure",
                critical=True,
                reason=f"bad_state: no transition for {trigger} in {source}",
            )
        return self.enter(dest, trigger, missing, reason_state)

    def enter(self, dest: str, trigger: str, missing: _Node | None, why: str) -> DdtStep:
        root = self.d.root
        if dest == "success":
            value = self.candidate
            say = self.say(root, "success", 1, value)
            return _step(None, say, "success", value=value, critical=True)
        if dest == "failed":
            say = self.say(root, "failed", 1, None)
            return _step(None, say, "failure", critical=True, reason=f"max_attempts: {why}")
        node = self.node
        rule: str | None = None
        candidate = self.candidate
        if dest == "start":
            node = missing or root
            level = 1
            candidate = None
        elif dest == "confirmation":
            node = root
            prev = self.counters.get(f"{root.key}:confirmation", 0)
            level = 1 if trigger in ("matched", "corrected") else prev + 1
            self.counters[f"{root.key}:confirmation"] = level
        elif dest == "invalid":
            node = self.invalid_node
            rule = self.invalid_rule
            level = self.counters.get(f"{node.key}:invalid", 1)
        elif dest == "notConfirmed":
            node = root
            level = self.counters.get(f"{root.key}:notConfirmed", 1)
            self.values, candidate, self.uncertain = {}, None, False
        else:  # noMatch, noInput: the node asked keeps being asked
            level = self.counters.get(f"{node.key}:{dest}", 1)
            if self.st.state != "confirmation":
                candidate = None
        say = self.say(node, dest, level, candidate, rule)
        if dest == "invalid" and say and self.said_last(node, rule, level):
            say = self.again(say)
        new = _fast(
            DdtState,
            {
                "ddt": self.st.ddt,
                "node": node.dn.path,
                "state": dest,
                "counters": self.counters,
                "total": self.total,
                "values": self.values,
                "candidate": candidate,
                "uncertain": self.uncertain,
                "last_prompt": (dest, level),
                "rule": rule,
                "pending": None,
            },
        )
        listens = node.confirm_listen if dest == "confirmation" else node.listen
        return _step(new, (*say, listens[self.ch][self.lang]), critical=self.critical)
