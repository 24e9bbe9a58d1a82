"""Compiler stage: a designer's DDT definition + the built-in catalogue -> a complete CompiledDdt.

Every prompt of every dialogue state, escalation level and declared language is resolved
here (designer override, prompt id from the project's prompt table, or the catalogue
default), templates and validation rules are parsed and type-checked, regexes compiled
once to check them. The engine then decides nothing that could be decided offline.

Diagnostic codes (stable):

- E301 unknown type · E302 unknown sub-data · E303 prompt missing in a declared language
- E304 unknown prompt id · E305 bad rule expression (syntax) · E306 rule type error
- E307 bad prompt template (syntax) · E308 bad regex (or one matching an empty answer)
- E309 choice type without choices
- E310 choices on a type that is not ``choice`` (warning) · E311 a state with no prompt levels
  (nothing to say, the escalation has no end) · E312 prompt levels that can never be played
  (warning) · E313 prompts for a language the project does not declare (warning)
- E314 prompt template type error · E315 DTMF on a type that cannot take it (warning)
- E316 duplicate validation code · E317 prompts for a state a sub-data is never in (warning)
- E318 a regex that can backtrack exponentially · E319 bad ``options_from`` (syntax, not a
  list, or on a type the caller cannot pick: yes/no) · E320 a voice prompt that is not SSML an
  engine accepts · E321 an empty prompt text · E322 an ``example`` that is not a plain sentence
- E323 ``missing_year`` on a type that is not a date · E324 a DTMF ``max_digits`` below what
  the type is keyed in with (a date: 8)
- E325 a label without one of the project's languages (warning)
- E326 a listen ``timeout_ms`` outside 1000..60000 · E327 a listen hint that is not a
  short plain phrase, or too many hints · E328 listen hints for a language the project
  does not declare (warning)
- E399 internal error (a bug of ours, reported instead of raised)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from compiler._regex import backtracking_risk
from compiler._ssml import empty_text, placeholder_typo, placeholder_warning, ssml_problem
from compiler.expressions import ExprSyntaxError, check_expr, parse_expr, parse_template
from ddt_engine.catalogue import (
    BUILTIN_TYPES,
    CHILD_PROMPT_STATES,
    PROMPT_STATES,
    STANDARD_MACHINE,
    PromptSpec,
    TypeSpec,
    label_for,
    or_word,
)
from schemas.ddt import (
    CompiledDdt,
    DataNode,
    DtmfSpec,
    Extractor,
    Limits,
    ListenSpec,
    ValidationRule,
)
from schemas.diagnostics import Diagnostic, Severity
from schemas.expressions import Expr, ExprPart, Template, TemplatePart, TextPart
from schemas.project import (
    LISTEN_TIMEOUT_MS,
    DdtDef,
    ListenDef,
    PromptText,
    PromptVariants,
    ValidationDef,
)
from schemas.prompts import Prompt

__all__ = ["compile_ddt", "ddt_value_type", "public_type_names"]

Locate = Callable[[str], tuple[str, int, int]]
Overrides = Mapping[Any, Mapping[Any, Sequence[PromptText]]]

_PROMPT_ID = re.compile(r"^[A-Za-z_][\w.\-]*$")
_LIMIT_OF = {"noMatch": "no_match", "noInput": "no_input", "invalid": "invalid"}
_BOOLEANISH = {"boolean", "any"}
_TEMPLATE_CACHE: dict[str, Template] = {}
_DEFAULT_CACHE: dict[tuple[PromptSpec, tuple[tuple[str, str], ...]], Prompt] = {}
_TEMPLATE_CACHE_MAX = 8192
_DEFAULT_LISTEN = ListenSpec()
_MAX_HINTS = 100  # per language: they travel in every listen action of the DDT
_MAX_HINT_CHARS = 100


def public_type_names() -> list[str]:
    """The built-in type names a designer may write in ``type:``."""
    return sorted(n for n, t in BUILTIN_TYPES.items() if not t.internal)


def ddt_value_type(type_name: str) -> str | None:
    """The memory type of a DDT's value (``date``, ``string`` …); None for an unknown type."""
    spec = BUILTIN_TYPES.get(type_name)
    if spec is None or spec.internal:
        return None
    return spec.value_type


def _did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    best = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean '{best[0]}'?" if best else None


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _splice(tpl: Template, subst: Mapping[str, str]) -> Template:
    parts: list[TemplatePart] = []
    changed = False
    for part in tpl.parts:
        if isinstance(part, TextPart) and any(marker in part.text for marker in subst):
            text = part.text
            for marker, value in subst.items():
                text = text.replace(marker, value)
            changed = changed or text != part.text
            parts.append(TextPart(text=text))
        else:
            parts.append(part)
    return Template(parts=tuple(parts)) if changed else tpl


def _cached_template(text: str) -> Template:
    tpl = _TEMPLATE_CACHE.get(text)
    if tpl is None:
        tpl = parse_template(text)
        if len(_TEMPLATE_CACHE) < _TEMPLATE_CACHE_MAX:
            _TEMPLATE_CACHE[text] = tpl
    return tpl


class _Ctx:
    """Collects diagnostics for one DDT and resolves prompts."""

    def __init__(
        self,
        name: str,
        ddt: DdtDef,
        languages: Sequence[str],
        prompts: Mapping[str, Mapping[str, PromptText]],
        var_types: Mapping[str, str],
        locate: Locate,
    ) -> None:
        self.name = name
        self.ddt = ddt
        self.languages = tuple(languages)
        self.table = prompts
        self.var_types = var_types
        self.locate = locate
        self.diags: list[Diagnostic] = []

    # -- diagnostics ------------------------------------------------------------------

    def diag(
        self,
        code: str,
        suffix: str,
        message: str,
        hint: str | None = None,
        severity: Severity = "error",
    ) -> None:
        try:
            file, line, col = self.locate(suffix)
        except Exception:  # a locate callback must never take the compiler down
            file, line, col = "<unknown>", 0, 0
        self.diags.append(
            Diagnostic(
                code=code,
                severity=severity,
                file=file,
                line=line,
                col=col,
                pointer=f"/ddts/{_escape(self.name)}{suffix}",
                message=message,
                hint=hint,
            )
        )

    @property
    def failed(self) -> bool:
        return any(d.severity == "error" for d in self.diags)

    # -- templates and prompts ----------------------------------------------------------

    def template(self, text: str, where: str, value_type: str, *, check: bool) -> Template | None:
        try:
            tpl = _cached_template(text)
        except ExprSyntaxError as e:
            hint = e.hint or (f"expected {', '.join(e.expected)}" if e.expected else None)
            self.diag("E307", where, f"bad prompt template: {e.message} (column {e.col})", hint)
            return None
        if check:
            for part in tpl.parts:
                if isinstance(part, ExprPart):
                    _, issues = check_expr(part.expr, self.var_types, locals={"value": value_type})
                    for issue in issues:
                        self.diag("E314", where, f"prompt template: {issue.message}", issue.hint)
        return tpl

    def prompt_text(
        self,
        text: PromptText,
        lang: str,
        where: str,
        value_type: str,
        *,
        check: bool,
        own: bool = True,  # False: a text of the prompt table, checked where it is defined
    ) -> Prompt | None:
        if isinstance(text, str) and _PROMPT_ID.match(text) and text in self.table.get(lang, {}):
            text, own = self.table[lang][text], False
        if isinstance(text, str):
            tpl = self.said(self.template(text, where, value_type, check=check), where, own)
            return None if tpl is None else Prompt(text=tpl)
        return self.variants(text, where, value_type, check=check, own=own)

    def said(self, tpl: Template | None, where: str, own: bool) -> Template | None:
        """The template, or None (E321) when it would say nothing at all."""
        if own and tpl is not None and empty_text(tpl):
            self.diag("E321", where, "empty prompt text: nothing would be said", "write the text")
            return None
        if own and tpl is not None and (typo := placeholder_typo(tpl)) is not None:
            self.diag("W008", where, *placeholder_warning(typo), severity="warning")
        return tpl

    def variants(
        self, pv: PromptVariants, where: str, value_type: str, *, check: bool, own: bool = True
    ) -> Prompt | None:
        tpl = self.said(
            self.template(pv.text, where + "/text", value_type, check=check), where + "/text", own
        )
        voice = chat = None
        if pv.voice is not None:
            vwhere = where + "/voice"
            voice = self.said(self.template(pv.voice, vwhere, value_type, check=check), vwhere, own)
            if own and voice is not None and (bad := ssml_problem(pv.voice)) is not None:
                at = f" (column {bad.col})" if bad.col is not None else ""
                self.diag("E320", vwhere, bad.message + at, bad.hint)
                voice = None
        if pv.chat is not None:
            cwhere = where + "/chat"
            chat = self.said(self.template(pv.chat, cwhere, value_type, check=check), cwhere, own)
        if tpl is None or (pv.voice is not None and voice is None):
            return None
        if pv.chat is not None and chat is None:
            return None
        return Prompt(text=tpl, voice=voice, chat=chat)

    def default_prompt(self, spec: PromptSpec, subst: Mapping[str, str], where: str) -> Prompt:
        """A catalogue prompt with the DDT's label and options spliced in. The catalogue text
        is parsed once (markers are plain text to the parser); splicing edits text parts."""
        key = (spec, tuple(subst.items()))
        cached = _DEFAULT_CACHE.get(key)
        if cached is not None:
            return cached
        text = _splice(_cached_template(spec.text), subst)
        voice = None if spec.voice is None else _splice(_cached_template(spec.voice), subst)
        chat = None if spec.chat is None else _splice(_cached_template(spec.chat), subst)
        prompt = Prompt(text=text, voice=voice, chat=chat)
        if len(_DEFAULT_CACHE) < _TEMPLATE_CACHE_MAX:
            _DEFAULT_CACHE[key] = prompt
        return prompt

    def state_prompts(
        self,
        spec: TypeSpec,
        overrides: Overrides,
        states: Sequence[str],
        subst: Mapping[str, Mapping[str, str]],
        base: str,
        value_type: str,
        limits: Limits,
    ) -> dict[str, dict[str, tuple[Prompt, ...]]]:
        out: dict[str, dict[str, tuple[Prompt, ...]]] = {}
        for state, per_lang in overrides.items():
            for lang in per_lang:
                if lang not in self.languages:
                    self.diag(
                        "E313",
                        f"{base}/prompts/{state}/{lang}",
                        f"prompts for '{lang}', which the project does not declare",
                        f"declared languages: {', '.join(self.languages)}",
                        severity="warning",
                    )
            if state not in states:
                self.diag(
                    "E317",
                    f"{base}/prompts/{state}",
                    f"a sub-data has no '{state}' prompts: it is never in that state",
                    "confirmation, notConfirmed and success prompts belong to the main data",
                    severity="warning",
                )
                continue
            missing = [lang for lang in self.languages if lang not in per_lang]
            if missing:
                self.diag(
                    "E303",
                    f"{base}/prompts/{state}",
                    f"prompts for '{state}' are missing in {', '.join(missing)}: the built-in "
                    "default is used there",
                    f"add '{missing[0]}' texts next to the others",
                    severity="warning",
                )
        for state in states:
            per_lang_out: dict[str, tuple[Prompt, ...]] = {}
            for lang in self.languages:
                given = overrides.get(state, {}).get(lang)
                where = f"{base}/prompts/{state}/{lang}"
                if given is not None:
                    if not given:
                        self.diag(
                            "E311",
                            where,
                            f"'{state}' has no prompt levels: nothing to say in that state",
                            "give at least one prompt, or remove the entry to use the default",
                        )
                        continue
                    levels: list[Prompt] = []
                    for i, text in enumerate(given):
                        p = self.prompt_text(text, lang, f"{where}/{i}", value_type, check=True)
                        if p is not None:
                            levels.append(p)
                    per_lang_out[lang] = tuple(levels)
                    limit_name = _LIMIT_OF.get(state)
                    limit = getattr(limits, limit_name) if limit_name else None
                    if limit is not None and len(given) > limit:
                        self.diag(
                            "E312",
                            f"{where}/{limit}",
                            f"'{state}' level {limit + 1} and later are never played "
                            f"(max_attempts.{limit_name} is {limit})",
                            f"raise max_attempts.{limit_name} or drop the extra levels",
                            severity="warning",
                        )
                else:
                    defaults = spec.prompts[state].get(lang) or spec.prompts[state]["en"]
                    per_lang_out[lang] = tuple(
                        self.default_prompt(d, subst[lang], where) for d in defaults
                    )
            out[state] = per_lang_out
        return out

    # -- validation rules ---------------------------------------------------------------

    def rules(
        self,
        spec: TypeSpec,
        defs: Sequence[ValidationDef],
        base: str,
        value_type: str,
        subst: Mapping[str, Mapping[str, str]],
    ) -> tuple[ValidationRule, ...]:
        out: list[ValidationRule] = []
        for rs in spec.validations:
            prompts = {
                lang: tuple(
                    self.default_prompt(p, subst[lang], f"{base}/validate")
                    for p in (rs.prompts.get(lang) or rs.prompts["en"])
                )
                for lang in self.languages
            }
            out.append(ValidationRule(code=rs.code, expr=parse_expr(rs.expr), prompts=prompts))
        seen = {r.code for r in out}
        for i, vd in enumerate(defs):
            where = f"{base}/validate/{i}"
            code = vd.code or f"rule{i + 1}"
            if code in seen:
                self.diag(
                    "E316",
                    f"{where}/code",
                    f"duplicate validation code '{code}'",
                    "give each rule its own code",
                )
            seen.add(code)
            try:
                expr = parse_expr(vd.rule)
            except ExprSyntaxError as e:
                hint = e.hint or (f"expected {', '.join(e.expected)}" if e.expected else None)
                self.diag(
                    "E305",
                    f"{where}/rule",
                    f"bad validation rule: {e.message} (column {e.col})",
                    hint,
                )
                continue
            rtype, issues = check_expr(expr, self.var_types, locals={"value": value_type})
            for issue in issues:
                self.diag("E306", f"{where}/rule", f"validation rule: {issue.message}", issue.hint)
            if not issues and rtype not in _BOOLEANISH:
                self.diag(
                    "E306",
                    f"{where}/rule",
                    f"a validation rule must be a condition, this one is {rtype}",
                    "compare the value, e.g. value >= 1",
                )
            rule_prompts = self.rule_prompts(vd, where, value_type)
            if rule_prompts is None:
                continue
            out.append(ValidationRule(code=code, expr=expr, prompts=rule_prompts))
        return tuple(out)

    def example(self, spec: TypeSpec, ddt: DdtDef, lang: str) -> dict[str, str]:
        """The DDT's own example sentence in place of the type's, in every default prompt
        (voice and chat): a splice of the type's sentence, as ``$label`` is one."""
        text = (ddt.example or {}).get(lang)  # type: ignore[call-overload]
        if text is None:
            return {}
        where = f"/example/{lang}"
        defaults = {d for d in spec.examples.get(lang, ("", "")) if d}  # every type has one
        clean = " ".join(text.split())
        bad = next((c for c in ("{{", "{%", "<", "&") if c in clean), None)
        if not clean or bad is not None:
            self.diag(
                "E322",
                where,
                "an example is a plain sentence" + (f": it cannot hold '{bad}'" if bad else ""),
                'e.g. example: {it: "Per esempio: lunedì prossimo.", en: "For example: '
                'next Monday."}',
            )
            return {}
        return dict.fromkeys(defaults, clean)

    def options_from(self, ddt: DdtDef) -> Expr | None:
        """The list the caller may pick from by position, parsed and type-checked."""
        if ddt.options_from is None:
            return None
        where = "/options_from"
        if ddt.type == "yes_no":
            self.diag(
                "E319",
                where,
                "a yes_no DDT cannot pick from a list",
                "remove options_from, or use type: choice",
            )
            return None
        try:
            expr = parse_expr(ddt.options_from)
        except ExprSyntaxError as e:
            hint = e.hint or (f"expected {', '.join(e.expected)}" if e.expected else None)
            self.diag("E319", where, f"bad options_from: {e.message} (column {e.col})", hint)
            return None
        rtype, issues = check_expr(expr, self.var_types, locals={})
        for issue in issues:
            self.diag("E319", where, f"options_from: {issue.message}", issue.hint)
        if not issues and rtype not in ("list", "any"):
            self.diag(
                "E319",
                where,
                f"options_from must give a list, this gives {rtype}",
                "name a list variable, e.g. options_from: slots",
            )
            return None
        return None if issues else expr

    def listen(
        self, own: ListenDef | None, base: str, inherited: ListenSpec | None
    ) -> ListenSpec | None:
        """The listen settings of a data node: the fields ``own`` sets over ``inherited``
        (a sub-data's over its main data's), else the defaults. None when they are the
        defaults, so a program that does not use them keeps its bytes."""
        if own is None:
            return inherited
        given = own.model_fields_set
        out = inherited or _DEFAULT_LISTEN
        timeout, barge_in, hints = out.timeout_ms, out.barge_in, out.hints
        where = f"{base}/listen"
        low, high = LISTEN_TIMEOUT_MS
        if "timeout_ms" in given:
            timeout = own.timeout_ms
            if not low <= timeout <= high:
                self.diag(
                    "E326",
                    f"{where}/timeout_ms",
                    f"listen timeout_ms {timeout} is out of bounds: {low} to {high} ms",
                    f"the caller's silence before a no-input, in milliseconds: write "
                    f"{low} to {high}, or leave it out for {_DEFAULT_LISTEN.timeout_ms}",
                )
        if "barge_in" in given:
            barge_in = own.barge_in
        if "hints" in given:
            hints = {}
            for lang, phrases in own.hints.items():
                hwhere = f"{where}/hints/{lang}"
                if lang not in self.languages:
                    self.diag(
                        "E328",
                        hwhere,
                        f"listen hints for '{lang}', which the project does not declare: ignored",
                        f"declared languages: {', '.join(self.languages)}",
                        severity="warning",
                    )
                    continue
                phrases_ok = self.hints(phrases, hwhere)
                if phrases_ok:  # none in a language: the listen carries none
                    hints[str(lang)] = phrases_ok
        spec = ListenSpec(timeout_ms=timeout, barge_in=barge_in, hints=hints)
        return None if spec == _DEFAULT_LISTEN else spec

    def hints(self, phrases: Sequence[str], where: str) -> tuple[str, ...]:
        """ASR phrase hints: short plain phrases, spaces collapsed, each once (E327)."""
        if len(phrases) > _MAX_HINTS:
            self.diag(
                "E327",
                where,
                f"{len(phrases)} listen hints: at most {_MAX_HINTS} per language",
                "keep the phrases a caller is likely to say here: the hints travel in "
                "every listen action of this DDT",
            )
        out: list[str] = []
        for i, phrase in enumerate(phrases):
            clean = " ".join(phrase.split())
            bad = next((c for c in ("{{", "{%", "<") if c in clean), None)
            problem = None
            if not clean:
                problem = "an empty listen hint"
            elif len(clean) > _MAX_HINT_CHARS:
                problem = f"a listen hint of {len(clean)} characters (at most {_MAX_HINT_CHARS})"
            elif bad is not None:
                problem = f"a listen hint is a phrase the caller says: it cannot hold '{bad}'"
            if problem is not None:
                self.diag(
                    "E327",
                    f"{where}/{i}",
                    problem,
                    'a hint is a short plain phrase, e.g. hints: {it: ["carta di credito"], '
                    'en: ["credit card"]}',
                )
            elif clean not in out:
                out.append(clean)
        return tuple(out)

    def rule_prompts(
        self, vd: ValidationDef, where: str, value_type: str
    ) -> dict[str, tuple[Prompt, ...]] | None:
        result: dict[str, tuple[Prompt, ...]] = {}
        if isinstance(vd.prompt, str):
            pid = vd.prompt
            have = [lang for lang in self.languages if pid in self.table.get(lang, {})]
            if not have:
                known = sorted({k for t in self.table.values() for k in t})
                self.diag(
                    "E304",
                    f"{where}/prompt",
                    f"unknown prompt id '{pid}'",
                    _did_you_mean(pid, known) or "add it to the project's prompts",
                )
                return None
            for lang in self.languages:
                if lang not in have:
                    self.diag(
                        "E303",
                        f"{where}/prompt",
                        f"prompt '{pid}' has no '{lang}' text",
                        f"add prompts.{lang}.{pid}",
                    )
                    continue
                p = self.prompt_text(
                    self.table[lang][pid],
                    lang,
                    f"{where}/prompt",
                    value_type,
                    check=True,
                    own=False,
                )
                if p is not None:
                    result[lang] = (p,)
        else:
            for lang in self.languages:
                text = vd.prompt.get(lang)  # type: ignore[call-overload]
                if text is None:
                    self.diag(
                        "E303",
                        f"{where}/prompt",
                        f"the invalid prompt has no '{lang}' text",
                        f"add {lang}: … under prompt",
                    )
                    continue
                p = self.prompt_text(text, lang, f"{where}/prompt/{lang}", value_type, check=True)
                if p is not None:
                    result[lang] = (p,)
        return result if len(result) == len(self.languages) else None


def _options_text(choices: Mapping[str, Mapping[str, Sequence[str]]], lang: str) -> str:
    names = [(syn.get(lang) or [value])[0] for value, syn in choices.items()]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {or_word(lang)} " + names[-1]


# keys a DTMF format needs, and how the caller types them
_DTMF_KEYS = {"date_ddmmyyyy": (8, "DDMMYYYY (8 keys)"), "time_hhmm": (4, "HHMM (4 keys)")}


def _safe(text: str) -> str:
    # a label is spliced into default templates: it must not open an expression
    return text.replace("{{", "{ {").replace("}}", "} }")


def compile_ddt(
    name: str,
    ddt: DdtDef,
    *,
    languages: Sequence[str],
    prompts: Mapping[str, Mapping[str, PromptText]],
    var_types: Mapping[str, str],
    locate: Locate,
) -> tuple[CompiledDdt | None, list[Diagnostic]]:
    """Compile one DDT; returns (None, diagnostics) when it has errors. Never raises."""
    ctx = _Ctx(name, ddt, languages, prompts, var_types, locate)
    try:
        result = _compile(ctx)
    except Exception as e:  # a bug here is reported as a diagnostic, never raised
        ctx.diag("E399", "", f"internal error compiling this DDT: {type(e).__name__}: {e}")
        return None, ctx.diags
    return (None if ctx.failed else result), ctx.diags


def _compile(ctx: _Ctx) -> CompiledDdt | None:
    ddt = ctx.ddt
    spec = BUILTIN_TYPES.get(ddt.type)
    if spec is None or spec.internal:
        ctx.diag(
            "E301",
            "/type",
            f"unknown data type '{ddt.type}'",
            _did_you_mean(ddt.type, public_type_names())
            or f"built-in types: {', '.join(public_type_names())}",
        )
        return None

    # choices
    choices: dict[str, dict[str, tuple[str, ...]]] = {
        v: {str(lang): tuple(s) for lang, s in syn.items()} for v, syn in ddt.choices.items()
    }
    if spec.options and not choices:
        ctx.diag(
            "E309",
            "/type",
            f"a '{ddt.type}' DDT needs choices",
            "add choices: {value: {it: [synonyms…], en: [synonyms…]}}",
        )
    if choices and not spec.options:
        ctx.diag(
            "E310",
            "/choices",
            f"choices are ignored by a '{ddt.type}' DDT",
            "use type: choice",
            severity="warning",
        )
        choices = {}

    # patterns
    for i, pattern in enumerate(ddt.patterns):
        try:
            rx = re.compile(pattern)
        except re.error as e:
            ctx.diag(
                "E308",
                f"/patterns/{i}",
                f"bad regular expression: {e}",
                "patterns are Python regexes; group 1 (or the whole match) is the value",
            )
            continue
        risk = backtracking_risk(pattern)
        if risk is not None:
            ctx.diag(
                "E318",
                f"/patterns/{i}",
                f"regular expression can take exponential time on some answers: {risk}",
                "make the inner repetition fixed-length or bound the outer one, "
                "e.g. (?:\\d{3})+ or \\d{1,20} instead of (\\d+)+",
            )
        elif rx.fullmatch("") is not None:
            ctx.diag(
                "E308",
                f"/patterns/{i}",
                "the pattern matches an empty answer, so it can read nothing",
                r"require at least one character, e.g. \d+ instead of \d*",
            )

    limits = Limits(**ddt.max_attempts.model_dump())
    extractors = list(spec.extractors)
    if ddt.extract.ner:
        extractors.append(Extractor(layer="ner", name=ddt.type))
    if ddt.extract.llm:
        extractors.append(Extractor(layer="llm", name=ddt.type))

    # DTMF
    dtmf: DtmfSpec | None = None if spec.dtmf is None else DtmfSpec()
    if ddt.dtmf is not None:
        if spec.dtmf is None and ddt.dtmf.allowed:
            ctx.diag(
                "E315",
                "/dtmf",
                f"a '{ddt.type}' cannot be keyed in with DTMF; ignored",
                "remove dtmf",
                severity="warning",
            )
        elif spec.dtmf is not None:
            dtmf = DtmfSpec(**ddt.dtmf.model_dump())
            keys = _DTMF_KEYS.get(spec.dtmf)
            if ddt.dtmf.allowed and keys is not None and ddt.dtmf.max_digits < keys[0]:
                ctx.diag(
                    "E324",
                    "/dtmf/max_digits",
                    f"a '{ddt.type}' is keyed in as {keys[1]}: max_digits {ddt.dtmf.max_digits} "
                    "can never be enough",
                    f"max_digits: {keys[0]} or more, or leave it out",
                )

    labels = {
        lang: (ddt.label or {}).get(lang) or label_for(ddt.type, lang)  # type: ignore[call-overload]
        for lang in ctx.languages
    }
    for lang in ctx.languages if ddt.label else ():
        if lang not in ddt.label:  # type: ignore[operator]
            ctx.diag(
                "E325",
                "/label",
                f"the label has no '{lang}': the default prompts in '{lang}' say '{labels[lang]}'",
                f"add {lang}: to the label",
                severity="warning",
            )
    subst = {
        lang: {
            **ctx.example(spec, ddt, lang),  # first: a choice's example holds $options
            "$label": _safe(labels[lang]),
            "$options": _safe(_options_text(choices, lang)),
        }
        for lang in ctx.languages
    }
    root_prompts = ctx.state_prompts(
        spec, ddt.prompts, PROMPT_STATES, subst, "", spec.value_type, limits
    )
    rules = ctx.rules(spec, ddt.validate_, "", spec.value_type, subst)
    options_from = ctx.options_from(ddt)
    listen = ctx.listen(ddt.listen, "", None)

    # sub-data
    known = {s.name: s for s in spec.subdata}
    for sub_name in ddt.subdata:
        if sub_name not in known:
            hint = (
                _did_you_mean(sub_name, list(known)) or f"sub-data: {', '.join(known)}"
                if known
                else f"a '{ddt.type}' has no sub-data"
            )
            ctx.diag(
                "E302",
                f"/subdata/{_escape(sub_name)}",
                f"unknown sub-data '{sub_name}' of a '{ddt.type}'",
                hint,
            )
    missing_year = None if ddt.missing_year == "ask" else ddt.missing_year
    if missing_year is not None and ddt.type != "date":
        ctx.diag(
            "E323",
            "/missing_year",
            f"missing_year is for a date, not a '{ddt.type}'",
            "remove missing_year",
        )
    children: list[DataNode] = []
    for sub in spec.subdata:
        cspec = BUILTIN_TYPES[sub.type]
        over = ddt.subdata.get(sub.name)
        base = f"/subdata/{_escape(sub.name)}"
        clabels = {
            lang: ((over.label or {}) if over else {}).get(lang)  # type: ignore[call-overload]
            or label_for(sub.type, lang)
            for lang in ctx.languages
        }
        csubst = {lang: {"$label": _safe(clabels[lang]), "$options": ""} for lang in ctx.languages}
        cdtmf = None
        if cspec.dtmf is not None and (dtmf is None or dtmf.allowed):
            cdtmf = DtmfSpec(
                allowed=dtmf is None or dtmf.allowed,
                max_digits=8,
                finish_key=dtmf.finish_key if dtmf else "#",
            )
        children.append(
            DataNode(
                name=sub.name,
                path=(sub.name,),
                type=sub.type,
                value_type=cspec.value_type,
                label=clabels,
                required=(
                    False  # the year is taken from today
                    if missing_year is not None and sub.name == "year"
                    else sub.required
                    if over is None or over.required is None
                    else over.required
                ),
                extractors=cspec.extractors,
                validations=ctx.rules(
                    cspec, over.validate_ if over else (), base, cspec.value_type, csubst
                ),
                confirm="never",
                limits=limits,
                prompts=ctx.state_prompts(
                    cspec,
                    over.prompts if over else {},
                    CHILD_PROMPT_STATES,
                    csubst,
                    base,
                    cspec.value_type,
                    limits,
                ),
                dtmf=cdtmf,
                listen=ctx.listen(over.listen if over else None, base, listen),
            )
        )

    if ctx.failed:
        return None
    root = DataNode(
        name=ctx.name,
        path=(),
        type=ddt.type,
        value_type=spec.value_type,
        label=labels,
        required=True,
        extractors=tuple(extractors),
        validations=rules,
        confirm=ddt.confirm or spec.confirm,
        limits=limits,
        prompts=root_prompts,
        children=tuple(children),
        dtmf=dtmf,
        choices=choices,
        patterns=tuple(ddt.patterns),
        options_from=options_from,
        missing_year=missing_year,
        listen=listen,
    )
    return CompiledDdt(
        name=ctx.name,
        type=ddt.type,
        sensitive=ddt.sensitive,
        root=root,
        machine=STANDARD_MACHINE,
        ner=ddt.extract.ner,
        llm=ddt.extract.llm,
    )
