"""Stage 1, load: YAML/JSON files (or a directory of them) -> one document plus positions.

YAML is read as an event stream (libyaml when available) and composed here, iteratively,
so that nesting depth, alias expansion and tags are checked while parsing; nothing is
constructed from tags (no Python objects). Plain scalars follow the YAML 1.2 core schema:
``yes``/``no``/``on``/``off`` stay strings, ``09:30`` stays a string, dates stay strings.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from compiler.source import Key, Path, Pos, SourceFile, SourceMap, pointer
from schemas.diagnostics import Diagnostic

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
MAX_FILES = 1000
MAX_DEPTH = 64
MAX_ALIAS_ELEMENTS = 10_000
MAX_ELEMENTS = 2_000_000
EXTENSIONS = (".yaml", ".yml", ".json")
IGNORED_DIRS = frozenset({"tests", "node_modules", "__pycache__"})

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq")} | {"!"}


@dataclass
class LoadResult:
    """The merged document (None when nothing usable was read), positions, diagnostics."""

    data: dict[str, Any] | None
    source: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _Stop(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


@dataclass
class _Doc:
    value: Any
    values: dict[Path, Pos]
    keys: dict[Path, Pos]
    problems: list[Diagnostic] = field(default_factory=list)


_WORDS = frozenset(["null", "Null", "NULL", "nan"]) | frozenset(_BOOL)


def _resolve_plain(text: str) -> Any:
    first = text[:1]
    if first.isalpha() and text not in _WORDS:  # most scalars: ids, words, sentences
        return text
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return int(text)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.match(text):
        return float("nan")
    return text


def _by_tag(tag: str, text: str) -> Any:
    kind = tag[len(_STD) :]
    if kind == "str":
        return text
    value = _resolve_plain(text)
    want: dict[str, tuple[type, ...]] = {
        "int": (int,),
        "float": (int, float),
        "bool": (bool,),
        "null": (type(None),),
    }
    types_ = want.get(kind)
    if types_ is not None and isinstance(value, types_):
        if kind != "bool" and isinstance(value, bool):
            raise ValueError(f"'{text}' is not a valid !!{kind}")
        return float(value) if kind == "float" and isinstance(value, int | float) else value
    raise ValueError(f"'{text}' is not a valid !!{kind}")


class _Composer:
    """Builds plain Python values from parser events with positions, iteratively."""

    def __init__(self, src: SourceFile, diag: _DiagFn) -> None:
        self.src = src
        self.diag = diag
        self.values: dict[Path, Pos] = {}
        self.keys: dict[Path, Pos] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.count = 0
        self.alias_elements = 0
        self.problems: list[Diagnostic] = []  # errors that do not stop the reading

    def pos(self, ev: Any, style: str | None = None) -> Pos:
        s, e = ev.start_mark, ev.end_mark
        return Pos(self.src.rel, s.line + 1, s.column + 1, e.line + 1, e.column + 1, style)

    def fail(self, code: str, ev: Any, message: str, hint: str | None = None) -> _Stop:
        p = self.pos(ev)
        return _Stop(self.diag(code, p.line, p.col, message, hint))

    def compose(self, events: Iterator[Any]) -> Any:
        # frame: [container, path, pending key or None, key pos, anchor, count at start]
        stack: list[list[Any]] = []
        root: list[Any] = []
        docs = 0
        scalar_event = yaml.ScalarEvent
        for ev in events:
            if type(ev) is scalar_event:  # the common case first
                value = self.scalar(ev)
                if ev.anchor:
                    self.anchors[ev.anchor] = (value, 1)
                self.count += 1
                self.add(stack, root, value, self.pos(ev, ev.style or ""), ev, raw=ev.value)
                continue
            if isinstance(ev, yaml.DocumentStartEvent):
                docs += 1
                if docs > 1:
                    raise self.fail(
                        "E004",
                        ev,
                        "more than one YAML document in one file",
                        "split the documents into separate files",
                    )
                continue
            if isinstance(ev, yaml.ScalarEvent | yaml.AliasEvent):
                if isinstance(ev, yaml.AliasEvent):
                    value, size = self.alias(ev)
                    style: str | None = None
                else:
                    value, size = self.scalar(ev), 1
                    style = ev.style or ""
                    if ev.anchor:
                        self.anchors[ev.anchor] = (value, 1)
                self.count += size
                self.add(
                    stack, root, value, self.pos(ev, style), ev, raw=getattr(ev, "value", None)
                )
            elif isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                self.check_tag(ev)
                if len(stack) >= MAX_DEPTH:
                    raise self.fail(
                        "E008",
                        ev,
                        f"nesting deeper than {MAX_DEPTH} levels",
                        "a project is a few levels deep; this is not a project file",
                    )
                container: Any = {} if isinstance(ev, yaml.MappingStartEvent) else []
                self.count += 1
                if self.count > MAX_ELEMENTS:
                    raise self.fail("E002", ev, f"more than {MAX_ELEMENTS:,} elements")
                path = self.add(stack, root, container, self.pos(ev), ev)
                stack.append([container, path, None, None, ev.anchor, self.count])
            elif isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                frame = stack.pop()
                if frame[4]:
                    self.anchors[frame[4]] = (frame[0], self.count - frame[5] + 1)
        return root[0] if root else _EMPTY

    def check_tag(self, ev: Any) -> None:
        tag = getattr(ev, "tag", None)
        if tag and tag not in _ALLOWED_TAGS:
            raise self.fail(
                "E009",
                ev,
                f"YAML tag '{tag}' is not allowed",
                "only plain YAML data is accepted (no object tags)",
            )

    def scalar(self, ev: Any) -> Any:
        if ev.tag is not None:
            self.check_tag(ev)
        if self.count > MAX_ELEMENTS:
            raise self.fail("E002", ev, f"more than {MAX_ELEMENTS:,} elements")
        if ev.tag and ev.tag.startswith(_STD):
            try:
                return _by_tag(ev.tag, ev.value)
            except ValueError as exc:
                raise self.fail("E009", ev, str(exc)) from None
        if ev.style or ev.tag == "!":
            return ev.value
        return _resolve_plain(ev.value)

    def brace_hint(self, ev: Any) -> str | None:
        """A value that starts with '{{' is a YAML mapping in a mapping, not a template."""
        line = self.src.line(ev.start_mark.line + 1) or ""
        if line[ev.start_mark.column - 1 : ev.start_mark.column + 1] == "{{":
            return "a value that starts with '{{' is read as YAML: put the text in quotes"
        return None

    def no_value(self, key: str, kpos: Pos) -> None:
        """A key written without ':' in { … }: almost always a ',' inside an unquoted text
        ({it: Ciao, come stai?}), which YAML reads as a second key with no value."""
        shown = key if len(key) <= 40 else key[:37] + "..."
        self.problems.append(
            self.diag(
                "E004",
                kpos.line,
                kpos.col,
                f"'{shown}' has no ':' and no value: a ',' in {{ … }} ends the text before it",
                'put a text holding commas in quotes: {it: "Ciao, come stai?"}',
            )
        )

    def merge_key(self, pos: Pos) -> None:
        """A YAML 1.1 merge key: an error that says so (YAML 1.2 has no merge keys, so it
        would otherwise be an ordinary key, reported as an unknown field)."""
        self.problems.append(
            self.diag(
                "E011",
                pos.line,
                pos.col,
                "YAML merge keys ('<<') are not supported: the project is read as YAML 1.2",
                "write the fields out here, or reuse a whole value with an alias "
                "(dtmf: *common_dtmf)",
            )
        )

    def alias(self, ev: Any) -> tuple[Any, int]:
        if ev.anchor not in self.anchors:
            raise self.fail("E007", ev, f"alias '*{ev.anchor}' refers to no anchor")
        value, size = self.anchors[ev.anchor]
        self.alias_elements += size
        if self.alias_elements > MAX_ALIAS_ELEMENTS:
            raise self.fail(
                "E007",
                ev,
                f"YAML aliases expand to more than {MAX_ALIAS_ELEMENTS:,} elements",
                "an alias bomb? write the data out, or use fewer aliases",
            )
        return value, size

    def add(
        self,
        stack: list[list[Any]],
        root: list[Any],
        value: Any,
        pos: Pos,
        ev: Any,
        raw: str | None = None,
    ) -> Path:
        if not stack:
            root.append(value)
            self.values[()] = pos
            return ()
        frame = stack[-1]
        container, path = frame[0], frame[1]
        if isinstance(container, list):
            p: Path = (*path, len(container))
            container.append(value)
            self.values[p] = pos
            return p
        if frame[2] is None:
            if isinstance(value, dict | list):
                raise self.fail(
                    "E004",
                    ev,
                    "a mapping key must be a plain value, not a collection",
                    self.brace_hint(ev),
                )
            key = raw if raw is not None else str(value)
            kp: Path = (*path, key)
            if key == "<<" and pos.style == "":
                self.merge_key(pos)
            if key in container:
                first = self.keys[kp]
                raise self.fail(
                    "E010",
                    ev,
                    f"key '{key}' defined twice (first at line {first.line})",
                    "remove or rename one of them",
                )
            frame[2], frame[3] = key, pos
            return kp
        key = frame[2]
        vp: Path = (*path, key)
        kpos = frame[3]
        if raw == "" and pos.style == "" and (pos.line, pos.col) == (kpos.end_line, kpos.end_col):
            self.no_value(key, kpos)
        container[key] = value
        self.keys[vp] = frame[3]
        self.values[vp] = pos
        frame[2] = frame[3] = None
        return vp


_EMPTY = object()


class _DiagFn:
    """Builds file-level diagnostics for one source file."""

    def __init__(self, src: SourceFile) -> None:
        self.src = src

    def __call__(
        self, code: str, line: int, col: int, message: str, hint: str | None = None
    ) -> Diagnostic:
        return Diagnostic(
            code=code,
            severity="error",
            file=self.src.display,
            line=line,
            col=col,
            end_col=col + 1 if col else 0,
            message=message,
            hint=hint,
            snippet=self.src.line(line) if line else None,
        )


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, len(data[start:offset].decode("utf-8", "replace")) + 1


def _decode(raw: bytes, src: SourceFile, diag: _DiagFn) -> str:
    if b"\x00" in raw:
        line, col = _line_col(raw, raw.index(b"\x00"))
        raise _Stop(
            diag(
                "E003",
                line,
                col,
                "binary file: contains NUL bytes",
                "a project file is UTF-8 text (YAML or JSON)",
            )
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise _Stop(
            diag(
                "E003",
                line,
                col,
                f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                "save the file as UTF-8",
            )
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _json_error(text: str, diag: _DiagFn) -> Diagnostic | None:
    if not text.strip():
        return None  # reported as an empty file
    try:
        json.loads(text)
    except RecursionError:
        return None  # the YAML pass below reports the depth with its position
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            return diag("E004", exc.lineno, exc.colno, f"JSON syntax error: {exc.msg}")
        return diag("E004", 1, 1, f"JSON syntax error: {exc}")
    return None


def _syntax_hint(problem: str, hint: str | None, line: str, col: int) -> tuple[str, str | None]:
    """The parser's message and context, made plain for the YAML mistakes designers make:
    a tab, a line indented wrong, ': ' inside an unquoted text, a quote that ends a quoted
    text early."""
    at = line[col - 1 : col]
    before = line[: col - 1]
    if "cannot start any token" in problem and at == "\t":
        if not before.strip():
            return "a tab in the indentation", "YAML indents with spaces only: replace the tabs"
        return "a tab where a value should start", "replace the tab with a space"
    if problem.startswith("mapping values are not allowed") and at == ":":
        if ": " not in before and not before.lstrip().startswith("- "):
            return (
                "this key is indented as if it continued the value above it",
                "align it with the keys it belongs with (the same number of spaces)",
            )
        return (
            "a ': ' inside an unquoted text",
            'YAML reads it as a new key: put the whole text in double quotes ("…: …")',
        )
    block = ("did not find expected key", "did not find expected '-' indicator")
    if problem in block and not before.strip():
        return (
            "the indentation of this line matches nothing above it",
            "align it with the keys (or '- ' items) it belongs with, the same number of spaces",
        )
    if problem.startswith("did not find expected") and col > 1:
        quote = before.rstrip()[-1:]
        if quote == "'" and before.count("'") >= 2:
            return (
                "a quote ends the quoted text before the end of the line",
                "inside '…' write an apostrophe twice ('L''ufficio'), or quote the text with "
                'double quotes ("L\'ufficio")',
            )
        if quote == '"' and before.count('"') >= 2:
            return (
                "a quote ends the quoted text before the end of the line",
                'inside "…" write a double quote as \\" ("Dica \\"sì\\""), or quote the '
                "text with '…'",
            )
    return problem, hint


def parse_text(text: str, src: SourceFile) -> _Doc:
    """Parse one file's text into a value with positions; raises _Stop with a diagnostic."""
    diag = _DiagFn(src)
    if src.rel.endswith(".json"):
        # JSON is stricter than YAML (no trailing commas, no comments): check it as JSON first
        json_problem = _json_error(text, diag)
        if json_problem is not None:
            raise _Stop(json_problem)
    composer = _Composer(src, diag)
    try:
        value = composer.compose(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = exc.context if exc.problem and exc.context else None
        src_line = src.line(line) or ""
        problem, hint = _syntax_hint(problem, hint, src_line, col)
        raise _Stop(diag("E004", line, col, f"YAML syntax error: {problem}", hint)) from None
    except yaml.YAMLError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        code = "E003" if "special characters" in str(exc) or "unacceptable" in str(exc) else "E004"
        raise _Stop(diag(code, 1, 1, f"cannot read file: {msg}")) from None
    except RecursionError:
        raise _Stop(diag("E008", 1, 1, f"nesting deeper than {MAX_DEPTH} levels")) from None
    if value is _EMPTY:
        raise _Stop(
            diag(
                "E005",
                0,
                0,
                "empty file: expected a mapping of project keys (name, languages, nodes, …)",
            )
        )
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else f"a single value ({type(value).__name__})"
        raise _Stop(
            diag(
                "E006",
                1,
                1,
                f"not a project file: the top level is {kind}, not a mapping",
                "a project file maps keys such as name, languages, nodes, edges, ddts",
            )
        )
    return _Doc(value, composer.values, composer.keys, composer.problems)


def _walk_files(root: FsPath) -> list[FsPath]:
    found: list[FsPath] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in IGNORED_DIRS)
        for name in filenames:
            if name.startswith(".") or not name.endswith(EXTENSIONS):
                continue
            if ".test." in name:
                continue
            found.append(FsPath(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _shift(path: Path, shifts: dict[Path, int]) -> Path:
    for i in range(len(path) - 1, -1, -1):
        off = shifts.get(path[:i])
        here = path[i]
        if off is not None and isinstance(here, int):
            return (*path[:i], here + off, *path[i + 1 :])
    return path


def _merge(
    dst: dict[str, Any],
    src: dict[str, Any],
    path: Path,
    shifts: dict[Path, int],
    smap: SourceMap,
    doc: _Doc,
    diags: list[Diagnostic],
) -> None:
    for k, v in src.items():
        p: Path = (*path, k)
        if k not in dst:
            dst[k] = v
            continue
        old = dst[k]
        # tables merge (ddts, variables, prompts per language …); their entries do not:
        # a DDT or a prompt is defined in one place
        merge_depth = 2 if p[0] == "prompts" else 1
        if isinstance(old, dict) and isinstance(v, dict) and len(p) <= merge_depth:
            dst[k] = dict(old)
            _merge(dst[k], v, p, shifts, smap, doc, diags)
        elif isinstance(old, list) and isinstance(v, list) and len(p) == 1:
            shifts[p] = len(old)
            dst[k] = old + v
        else:
            first = smap.keys.get(p) or smap.values.get(p)
            where = f"{smap.display(first.file)}:{first.line}" if first else "another file"
            d = SourceMap(smap.root_display, smap.files, doc.values, doc.keys).diag(
                "E010",
                p,
                f"'{pointer(p)[1:]}' is defined in two files (also at {where})",
                "define it once: files add entries to the tables (nodes, edges, ddts, prompts …)",
                key=True,
            )
            diags.append(d)


def load_project(path: str | os.PathLike[str]) -> LoadResult:
    """Load a project file or directory. Never raises; problems become diagnostics."""
    given = str(path)
    fs = FsPath(given)
    smap = SourceMap(root_display=given)
    diags: list[Diagnostic] = []
    rootfile = SourceFile(rel=fs.name or given, display=given)

    def fail(code: str, message: str, hint: str | None = None) -> LoadResult:
        diags.append(_DiagFn(rootfile)(code, 0, 0, message, hint))
        return LoadResult(None, smap, diags)

    try:
        if not fs.exists():
            return fail("E001", f"no such file or directory: {given}")
        if fs.is_dir():
            files = _walk_files(fs)
            if not files:
                return fail(
                    "E005",
                    "no project files (*.yaml, *.yml, *.json) in this directory",
                )
            if len(files) > MAX_FILES:
                return fail("E002", f"more than {MAX_FILES} files in the project")
            entries = [
                (f, f.relative_to(fs).as_posix(), os.path.join(given, f.relative_to(fs)))
                for f in files
            ]
        else:
            entries = [(fs, fs.name, given)]
    except OSError as exc:
        return fail("E001", f"cannot read {given}: {exc.strerror or exc}")

    merged: dict[str, Any] = {}
    total = 0
    shifts: dict[Path, int] = {}
    any_doc = False
    for fpath, rel, display in entries:
        src = SourceFile(rel=rel, display=display)
        smap.files[rel] = src
        dfn = _DiagFn(src)
        try:
            size = fpath.stat().st_size
            if size > MAX_FILE_BYTES:
                raise _Stop(
                    dfn(
                        "E002",
                        0,
                        0,
                        f"file too large: {size:,} bytes (limit {MAX_FILE_BYTES:,})",
                        "split the project over several files",
                    )
                )
            total += size
            if total > MAX_TOTAL_BYTES:
                raise _Stop(
                    dfn("E002", 0, 0, f"project too large: over {MAX_TOTAL_BYTES:,} bytes in all")
                )
            with open(fpath, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
            if len(raw) > MAX_FILE_BYTES:
                raise _Stop(dfn("E002", 0, 0, f"file too large (limit {MAX_FILE_BYTES:,} bytes)"))
            src.text = _decode(raw, src, dfn)
            doc = parse_text(src.text, src)
        except _Stop as stop:
            diags.append(stop.diag)
            continue
        except OSError as exc:
            diags.append(dfn("E001", 0, 0, f"cannot read file: {exc.strerror or exc}"))
            continue
        any_doc = True
        diags.extend(doc.problems)
        local_shifts: dict[Path, int] = {}
        _merge(merged, doc.value, (), local_shifts, smap, doc, diags)
        shifts.update(local_shifts)
        for p, pos in doc.values.items():
            q = _shift(p, local_shifts) if local_shifts else p
            smap.values.setdefault(q, pos)
        for p, pos in doc.keys.items():
            q = _shift(p, local_shifts) if local_shifts else p
            smap.keys.setdefault(q, pos)
    if not any_doc:
        return LoadResult(None, smap, diags)
    if len(entries) > 1:
        smap.values[()] = Pos(entries[0][1], 0, 0)
    return LoadResult(merged, smap, diags)


def source_for_dict(file: str = "<memory>") -> SourceMap:
    """A source map with no positions, for projects given as Python data."""
    return SourceMap(root_display=file, files={})


__all__ = ["LoadResult", "Key", "load_project", "parse_text", "source_for_dict"]
