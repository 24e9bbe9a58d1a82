"""Stage 5, emit: the program with its content-addressed id, and its canonical bytes."""

from __future__ import annotations

from schemas.program import Program


def finish(program: Program) -> Program:
    """The program with ``id`` = sha256 of its canonical JSON (computed with ``id`` empty)."""
    return program.with_id()


def program_bytes(program: Program) -> bytes:
    """The canonical JSON that ``ddtflow compile`` writes: sorted keys, no whitespace."""
    return program.canonical_bytes()


def summary_line(program: Program) -> str:
    """``12 tasks, 3 DDTs, 9 prompts, 4 expressions, 1 backend (it, en)``."""

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    return (
        ", ".join(
            [
                n(len(program.tasks), "task"),
                n(len(program.ddts), "DDT"),
                n(len(program.prompts), "prompt"),
                n(len(program.exprs), "expression"),
                n(len(program.backends), "backend"),
            ]
        )
        + f" ({', '.join(program.languages)})"
    )


__all__ = ["finish", "program_bytes", "summary_line"]
