"""Benchmark of the expression language: parse (compile time) and evaluate/render (run time).

Run: python bench/expressions.py — prints a summary, then one JSON line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import compiler.expressions as cx
from compiler.expressions import check_expr, fold_constants, parse_expr, parse_template
from ddt_engine.expressions import compile_expr, evaluate, render

NOW = datetime(2025, 6, 11, 10, 30, tzinfo=UTC)
MEMORY = {
    "age_years": 45,
    "confirmed": True,
    "birth": "1980-03-03",
    "name": "mario",
    "appointment": {"date": "2025-06-20", "time": "10:15"},
    "amount": 12.5,
}
CONDITIONS = {
    "simple": "age_years >= 18",
    "logic": "age_years >= 18 and confirmed and name != ''",
    "path": "appointment.time < '11:00'",
    "dates": "appointment.date - today() <= 30d and age(birth) >= 18",
    "list": "name in ['mario', 'luigi', 'anna']",
}
TEMPLATE = (
    "Buongiorno {{ name | capitalize }}, l'appuntamento è il {{ appointment.date | date }}"
    " alle {{ appointment.time | time }}: {{ amount | money }}."
)
VARS = {
    "age_years": "integer",
    "confirmed": "boolean",
    "birth": "date",
    "name": "string",
    "appointment.date": "date",
    "appointment.time": "time",
    "amount": "number",
}


def per_second(fn: Callable[[], object], seconds: float = 0.4) -> float:
    n = 0
    batch = 100
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> None:
    figures: dict[str, float] = {}
    parse_expr("warm + up")
    for name, text in CONDITIONS.items():
        # parse_expr keeps recent texts in a cache: time the parse itself
        figures[f"parse_{name}_per_s"] = round(
            per_second(partial(cx._parse_expr_cached.__wrapped__, text), 0.2)
        )
        e = parse_expr(text)
        fn = compile_expr(e)
        figures[f"eval_{name}_per_s"] = round(per_second(partial(fn, MEMORY, NOW)))
        figures[f"evaluate_{name}_per_s"] = round(per_second(partial(evaluate, e, MEMORY, NOW)))
    e = parse_expr(CONDITIONS["dates"])
    figures["check_fold_per_s"] = round(
        per_second(lambda: (check_expr(e, VARS), fold_constants(e)), 0.2)
    )
    tpl = parse_template(TEMPLATE)
    figures["parse_template_per_s"] = round(
        per_second(lambda: cx._parse_template_cached.__wrapped__(TEMPLATE), 0.2)
    )
    figures["parse_cached_per_s"] = round(per_second(lambda: parse_expr(CONDITIONS["logic"])))
    figures["render_per_s"] = round(per_second(lambda: render(tpl, MEMORY, NOW, "it")))
    for k, v in figures.items():
        unit = "µs" if v else ""
        print(f"{k:32s} {v:>12,.0f}/s  {1e6 / v if v else 0:8.2f} {unit}")
    print(render(tpl, MEMORY, NOW, "it"))
    print(json.dumps({"bench": "expressions", **figures}))


if __name__ == "__main__":
    main()
