"""Source positions: JSON pointer paths -> file:line:col, and diagnostics built from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.diagnostics import Diagnostic, Severity

Key = str | int
Path = tuple[Key, ...]


@dataclass(frozen=True, slots=True)
class Pos:
    """Where an element starts (1-based line and column) and, for scalars, where it ends."""

    file: str  # relative to the project root
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0
    style: str | None = None  # scalar style: "" plain, '"', "'", "|", ">"; None otherwise


@dataclass(slots=True)
class SourceFile:
    rel: str  # relative to the project root (what the source map records)
    display: str  # how diagnostics name it (the path as the user gave it)
    text: str = ""
    _lines: list[str] | None = None

    def line(self, n: int) -> str | None:
        if self._lines is None:
            self._lines = self.text.splitlines()
        if 1 <= n <= len(self._lines):
            return self._lines[n - 1]
        return None


def pointer(path: Sequence[Key]) -> str:
    """The JSON pointer (RFC 6901) of a path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


@dataclass(slots=True)
class SourceMap:
    """Positions of every element of the merged project document."""

    root_display: str = "<memory>"
    files: dict[str, SourceFile] = field(default_factory=dict)
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)

    def find(self, path: Path, *, key: bool = False) -> tuple[Pos | None, bool]:
        """The position of ``path`` (or of its nearest located ancestor); exact or not."""
        if key and path in self.keys:
            return self.keys[path], True
        p = path
        exact = True
        while True:
            pos = self.values.get(p)
            if pos is not None:
                return pos, exact
            if not p:
                return None, False
            p = p[:-1]
            exact = False

    def display(self, rel: str) -> str:
        f = self.files.get(rel)
        return f.display if f is not None else rel

    def locate(self, path: Path) -> tuple[str, int, int]:
        """(display file, line, col) of ``path``, for other stages' diagnostics."""
        pos, _ = self.find(path)
        if pos is None:
            return self.root_display, 0, 0
        return self.display(pos.file), pos.line, pos.col

    def snippet(self, rel_or_display: str, line: int) -> str | None:
        for f in self.files.values():
            if rel_or_display in (f.rel, f.display):
                return f.line(line)
        return None

    def _expr_col(self, pos: Pos, offset: int, text: str) -> tuple[int, int] | None:
        """Line and column of 1-based ``offset`` inside the scalar ``text`` at ``pos``, when
        the source shows it verbatim (single-line plain or quoted, or a ``|``/``>`` block)."""
        f = self.files.get(pos.file)
        if f is None or pos.style is None:
            return None
        src = f.line(pos.line)
        if src is None:
            return None
        if pos.style in ("", '"', "'") and pos.end_line in (0, pos.line):
            start = pos.col - 1 + (0 if pos.style == "" else 1)
            if src[start : start + len(text)] == text and offset - 1 <= len(text):
                return pos.line, start + offset
            return None
        if pos.style in ("|", ">"):
            return self._block_col(f, pos, offset, text)
        return None

    @staticmethod
    def _block_col(f: SourceFile, pos: Pos, offset: int, text: str) -> tuple[int, int] | None:
        # walk the block's source lines, matching each against the value text
        sep = "\n" if pos.style == "|" else " "
        at = 0
        line_no = pos.line + 1
        indent: int | None = None
        while at < len(text):
            src = f.line(line_no)
            if src is None or not src.strip():
                return None  # blank lines fold differently: give up, point at the scalar
            here = len(src) - len(src.lstrip(" "))
            indent = here if indent is None else indent
            if here != indent:
                return None
            content = src[indent:]
            if text[at : at + len(content)] != content:
                return None
            if at <= offset - 1 <= at + len(content):
                return line_no, indent + offset - at
            at += len(content)
            if at < len(text) and text[at] not in (sep, "\n"):
                return None
            at += 1
            line_no += 1
        return None

    def diag(
        self,
        code: str,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        severity: Severity = "error",
        key: bool = False,
        offset: int | None = None,
        expr_text: str | None = None,
    ) -> Diagnostic:
        """A diagnostic located at ``path`` (its key with ``key=True``).

        ``offset`` is a 1-based column inside the scalar ``expr_text`` at ``path``: the caret
        then points into the expression when the scalar sits on one source line verbatim.
        """
        pos, exact = self.find(path, key=key)
        if pos is None:
            return Diagnostic(
                code=code,
                severity=severity,
                file=self.root_display,
                pointer=pointer(path),
                message=message,
                hint=hint,
            )
        line, col = pos.line, pos.col
        end_col = pos.end_col if exact and pos.end_line in (0, pos.line) else 0
        if offset is not None and exact and expr_text is not None:
            at = self._expr_col(pos, offset, expr_text)
            if at is not None:
                line, col = at
                end_col = col + 1
        f = self.files.get(pos.file)
        snippet = f.line(line) if f is not None else None
        return Diagnostic(
            code=code,
            severity=severity,
            file=self.display(pos.file),
            line=line,
            col=col,
            end_col=end_col,
            pointer=pointer(path),
            message=message,
            hint=hint,
            snippet=snippet,
        )
