"""Conversation tests: YAML scripts of a conversation, run through the real driver.

A test file (``<project>/tests/*.yaml``) holds one test, or ``tests:`` with a list::

    name: happy path
    language: it            # default: the program's default language
    channel: voice          # chat (default) or voice
    at: 2026-03-02T09:00:00+01:00   # the fixed clock
    variables: {caller: "+393331234567"}
    backends:               # canned responses, in call order (the last one repeats)
      slots: [{status: 200, body: {slots: ["09:00"]}}]
      email: ok             # e-mail and SMS succeed unless said otherwise
    turns:
      - bot: "Buongiorno, …"         # no input: checks what the bot says at the start
      - user: "RSSMRA80A01H501U"
        bot: ["/codice fiscale/", "Grazie."]    # exact text, or /regex/ (searched)
        ssml: [~, "/<break/"]        # each say's SSML, matched as bot is; ~: it has none
        listen: {expect: date, confirming: true, timeout_ms: 8000}   # only the keys given
        barge_in: [~, false]         # each say's own barge_in; ~: not set (the listen's)
      - noinput: true
      - dtmf: "1234#"
        memory: {patient.cf: RSSMRA80A01H501U}
        status: waiting_input
    expect:
      status: ended
      reason: completed
      memory: {appointment.time: "09:00"}

Every test runs with a fresh in-memory store and writes its own JSONL turn log.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from ddt_engine.expressions import get_path
from runtime.driver import SessionDriver, TurnResponse
from runtime.effects import StubEffects, StubResponse
from runtime.orchestrator import new_session, run_step
from runtime.ports import RuntimeFault
from runtime.programs import LoadedProgram, ProgramNotFoundError
from runtime.sinks.jsonl import JsonlSink, read_turns
from runtime.stores.memory import MemoryStore
from schemas._base import unstorable
from schemas.actions import DtmfListen, ListenAction, SayAction
from schemas.events import Event, HangupEvent, NoInputEvent, UserInputEvent
from schemas.session import Status
from schemas.turns import TurnRecord

__all__ = [
    "ConvTest",
    "TestFileError",
    "TestResult",
    "Turn",
    "find_test_files",
    "load_tests",
    "run_test",
    "verify_replay",
]

TurnKind = Literal["start", "user", "noinput", "dtmf", "hangup"]


class TestFileError(RuntimeFault):
    """A conversation test file that cannot be read or does not follow the format."""

    __test__ = False
    code = "test_file_invalid"


@dataclass(frozen=True, slots=True)
class Turn:
    kind: TurnKind
    line: int
    text: str = ""
    dtmf: str | None = None
    bot: tuple[str, ...] | None = None
    ssml: tuple[str | None, ...] | None = None
    barge_in: tuple[bool | None, ...] | None = None
    listen: Mapping[str, Any] | None = None
    memory: Mapping[str, Any] | None = None
    status: str | None = None
    at: dt.datetime | None = None

    def describe(self) -> str:
        if self.kind == "user":
            return f"user: {self.text!r}"
        if self.kind == "dtmf":
            return f"dtmf: {self.dtmf!r}"
        return self.kind


@dataclass(frozen=True, slots=True)
class ConvTest:
    __test__ = False
    name: str
    file: Path
    line: int
    language: str | None
    channel: Literal["chat", "voice"]
    at: dt.datetime
    variables: Mapping[str, Any]
    backends: Mapping[str, list[StubResponse]]
    turns: tuple[Turn, ...]
    expect_status: str | None = None
    expect_reason: str | None = None
    expect_memory: Mapping[str, Any] | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class TestResult:
    __test__ = False
    test: ConvTest
    failures: list[str] = field(default_factory=list)
    log: Path | None = None
    records: list[TurnRecord] = field(default_factory=list)
    traces: list[list[int]] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (who, text)
    declared: Collection[str] = ()  # the program's variables, for memory expectations

    @property
    def ok(self) -> bool:
        return not self.failures


# --------------------------------------------------------------------------- loading


class _LineDict(dict[str, Any]):
    line = 0


MAX_TEST_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_ELEMENTS = 100_000  # after expanding aliases

_INPUT_KEYS = ("user", "dtmf")
_STD = "tag:yaml.org,2002:"
_BOOL, _INT, _FLOAT, _TIMESTAMP = (_STD + t for t in ("bool", "int", "float", "timestamp"))


class _Loader(yaml.SafeLoader):
    """Safe YAML with the scalars of YAML 1.2, as the compiler reads a project: ``yes``,
    ``no``, ``on``, ``off`` stay words and ``0123`` is 123 (YAML 1.1 read a boolean and an
    octal number); what the caller says or keys in is the text written (see ``_turn``)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as e:
        raise _FileProblem(
            problem=f"invalid date {node.value!r}: {e}", problem_mark=node.start_mark
        ) from None


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _LineDict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            raise _FileProblem(
                problem="a key must be a plain value", problem_mark=key_node.start_mark
            )
        if key in seen:
            raise _FileProblem(
                problem=f"key {key!r} defined twice (first at line {seen[key]})",
                problem_mark=key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    d = _LineDict(loader.construct_pairs(node, deep=True))
    d.line = node.start_mark.line + 1
    for key_node, value_node in node.value:  # what the caller says or keys in: as written
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key in _INPUT_KEYS and isinstance(d.get(key), int | float):  # bool is an int
            d[key] = value_node.value  # `dtmf: 0123` is 0123, `user: 1.50` is 1.50
    return d


_Loader.add_constructor(_INT, _construct_int)
_Loader.add_constructor(_TIMESTAMP, _construct_timestamp)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


class _FileProblem(yaml.MarkedYAMLError):
    """A well-formed YAML file this loader refuses (limits, a key twice, a bad date)."""


def _limit_error(message: str, mark: Any) -> _FileProblem:
    return _FileProblem(problem=message, problem_mark=mark)


def _check_limits(raw: str) -> None:
    """Nesting depth (from the event stream: no recursion) and alias expansion, before any
    Python object is built, so that a deep or "billion laughs" file is refused at once."""
    depth = 0
    aliases = False
    for ev in yaml.parse(raw, Loader=_Loader):
        if isinstance(ev, yaml.AliasEvent):
            aliases = True
        elif isinstance(ev, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _limit_error(f"nested deeper than {MAX_DEPTH} levels", ev.start_mark)
        elif isinstance(ev, yaml.CollectionEndEvent):
            depth -= 1
    node = yaml.compose(raw, Loader=_Loader)
    if node is None:
        return
    size: dict[int, int] = {}  # node id -> elements once expanded (aliases share nodes)
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        n, done = stack.pop()
        if id(n) in size:
            continue
        children: list[yaml.Node] = []
        if isinstance(n, yaml.SequenceNode):
            children = list(n.value)
        elif isinstance(n, yaml.MappingNode):
            children = [x for pair in n.value for x in pair]
        if not done:
            stack.append((n, True))
            stack.extend((c, False) for c in children if id(c) not in size)
            continue
        size[id(n)] = 1 + sum(size[id(c)] for c in children)
        if size[id(n)] > MAX_ELEMENTS:
            what = (
                "YAML aliases expand to"
                if aliases
                else "the file holds"  # no alias at all: it is simply that big
            )
            raise _limit_error(
                f"{what} more than {MAX_ELEMENTS:,} elements; split it into several test files",
                n.start_mark,
            )


def _plain(v: Any) -> Any:
    """YAML dates/times become the ISO strings memory holds; maps become plain dicts."""
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _at(v: Any, where: str) -> dt.datetime:
    if isinstance(v, dt.datetime):
        t = v
    elif isinstance(v, dt.date):
        t = dt.datetime(v.year, v.month, v.day, 9, 0)
    elif isinstance(v, str):
        try:
            t = dt.datetime.fromisoformat(v)
        except ValueError:
            raise TestFileError(f"{where}: 'at' is not an ISO date-time: {v!r}") from None
    else:
        raise TestFileError(
            f"{where}: 'at' must be an ISO date-time such as 2026-03-02T09:00:00+01:00"
        )
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


_TEST_KEYS = {"name", "language", "channel", "at", "variables", "backends", "turns", "expect"}
_TURN_KEYS = {
    "user",
    "noinput",
    "dtmf",
    "hangup",
    "bot",
    "ssml",
    "barge_in",
    "listen",
    "memory",
    "status",
    "at",
}
_EXPECT_KEYS = {"status", "reason", "memory"}


def _check_keys(d: Mapping[str, Any], allowed: set[str], where: str, what: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise TestFileError(
            f"{where}: unknown key(s) in {what}: {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def _check_regexes(texts: tuple[str | None, ...], key: str, where: str) -> None:
    for text in texts:
        if text is not None and len(text) >= 2 and text.startswith("/") and text.endswith("/"):
            try:
                re.compile(text[1:-1])
            except re.error as e:
                raise TestFileError(
                    f"{where}: bad regular expression in '{key}' {text!r}: {e}"
                ) from None


def _bot(v: Any, where: str) -> tuple[str, ...]:
    if isinstance(v, str):
        texts: tuple[str, ...] = (v,)
    elif isinstance(v, list) and all(isinstance(x, str) for x in v):
        texts = tuple(v)
    else:
        raise TestFileError(f"{where}: 'bot' is a text or a list of texts")
    _check_regexes(texts, "bot", where)
    return texts


def _barge_in(v: Any, where: str) -> tuple[bool | None, ...]:
    """``barge_in:`` one entry per say: true, false, or ~ for a say that does not set it
    (it follows the turn's listen); a single value for a turn with one say."""
    values = v if isinstance(v, list) else [v]
    if not all(x is None or isinstance(x, bool) for x in values):
        raise TestFileError(
            f"{where}: 'barge_in' is true, false or ~, or a list of them, one per say "
            "(~ for a say that does not set it)"
        )
    return tuple(values)


def _ssml(v: Any, where: str) -> tuple[str | None, ...]:
    """``ssml:`` as ``bot:``, one entry per say; ``~`` (null) for a say with no SSML."""
    if isinstance(v, str):
        texts: tuple[str | None, ...] = (v,)
    elif isinstance(v, list) and all(x is None or isinstance(x, str) for x in v):
        texts = tuple(v)
    else:
        raise TestFileError(
            f"{where}: 'ssml' is an SSML text or a list of them, one per say "
            f"(~ for a say with no SSML)"
        )
    _check_regexes(texts, "ssml", where)
    return texts


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _listen_dtmf(x: Any) -> bool:
    if x is None:
        return True
    if not isinstance(x, Mapping) or set(x) - {"max_digits", "finish_key"}:
        return False
    return ("max_digits" not in x or _is_int(x["max_digits"])) and (
        x.get("finish_key") is None or isinstance(x["finish_key"], str)
    )


# the fields of the listen action a test may check, each with what its value must be
_LISTEN_FIELDS: dict[str, tuple[Any, str]] = {
    "expect": (lambda x: isinstance(x, str), "a data type name such as date"),
    "timeout_ms": (_is_int, "a whole number of milliseconds"),
    "barge_in": (lambda x: isinstance(x, bool), "true or false"),
    "confirming": (lambda x: isinstance(x, bool), "true or false"),
    "hints": (
        lambda x: isinstance(x, list) and all(isinstance(h, str) for h in x),
        "a list of phrases",
    ),
    "dtmf": (_listen_dtmf, "~ (no keys) or {max_digits: 4, finish_key: '#'}"),
}


def _listen(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, Mapping) or not v:
        raise TestFileError(
            f"{where}: 'listen' maps fields of the listen action to their expected values, "
            f"such as {{expect: date, confirming: true}}"
        )
    _check_keys(v, set(_LISTEN_FIELDS), where, "listen")
    for key, value in v.items():
        ok, what = _LISTEN_FIELDS[key]
        if not ok(value):
            raise TestFileError(f"{where}: listen {key} is {what}, not {value!r}")
    return {k: _plain(x) for k, x in v.items()}


_STATUSES = get_args(Status)


def _status(v: Any, where: str) -> str | None:
    if v is None or v in _STATUSES:
        return v  # type: ignore[no-any-return]
    raise TestFileError(f"{where}: status {v!r} is not one of {', '.join(_STATUSES)}")


def _turn(d: Any, file: Path, index: int, default_line: int) -> Turn:
    line = getattr(d, "line", default_line)
    where = f"{file}:{line}"
    if not isinstance(d, Mapping):
        raise TestFileError(f"{where}: turn {index + 1} must be a mapping such as {{user: ciao}}")
    _check_keys(d, _TURN_KEYS, where, f"turn {index + 1}")
    inputs = [k for k in ("user", "noinput", "dtmf", "hangup") if k in d]
    if len(inputs) > 1:
        raise TestFileError(f"{where}: a turn has one input, not {', '.join(inputs)}")
    for flag in ("noinput", "hangup"):
        if flag in d and d[flag] is not True:
            written = {False: "false", None: "null"}.get(d[flag], d[flag])
            raise TestFileError(
                f"{where}: '{flag}: {written}' is not a turn; write '{flag}: true' (the caller "
                f"{'stays silent' if flag == 'noinput' else 'hangs up'}), or leave it out"
            )
    kind: TurnKind = "start"
    text, dtmf = "", None
    if inputs:
        kind = inputs[0]  # type: ignore[assignment]
        if kind == "user":
            if not isinstance(d["user"], str | int | float):
                raise TestFileError(f"{where}: 'user' is the caller's text")
            text = str(d["user"])
        elif kind == "dtmf":
            dtmf = str(d["dtmf"])
            if not re.fullmatch(r"[0-9*#]+", dtmf):
                raise TestFileError(f"{where}: 'dtmf' holds only digits, * and #: {dtmf!r}")
    elif index > 0:
        raise TestFileError(
            f"{where}: turn {index + 1} has no input (user, noinput, dtmf or hangup); only "
            f"the first turn may check the greeting"
        )
    memory = d.get("memory")
    if memory is not None and not isinstance(memory, Mapping):
        raise TestFileError(f"{where}: 'memory' maps variables to expected values")
    return Turn(
        kind=kind,
        line=line,
        text=text,
        dtmf=dtmf,
        bot=_bot(d["bot"], where) if "bot" in d else None,
        ssml=_ssml(d["ssml"], where) if "ssml" in d else None,
        barge_in=_barge_in(d["barge_in"], where) if "barge_in" in d else None,
        listen=_listen(d["listen"], where) if "listen" in d else None,
        memory=_plain(memory) if memory is not None else None,
        status=_status(d.get("status"), where),
        at=_at(d["at"], where) if "at" in d else None,
    )


def _json_value(v: Any, where: str, what: str) -> Any:
    """``v`` when a session can hold it (``schemas._base.unstorable``), else a broken test
    file. (A canned answer with an integer beyond 64 bits stopped ``ddtflow test`` with a
    traceback: the state's digest cannot serialise it.)"""
    found = unstorable(v, 64)
    if found is not None:
        why, at = found
        raise TestFileError(f"{where}: {what}{' ' + at if at else ''}: {why}")
    return v


def _backends(v: Any, where: str) -> dict[str, list[StubResponse]]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise TestFileError(f"{where}: 'backends' maps backend names to canned responses")
    out: dict[str, list[StubResponse]] = {}
    for name, resp in v.items():
        items = resp if isinstance(resp, list) else [resp]
        _json_value(_plain(items), where, f"backend {name!r}")
        try:
            out[str(name)] = [StubResponse.parse(_plain(x)) for x in items]
        except ValueError as e:
            raise TestFileError(f"{where}: backend {name!r}: {e}") from None
    return out


def _test(d: Any, file: Path, n: int) -> ConvTest:
    line = getattr(d, "line", 1)
    where = f"{file}:{line}"
    if not isinstance(d, Mapping):
        raise TestFileError(f"{where}: a test is a mapping with name, turns, …")
    _check_keys(d, _TEST_KEYS, where, "a test")
    turns_raw = d.get("turns")
    if not isinstance(turns_raw, list) or not turns_raw:
        raise TestFileError(f"{where}: a test needs 'turns', a non-empty list")
    expect = d.get("expect") or {}
    if not isinstance(expect, Mapping):
        raise TestFileError(f"{where}: 'expect' is a mapping (status, reason, memory)")
    _check_keys(expect, _EXPECT_KEYS, where, "expect")
    channel = d.get("channel", "chat")
    if channel not in ("chat", "voice"):
        raise TestFileError(f"{where}: channel is chat or voice, not {channel!r}")
    variables = d.get("variables") or {}
    if not isinstance(variables, Mapping):
        raise TestFileError(f"{where}: 'variables' maps variable names to values")
    if "at" not in d:
        raise TestFileError(f"{where}: a test needs a fixed clock 'at' (ISO date-time)")
    return ConvTest(
        name=str(d.get("name") or f"{file.stem} #{n + 1}"),
        file=file,
        line=line,
        language=d.get("language"),
        channel=channel,
        at=_at(d["at"], where),
        variables=_json_value(_plain(variables), where, "variables"),
        backends=_backends(d.get("backends"), where),
        turns=tuple(_turn(t, file, i, line) for i, t in enumerate(turns_raw)),
        expect_status=_status(expect.get("status"), where),
        expect_reason=expect.get("reason"),
        expect_memory=_plain(expect.get("memory")) if expect.get("memory") else None,
    )


def load_tests(path: str | Path) -> list[ConvTest]:
    """The tests of one YAML file; TestFileError with file:line on any problem."""
    p = Path(path)
    try:
        blob = p.read_bytes()
    except OSError as e:
        raise TestFileError(f"{p}: cannot read: {e.strerror}") from None
    if len(blob) > MAX_TEST_BYTES:
        raise TestFileError(f"{p}: too large: {len(blob):,} bytes (limit {MAX_TEST_BYTES:,})")
    try:
        raw = blob.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TestFileError(
            f"{p}: not UTF-8 text (byte 0x{blob[e.start]:02x} at offset {e.start}); "
            "save the file as UTF-8"
        ) from None
    try:
        _check_limits(raw)
        data = yaml.load(raw, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        what = "" if isinstance(e, _FileProblem) else "not valid YAML: "
        raise TestFileError(f"{p}{pos}: {what}{problem}") from None
    if data is None:
        raise TestFileError(f"{p}: the file is empty; a test has name, at, turns, …")
    if isinstance(data, list):
        raise TestFileError(f"{p}:1: a list of tests goes under 'tests:' (tests: [{{…}}, …])")
    if isinstance(data, Mapping) and "tests" in data:
        items = data["tests"]
        if not isinstance(items, list):
            raise TestFileError(f"{p}: 'tests' must be a list of tests")
        if not items:
            raise TestFileError(f"{p}: 'tests' is empty: the file tests nothing")
        return [_test(t, p, i) for i, t in enumerate(items)]
    return [_test(data, p, 0)]


def find_test_files(project: str | Path) -> list[Path]:
    """``tests/*.yaml`` (and ``*.yml``) next to the project, sorted."""
    p = Path(project)
    base = p if p.is_dir() else p.parent
    d = base / "tests"
    return sorted([*d.glob("*.yaml"), *d.glob("*.yml")]) if d.is_dir() else []


# --------------------------------------------------------------------------- running


def _matches(expected: str, got: str) -> bool:
    if len(expected) >= 2 and expected.startswith("/") and expected.endswith("/"):
        try:
            return re.search(expected[1:-1], got, re.DOTALL) is not None
        except re.error:
            return False
    return expected == got


_NONE = "(no SSML)"  # how an expected ``~`` and a say with no SSML are shown


def _matches_or_none(expected: str | None, got: str | None) -> bool:
    """An SSML entry: ``~`` matches a say with no SSML and nothing else."""
    if expected is None or got is None:
        return expected is None and got is None
    return _matches(expected, got)


def _diff_bot(
    expected: Sequence[str | None],
    got: Sequence[str | None],
    what: str = "bot said",
    texts: Sequence[str] = (),
) -> list[str]:
    """The lines of a ``- expected`` / ``+ got`` diff, empty when every entry matches;
    ``None`` (an SSML check only) is a say with no SSML, shown with its text (``texts``)."""

    def shown(i: int) -> str:
        g = got[i]
        if g is not None:
            return g
        return f"{_NONE} text: {texts[i]}" if i < len(texts) else _NONE

    if len(expected) == len(got) and all(
        _matches_or_none(e, g) for e, g in zip(expected, got, strict=True)
    ):
        return []
    lines = [f"  {what}:"]
    for i in range(max(len(expected), len(got))):
        has_e, has_g = i < len(expected), i < len(got)
        e = expected[i] if has_e else None
        g = got[i] if has_g else None
        if has_e and has_g and _matches_or_none(e, g):
            lines.append(f"      {shown(i)}")
            continue
        if has_e:
            lines.append(f"    - {_NONE if e is None else e}")
        if has_g:
            lines.append(f"    + {shown(i)}")
    return lines


def _diff_listen(expected: Mapping[str, Any], resp: TurnResponse) -> list[str]:
    listens = [a for a in resp.actions if isinstance(a, ListenAction)]
    if not listens:
        return [f"  listen: expected a listen action, the turn has none (status {resp.status})"]
    listen = listens[-1]  # a turn's last listen is the one the gateway waits on
    lines = []
    for key, want in expected.items():
        have: Any = getattr(listen, key)
        if isinstance(have, DtmfListen):
            have = have.model_dump(mode="json")
            if isinstance(want, Mapping):
                have = {k: have[k] for k in want}  # the keys given only
        elif isinstance(have, tuple):
            have = list(have)
        if have != want:
            lines.append(f"  listen {key}: expected {_yaml(want)}, got {_yaml(have)}")
    return lines


def _yaml(v: Any) -> str:
    """A value as a test file writes it: true, false, ~, 8000, 'date', [...]."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "~"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {_yaml(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_yaml(x) for x in v) + "]"
    return repr(v)


def _unknown_variable(path: str, declared: Collection[str]) -> str | None:
    """Why ``path`` names no variable of the project (a typo in a test), else None: a path
    is a declared variable or a part of one (``slots.0.time`` in ``slots``)."""
    if not declared or any(path == v or path.startswith(v + ".") for v in declared):
        return None
    close = difflib.get_close_matches(path, sorted(declared), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"not a variable of the project{hint}"


def _diff_memory(
    expected: Mapping[str, Any], memory: Mapping[str, Any], declared: Collection[str] = ()
) -> list[str]:
    lines: list[str] = []
    for var, want in expected.items():
        unknown = _unknown_variable(var, declared)
        if unknown is not None:
            lines.append(f"  memory {var}: {unknown}")
            continue
        got = get_path(memory, tuple(var.split(".")))
        if got != want:
            shown = "nothing (not set)" if got is None else repr(got)
            lines.append(f"  memory {var}: expected {want!r}, got {shown}")
    return lines


def _texts(resp: TurnResponse) -> list[str]:
    return [a.text for a in resp.actions if isinstance(a, SayAction)]


def _ssmls(resp: TurnResponse) -> list[str | None]:
    return [a.ssml for a in resp.actions if isinstance(a, SayAction)]


def _event(turn: Turn, at: dt.datetime) -> Event:
    if turn.kind == "user":
        return UserInputEvent(at=at, text=turn.text)
    if turn.kind == "dtmf":
        return UserInputEvent(at=at, text="", dtmf=turn.dtmf)
    if turn.kind == "noinput":
        return NoInputEvent(at=at)
    return HangupEvent(at=at)


async def run_test(loaded: LoadedProgram, test: ConvTest, log: Path) -> TestResult:
    """Run one conversation test through the driver (memory store, JSONL log at ``log``)."""
    result = TestResult(test=test, log=log, declared=tuple(loaded.program.variables))
    if log.exists():
        log.unlink()
    now = [test.at]

    def observe(rec: TurnRecord, trace: list[int]) -> None:
        result.records.append(rec)
        result.traces.append(trace)

    sink = JsonlSink(log)
    driver = SessionDriver(
        MemoryStore(),
        sink,
        _Single(loaded),
        StubEffects(test.backends),
        clock=lambda: now[0],
        observer=observe,
        new_id=lambda: "test-" + re.sub(r"[^a-z0-9]+", "-", test.name.lower()).strip("-"),
    )
    fails = result.failures
    try:
        resp = await driver.start(
            "default",
            loaded,
            language=test.language,
            channel=test.channel,
            variables=test.variables,
        )
        turns = list(test.turns)
        if turns and turns[0].kind == "start":
            _check_turn(
                result, turns.pop(0), resp, 0, await driver.state("default", resp.session_id)
            )
        else:
            result.transcript.extend(("bot", t) for t in _texts(resp))
        for i, turn in enumerate(turns, start=len(test.turns) - len(turns)):
            if turn.at is not None:
                now[0] = turn.at
            result.transcript.append(("user", turn.describe()))
            try:
                resp = await driver.turn(
                    "default", resp.session_id, _event(turn, now[0]), expected_seq=resp.seq
                )
            except RuntimeFault as e:
                fails.append(f"turn {i + 1} ({turn.describe()}) at line {turn.line}: {e.message}")
                break
            _check_turn(result, turn, resp, i, await driver.state("default", resp.session_id))
        state = await driver.state("default", resp.session_id)
        if test.expect_status is not None and state.status != test.expect_status:
            why = f" ({state.reason})" if state.reason else ""
            fails.append(f"final status: expected {test.expect_status}, got {state.status}{why}")
        if test.expect_reason is not None and state.reason != test.expect_reason:
            fails.append(f"final reason: expected {test.expect_reason!r}, got {state.reason!r}")
        if test.expect_memory:
            fails.extend(_diff_memory(test.expect_memory, state.memory, loaded.program.variables))
    except RuntimeFault as e:
        fails.append(f"the session could not run: {e.message}")
    finally:
        await sink.close()
    return result


def _check_turn(result: TestResult, turn: Turn, resp: TurnResponse, i: int, state: Any) -> None:
    texts = _texts(resp)
    result.transcript.extend(("bot", t) for t in texts)
    lines: list[str] = []
    if turn.bot is not None:
        lines.extend(_diff_bot(turn.bot, texts))
    if turn.ssml is not None:
        lines.extend(_diff_bot(turn.ssml, _ssmls(resp), "ssml said", texts))
    if turn.barge_in is not None:
        have = [a.barge_in for a in resp.actions if isinstance(a, SayAction)]
        if list(turn.barge_in) != have:
            lines.append(
                f"  barge_in of each say: expected {_yaml(list(turn.barge_in))}, "
                f"got {_yaml(have)} (says: {texts!r})"
            )
    if turn.listen is not None:
        lines.extend(_diff_listen(turn.listen, resp))
    if turn.memory is not None:
        lines.extend(_diff_memory(turn.memory, state.memory, result.declared))
    if turn.status is not None and state.status != turn.status:
        lines.append(f"  status: expected {turn.status}, got {state.status}")
    if lines:
        result.failures.append(
            f"turn {i + 1} ({turn.describe()}) at line {turn.line}:\n" + "\n".join(lines)
        )


class _Single:
    """A registry of exactly one loaded program (the one under test)."""

    def __init__(self, loaded: LoadedProgram) -> None:
        self.loaded = loaded

    def get(self, name_or_id: str) -> LoadedProgram:
        if name_or_id != self.loaded.id:
            raise ProgramNotFoundError(f"unknown program {name_or_id!r}")
        return self.loaded


def verify_replay(loaded: LoadedProgram, log: Path) -> str | None:
    """Replay a JSONL turn log through ``step``; None when every digest matches, else where
    it first diverges."""
    state = None
    for rec in read_turns(log):
        if state is None:
            if rec.event.type != "start":
                return f"{log}: the first record (seq {rec.seq}) is not a start event"
            first = rec.state
            state = new_session(
                loaded.program,
                rec.session_id,
                tenant=rec.tenant,
                language=first.language if first else None,
                channel=first.channel if first else "chat",
            )
        try:
            r = run_step(
                loaded.program, state, rec.event, engine=loaded.engine, plugins=loaded.plugins
            )
        except RuntimeFault as e:
            return f"{log}: seq {rec.seq}: replay raised {e.code}: {e.message}"
        state = r.state
        if state.seq != rec.seq:
            return f"{log}: seq {rec.seq}: replay is at seq {state.seq}"
        if state.digest() != rec.state_digest:
            return f"{log}: seq {rec.seq} ({rec.event.type}): state digest differs"
        if [a.model_dump(mode="json") for a in r.actions] != [
            a.model_dump(mode="json") for a in rec.actions
        ]:
            return f"{log}: seq {rec.seq} ({rec.event.type}): actions differ"
    return None
