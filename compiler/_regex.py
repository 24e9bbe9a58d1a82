"""A static check for designer regexes that can backtrack catastrophically.

The engine matches a DDT's ``patterns`` against what callers say; a pattern such as
``(a+)+$`` takes exponential time on a crafted answer. A run-time timeout would make the
result depend on the machine's speed (and break replay), so the compiler rejects the
dangerous shape instead: an unbounded repetition that contains a variable-length one.
"""

from __future__ import annotations

import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_parse  # the stdlib's own regex parser: the only way to walk a pattern


_REPEATS = (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT)


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns directly inside one parsed item."""
    if op in _REPEATS:
        return [av[2]]
    if op == sre_parse.SUBPATTERN:
        return [av[-1]]
    if op == sre_parse.BRANCH:
        return list(av[1])
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
        return [av[1]]
    return []


def _variable_repeat(sub: Any) -> bool:
    """True when ``sub`` contains a repetition whose length can vary."""
    for op, av in sub:
        if op in _REPEATS and av[0] != av[1]:
            return True
        if any(_variable_repeat(child) for child in _children(op, av)):
            return True
    return False


def _find(sub: Any) -> bool:
    for op, av in sub:
        if op in _REPEATS and av[1] == sre_parse.MAXREPEAT and _variable_repeat(av[2]):
            return True
        if any(_find(child) for child in _children(op, av)):
            return True
    return False


def backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` may backtrack exponentially, or None. ``pattern`` must compile."""
    try:
        parsed = sre_parse.parse(pattern)
    except (sre_parse.error, RecursionError, OverflowError):  # re.compile already judged it
        return None
    if _find(parsed):
        return "a repeated group contains a repetition of variable length"
    return None
