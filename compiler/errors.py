"""Diagnostics: construction helpers, ordering, and the compiler-style text rendering."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from schemas.diagnostics import Diagnostic


class CompileError(Exception):
    """Root error of the compiler package (never escapes ``compile_project``)."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A ``did you mean 'x'?`` hint for the closest candidate, or None."""
    pool = sorted(set(candidates))
    best = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if best:
        return f"did you mean '{best[0]}'?"
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return f"did you mean '{lowered[word.lower()]}'?"
    return None


def sort_key(d: Diagnostic) -> tuple[str, int, int, str, str]:
    return (d.file, d.line, d.col, d.code, d.message)


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file, line, col (then code, message); exact duplicates removed."""
    seen: set[tuple[str, int, int, str, str]] = set()
    out: list[Diagnostic] = []
    for d in sorted(diags, key=sort_key):
        k = sort_key(d)
        if k in seen:
            continue
        seen.add(k)
        out.append(d)
    return out


def _caret_prefix(snippet: str, col: int) -> str:
    # keep tabs so the caret lines up with the source line as the terminal shows it
    head = snippet[: max(col - 1, 0)]
    return "".join("\t" if ch == "\t" else " " for ch in head) + " " * max(col - 1 - len(head), 0)


_WIDTH = 120


def _window(snippet: str, col: int, end_col: int) -> tuple[str, int, int]:
    """A long source line cut to a window around the column (minified JSON, generated files)."""
    if len(snippet) <= _WIDTH:
        return snippet, col, end_col
    start = max(0, min(col - 1 - _WIDTH // 2, len(snippet) - _WIDTH)) if col > 0 else 0
    end = start + _WIDTH
    cut = ("…" if start else "") + snippet[start:end] + ("…" if end < len(snippet) else "")
    shift = start - (1 if start else 0)
    return cut, max(col - shift, 0) if col else 0, max(end_col - shift, 0) if end_col else 0


def render_diagnostic(d: Diagnostic) -> str:
    """Render like a compiler: header, the source line with a caret, and the hint.

    ::

        examples/booking/flow.yaml:42:33: error[E102]: edge targets unknown node 'pay'
           42 |     - {source: confirm, target: pay}
              |                                 ^^^
           hint: did you mean 'payment'?
    """
    where = d.file
    if d.line > 0:
        where += f":{d.line}"
        if d.col > 0:
            where += f":{d.col}"
    lines = [f"{where}: {d.severity}[{d.code}]: {d.message}"]
    if d.snippet is not None and d.line > 0:
        snippet, col, end_col = _window(d.snippet.rstrip("\r\n"), d.col, d.end_col)
        num = f"{d.line:>5}"
        lines.append(f"{num} | {snippet}".rstrip())
        if col > 0:
            width = max(end_col - col, 1) if end_col > col else 1
            width = min(width, max(len(snippet) - col + 1, 1))
            lines.append(f"{' ' * len(num)} | {_caret_prefix(snippet, col)}{'^' * width}")
    if d.hint:
        lines.append(f"   hint: {d.hint}")
    return "\n".join(lines)


def summary(diags: Sequence[Diagnostic]) -> str:
    """``2 errors, 1 warning``."""
    errors = sum(1 for d in diags if d.severity == "error")
    warnings = len(diags) - errors
    return (
        f"{errors} error{'' if errors == 1 else 's'}, "
        f"{warnings} warning{'' if warnings == 1 else 's'}"
    )


def render_all(diags: Sequence[Diagnostic]) -> str:
    """Every diagnostic (sorted) followed by the summary line."""
    ordered = sort_diagnostics(diags)
    parts = [render_diagnostic(d) for d in ordered]
    parts.append(summary(ordered))
    return "\n".join(parts) + "\n"
