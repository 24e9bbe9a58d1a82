"""Export of a replayed session: a readable transcript, JSON, and a vCon document; and the
masking of sensitive values that every export, timeline and error message goes through.

Masking rule (deterministic, decided from the program and the replayed states only):

1. A variable marked ``sensitive`` (the compiler marks the ``into`` variable of every
   ``sensitive`` DDT too): its value is replaced by ``***`` wherever memory is shown.
2. The caller's input of every turn answered while a sensitive DDT was active (the state
   *before* the event has ``ddt`` naming a sensitive DDT): text, DTMF and ASR n-best are
   ``***``; so is the value of an NER/LLM result for that DDT, and the utterance of the
   ``extract`` action sent for it.
3. Every prompt of a sensitive DDT that has a ``{{ … }}`` slot (the confirmation that
   reads back ``value``; a fixed text such as "Thank you." cannot echo anything and stays),
   and every prompt of any other DDT or of the flow whose template reads a sensitive
   variable: the whole text (and SSML) is ``***``.
4. As a backstop, every string the session ever held in a sensitive variable or as a
   sensitive DDT's partial/candidate value (at least 3 characters, and its digits spaced
   out, as the ``digits`` filter speaks them) is replaced by ``***`` in every other text:
   backend URLs and bodies, transfer contexts, e-mail and SMS texts, other prompts.
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from ddt_engine.expressions import get_path, set_path
from runtime.replay import ReplayResult, TurnView, flatten
from schemas.actions import Action, EndAction, SayAction, TransferAction
from schemas.ddt import DataNode
from schemas.events import Event, ExtractionResultEvent, StartEvent, UserInputEvent
from schemas.expressions import Template
from schemas.program import Program, SendEmailTask, SendSmsTask
from schemas.session import SessionState

__all__ = [
    "MASK",
    "VCON_VERSION",
    "ExportFormat",
    "Masker",
    "export_json",
    "export_session",
    "export_text",
    "export_vcon",
    "masked_actions",
    "masker_for",
    "vcon_uuid",
]

MASK = "***"
VCON_VERSION = "0.0.1"
ExportFormat = Literal["text", "json", "vcon"]


def _template_paths(t: Template | None) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    if t is None:
        return out
    stack: list[Any] = [t.model_dump()]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if x.get("k") in ("var", "isset") and isinstance(x.get("path"), list | tuple):
                out.add(tuple(x["path"]))
            stack.extend(x.values())
        elif isinstance(x, list | tuple):
            stack.extend(x)
    return out


def _has_slot(t: Template | None) -> bool:
    return t is not None and any(p.k == "expr" for p in t.parts)


class Masker:
    """What to hide in one program's sessions; ``learn`` the states before masking."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.sensitive_ddts = frozenset(n for n, d in program.ddts.items() if d.sensitive)
        self.sensitive_vars = tuple(
            tuple(name.split(".")) for name, spec in program.variables.items() if spec.sensitive
        )
        self.values: set[str] = set()
        self._masked_prompts: set[str] = set()  # flow prompt keys and DDT prompt heads
        for key, by_lang in program.prompts.items():
            if any(self._reads_sensitive(p.text, p.voice, p.chat) for p in by_lang.values()):
                self._masked_prompts.add(key)
        self._plain_prompts: set[str] = set()  # sensitive DDT prompt heads without slots
        for name, ddt in program.ddts.items():
            self._walk_ddt(name, ddt.root, name in self.sensitive_ddts)
        # SMS and e-mail actions carry no prompt key: their fields are masked whenever a
        # send task of the program fills them from a prompt that reads a sensitive variable
        self._masked_sends: set[tuple[str, str]] = set()
        for task in program.tasks:
            if isinstance(task, SendSmsTask) and task.text in self._masked_prompts:
                self._masked_sends.add(("send_sms", "text"))
            elif isinstance(task, SendEmailTask):
                for fld, key in (("subject", task.subject), ("body", task.body)):
                    if key in self._masked_prompts:
                        self._masked_sends.add(("send_email", fld))
        self._pattern: re.Pattern[str] | None = None
        self.everything = False  # see ``hide_everything``

    @property
    def active(self) -> bool:
        return bool(self.everything or self.sensitive_ddts or self.sensitive_vars)

    def hide_everything(self) -> None:
        """Treat every variable and every DDT as sensitive: for a session whose own program
        (whose rules say what it holds that is sensitive) cannot be loaded — another
        program's rules may not hide what it held. Over-masks, by design."""
        self.everything = True
        self._pattern = None

    def _reads_sensitive(self, *templates: Template | None) -> bool:
        for t in templates:
            for path in _template_paths(t):
                for sv in self.sensitive_vars:
                    n = min(len(path), len(sv))
                    if path[:n] == sv[:n]:
                        return True
        return False

    def _walk_ddt(self, name: str, node: DataNode, sensitive: bool) -> None:
        keyname = ".".join(node.path) or "main"
        heads: list[tuple[str, list[Template | None]]] = []
        for state, by_lang in node.prompts.items():
            ts = [t for v in by_lang.values() for p in v for t in (p.text, p.voice, p.chat)]
            heads.append((f"{name}/{keyname}/{state}", ts))
        for rule in node.validations:
            ts = [t for v in rule.prompts.values() for p in v for t in (p.text, p.voice, p.chat)]
            heads.append((f"{name}/{keyname}/invalid:{rule.code}", ts))
        for head, ts in heads:
            if self._reads_sensitive(*ts):
                self._masked_prompts.add(head)
            elif sensitive and not any(_has_slot(t) for t in ts):
                self._plain_prompts.add(head)  # fixed text: cannot echo the value
        for child in node.children:
            self._walk_ddt(name, child, sensitive)

    # -- learning the values --------------------------------------------------------

    def _add(self, v: Any) -> None:
        if isinstance(v, Mapping):
            for x in v.values():
                self._add(x)
        elif isinstance(v, list | tuple):
            for x in v:
                self._add(x)
        elif v is not None and not isinstance(v, bool):
            s = str(v)
            if len(s.strip()) >= 3:
                self.values.add(s)
                digits = re.sub(r"\D", "", s)
                if len(digits) >= 3:
                    self.values.add(digits)
                    self.values.add(" ".join(digits))
            self._pattern = None

    def learn(self, state: SessionState) -> None:
        if self.everything:
            self._add(state.memory)
            if state.ddt is not None:
                self._add(state.ddt.values)
                self._add(state.ddt.candidate)
            return
        for path in self.sensitive_vars:
            self._add(get_path(state.memory, path))
        d = state.ddt
        if d is not None and d.ddt in self.sensitive_ddts:
            self._add(d.values)
            self._add(d.candidate)

    def blank(self) -> Masker:
        """A masker with these rules and no value learnt: building the rules walks the
        program's prompts, which costs more than a session's replay, so a batch builds them
        once and masks each session by what that session held."""
        m = copy.copy(self)
        m.values = set()
        m._masked_prompts = set(self._masked_prompts)
        m._plain_prompts = set(self._plain_prompts)
        m._masked_sends = set(self._masked_sends)
        m._pattern = None
        return m

    def merge(self, other: Masker) -> None:
        """Hide what ``other`` (another program's masker) hides too: its sensitive DDTs and
        variables, its masked prompts and the values it learnt."""
        self.sensitive_ddts = self.sensitive_ddts | other.sensitive_ddts
        self.sensitive_vars = tuple(dict.fromkeys((*self.sensitive_vars, *other.sensitive_vars)))
        self._masked_prompts |= other._masked_prompts
        self._plain_prompts |= other._plain_prompts - self._masked_prompts
        self._masked_sends |= other._masked_sends
        self.values |= other.values
        self.everything = self.everything or other.everything
        self._pattern = None

    def learn_all(self, turns: Iterable[TurnView]) -> None:
        """Learn the replayed states of ``turns`` and the recorded ones (a diverging turn's
        record may hold values the replay never computed)."""
        for t in turns:
            self.learn(t.before)
            self.learn(t.after)
            if t.record.state is not None:
                self.learn(t.record.state)
            ev = t.record.event
            if isinstance(ev, StartEvent):
                for name, value in ev.variables.items():
                    if self._is_sensitive_var(tuple(name.split("."))):
                        self._add(value)

    def _is_sensitive_var(self, path: tuple[str, ...]) -> bool:
        if self.everything:
            return True
        return any(path[: len(sv)] == sv or sv[: len(path)] == path for sv in self.sensitive_vars)

    # -- masking --------------------------------------------------------------------

    def text(self, s: str) -> str:
        """Replace every learnt sensitive value inside ``s``."""
        if not self.values or not s:
            return s
        if self._pattern is None:
            alts = sorted(self.values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(a) for a in alts))
        return self._pattern.sub(MASK, s)

    def deep(self, data: Any) -> Any:
        """Mask every string leaf (and every leaf equal to a sensitive value) of JSON data.
        An action's fields that are sensitive by construction are masked whatever their
        value: an SMS or e-mail text rendered from a prompt that reads a sensitive variable,
        a transfer context entry naming a sensitive variable."""
        if isinstance(data, str):
            return MASK if data in self.values else self.text(data)
        if isinstance(data, Mapping):
            kind = data.get("type")
            if kind in ("send_sms", "send_email") or (
                kind == "transfer" and isinstance(data.get("context"), Mapping)
            ):
                data = self._action_fields(data)
            return {k: self.deep(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.deep(v) for v in data]
        if data is not None and not isinstance(data, bool) and str(data) in self.values:
            return MASK
        return data

    def _action_fields(self, d: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(d)
        kind = out["type"]
        if kind == "transfer":
            out["context"] = {
                k: (MASK if v is not None and self._is_sensitive_var(tuple(k.split("."))) else v)
                for k, v in out["context"].items()
            }
            return out
        for k, fld in self._masked_sends:
            if k == kind and isinstance(out.get(fld), str):
                out[fld] = MASK
        return out

    def memory(self, memory: Mapping[str, Any]) -> dict[str, Any]:
        if self.everything:
            return {k: MASK if v is not None else None for k, v in memory.items()}
        out: dict[str, Any] = dict(memory)
        for path in self.sensitive_vars:
            if get_path(out, path) is not None:
                out = set_path(out, path, MASK)
        return self.deep(out)  # type: ignore[no-any-return]

    def at_path(self, path: str, value: Any) -> Any:
        """``value`` masked for a state diff line at ``path`` (``memory.card.last4``,
        ``ddt.candidate`` …): a sensitive variable's value is ``***`` whatever it is."""
        if value is None:
            return None
        parts = tuple(path.split("."))
        if parts[0] == "memory" and self._is_sensitive_var(parts[1:]):
            return MASK
        if parts[0] == "ddt" and len(parts) > 1 and parts[1] in ("values", "candidate", "pending"):
            return MASK if self.sensitive_ddts or self.everything else self.deep(value)
        return self.deep(value)

    def in_sensitive_ddt(self, state: SessionState) -> bool:
        d = state.ddt
        return d is not None and (self.everything or d.ddt in self.sensitive_ddts)

    def prompt_masked(self, key: str | None) -> bool:
        if not key:
            return False
        if key in self._masked_prompts or key.rpartition("/")[0] in self._masked_prompts:
            return True
        if "/" in key and key.split("/", 1)[0] in self.sensitive_ddts:
            return key.rpartition("/")[0] not in self._plain_prompts
        return False

    def say_text(self, a: SayAction) -> str:
        return MASK if self.prompt_masked(a.prompt) else self.text(a.text)

    def action(self, a: Action, before: SessionState | None = None) -> dict[str, Any]:
        d = a.model_dump(mode="json")
        if isinstance(a, SayAction) and self.prompt_masked(a.prompt):
            d["text"] = MASK
            if d.get("ssml") is not None:
                d["ssml"] = MASK
            return d
        if d.get("type") == "extract" and before is not None and self.in_sensitive_ddt(before):
            d["text"] = MASK
        return self.deep(d)  # type: ignore[no-any-return]

    def event(self, ev: Event, before: SessionState) -> dict[str, Any]:
        d = ev.model_dump(mode="json")
        if self.in_sensitive_ddt(before):
            if isinstance(ev, UserInputEvent):
                d["text"] = MASK if ev.text else ""
                if ev.dtmf is not None:
                    d["dtmf"] = MASK
                d["nbest"] = [{**n, "text": MASK} for n in d.get("nbest", [])]
            elif isinstance(ev, ExtractionResultEvent) and ev.value is not None:
                d["value"] = MASK
        if isinstance(ev, StartEvent):
            d["variables"] = {
                k: (MASK if self._is_sensitive_var(tuple(k.split("."))) else v)
                for k, v in ev.variables.items()
            }
        return self.deep(d)  # type: ignore[no-any-return]

    def state(self, state: SessionState) -> dict[str, Any]:
        d = state.model_dump(mode="json")
        d["memory"] = self.memory(state.memory)
        if d.get("ddt") is not None and self.in_sensitive_ddt(state):
            ddt = d["ddt"]
            ddt["values"] = {k: MASK for k in ddt.get("values", {})}
            if ddt.get("candidate") is not None:
                ddt["candidate"] = MASK
            if ddt.get("pending") is not None:
                ddt["pending"] = MASK
        return self.deep(d)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- transcript


def _caller_text(ev: Event, masked: dict[str, Any]) -> str | None:
    if isinstance(ev, UserInputEvent):
        parts = []
        if ev.text:
            parts.append(str(masked["text"]))
        if ev.dtmf is not None:
            parts.append(f"[DTMF {masked['dtmf']}]")
        return " ".join(parts) if parts else "[empty input]"
    if ev.type == "no_input":
        return "[no input]"
    if ev.type == "hangup":
        return "[hung up]"
    return None


def _entries(
    result: ReplayResult, masker: Masker
) -> list[tuple[str, datetime, str, int, str | None]]:
    """(who: caller|bot|system, at, text, seq, prompt key) in order."""
    out: list[tuple[str, datetime, str, int, str | None]] = []
    for t in result.turns:
        ev = t.record.event
        masked = masker.event(ev, t.before)
        who = _caller_text(ev, masked)
        if who is not None:
            out.append(("caller", ev.at, who, t.seq, None))
        for a in t.actions:
            if isinstance(a, SayAction):
                out.append(("bot", ev.at, masker.say_text(a), t.seq, a.prompt))
            elif isinstance(a, TransferAction):
                out.append(("system", ev.at, f"[transfer to {a.target}]", t.seq, None))
            elif isinstance(a, EndAction):
                out.append(("system", ev.at, f"[end: {a.reason}]", t.seq, None))
    return out


def masker_for(result: ReplayResult, program: Program) -> Masker:
    """A masker for ``program`` that has learnt every state of ``result``."""
    masker = Masker(program)
    masker.learn_all(result.turns)
    return masker


def export_text(result: ReplayResult, program: Program) -> str:
    """A readable transcript: one line per utterance, sensitive values masked."""
    masker = masker_for(result, program)
    log = result.log
    final = result.final
    head = [
        f"session {log.session_id} (tenant {log.tenant})",
        f"program {log.program_id} ({program.project})",
    ]
    if final is not None:
        head.append(
            f"language {final.language}, channel {final.channel}, status {final.status}"
            + (f" ({final.reason})" if final.reason else "")
        )
    lines = [*head, ""]
    for who, at, text, _seq, _key in _entries(result, masker):
        lines.append(f"[{at.strftime('%H:%M:%S')}] {who:>6}: {text}")
    if final is not None and final.memory:
        lines.append("")
        lines.append("collected:")
        for k, v in sorted(flatten(masker.memory(final.memory)).items()):
            lines.append(f"  {k} = {_show(v)}")
    return "\n".join(lines) + "\n"


def _show(v: Any) -> str:
    return v if isinstance(v, str) else orjson.dumps(v).decode()


def export_json(result: ReplayResult, program: Program) -> dict[str, Any]:
    """The session as JSON: every turn's event and actions, the final state; masked."""
    masker = masker_for(result, program)
    final = result.final
    return {
        "session_id": result.log.session_id,
        "tenant": result.log.tenant,
        "program_id": result.log.program_id,
        "project": program.project,
        "verified": result.ok,
        "turns": [
            {
                "seq": t.seq,
                "at": _iso(t.record.event.at),
                "event": masker.event(t.record.event, t.before),
                "actions": [masker.action(a, t.before) for a in t.actions],
                "status": t.after.status,
                "critical": t.record.critical,
            }
            for t in result.turns
        ],
        "final": masker.state(final) if final is not None else None,
    }


def _iso(at: datetime) -> str:
    """ISO 8601 with a UTC offset, as vCon (RFC 3339) requires: a time recorded without a
    zone (a hand-written or third-party log) is read as UTC."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).isoformat()


def vcon_uuid(tenant: str, session_id: str) -> str:
    """A version 8 UUID from sha256 of ``ddtflow:<tenant>:<session id>``: the same session
    always exports under the same uuid."""
    raw = bytearray(hashlib.sha256(f"ddtflow:{tenant}:{session_id}".encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(raw)))


def export_vcon(result: ReplayResult, program: Program) -> dict[str, Any]:
    """A vCon (IETF JSON container for conversations): parties caller (0) and bot (1), one
    ``text`` dialog per utterance, and an analysis holding the collected data."""
    masker = masker_for(result, program)
    log = result.log
    final = result.final
    first_at = result.turns[0].record.event.at if result.turns else log.records[0].at
    parties = [
        {"name": "caller", "role": "customer"},
        {"name": f"ddtflow bot ({program.project})", "role": "agent"},
    ]
    dialog: list[dict[str, Any]] = []
    for who, at, text, _seq, _key in _entries(result, masker):
        if who == "system":
            continue
        idx = 0 if who == "caller" else 1
        dialog.append(
            {
                "type": "text",
                "start": _iso(at),
                "parties": [0, 1],
                "originator": idx,
                "mediatype": "text/plain",
                "body": text,
                "encoding": "none",
            }
        )
    collected = masker.memory(final.memory) if final is not None else {}
    outcome = {
        "status": final.status if final is not None else None,
        "reason": final.reason if final is not None else None,
        "language": final.language if final is not None else None,
        "channel": final.channel if final is not None else None,
    }
    return {
        "vcon": VCON_VERSION,
        "uuid": vcon_uuid(log.tenant, log.session_id),
        "created_at": _iso(first_at),
        "subject": f"{program.project} session {log.session_id}",
        "parties": parties,
        "dialog": dialog,
        "attachments": [],
        "analysis": [
            {
                "type": "collected_data",
                "dialog": list(range(len(dialog))),
                "vendor": "ddtflow",
                "product": program.id,
                "mediatype": "application/json",
                "encoding": "json",
                "body": orjson.dumps(
                    {"memory": collected, "outcome": outcome}, option=orjson.OPT_SORT_KEYS
                ).decode(),
            }
        ],
    }


def export_session(result: ReplayResult, program: Program, fmt: ExportFormat) -> str:
    """The export as text: a transcript, or indented JSON (``json``/``vcon``)."""
    if fmt == "text":
        return export_text(result, program)
    doc = export_json(result, program) if fmt == "json" else export_vcon(result, program)
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def masked_actions(masker: Masker, t: TurnView) -> list[dict[str, Any]]:
    return [masker.action(a, t.before) for a in t.actions]
