"""Benchmark: compile a generated 1,000-node / 100-DDT project (target < 1 s).

The project is built in memory with a realistic mix of node kinds (say, get_data, branch,
set, call_backend, send_sms, end, transfer), conditions, templated prompts in two languages,
DDTs of every common built-in type with prompt overrides and validation rules. Prints a
short summary; the last line is JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compiler import compile_project_dict  # noqa: E402

DDT_TYPES = [
    ("date", "date"),
    ("phone", "string"),
    ("codice_fiscale", "string"),
    ("yes_no", "boolean"),
    ("integer", "integer"),
    ("time", "time"),
    ("email", "string"),
    ("choice", "string"),
    ("money", "number"),
    ("text", "string"),
]
SEGMENT = 10  # nodes per segment


def make_project(nodes: int = 1000, ddts: int = 100) -> dict[str, Any]:
    segments = (nodes - 3) // SEGMENT
    fillers = nodes - 3 - segments * SEGMENT  # plain say nodes before the goodbye
    variables: dict[str, Any] = {"count": {"type": "integer", "default": 0}}
    variables["status"] = {"type": "string"}
    variables["patient.phone"] = {"type": "string", "sensitive": True}
    ddt_defs: dict[str, Any] = {}
    for d in range(ddts):
        type_name, value_type = DDT_TYPES[d % len(DDT_TYPES)]
        variables[f"data.v{d}"] = {"type": value_type}
        ddt: dict[str, Any] = {
            "type": type_name,
            "label": {"it": f"dato {d}", "en": f"item {d}"},
            "prompts": {
                "start": {
                    "it": [f"Mi dica il dato numero {d}, per favore."],
                    "en": [f"Please tell me item number {d}."],
                }
            },
        }
        if type_name == "choice":
            ddt["choices"] = {
                "visita": {"it": ["visita", "controllo"], "en": ["visit", "check-up"]},
                "esame": {"it": ["esame", "analisi"], "en": ["test", "exam"]},
            }
        if type_name == "integer":
            ddt["validate"] = [
                {
                    "code": "range",
                    "rule": "value >= 1 and value <= 99",
                    "prompt": {"it": "Un numero da 1 a 99.", "en": "A number from 1 to 99."},
                }
            ]
        if type_name == "date":
            ddt["validate"] = [{"code": "future", "rule": "value >= today()", "prompt": "past"}]
        ddt_defs[f"d{d}"] = ddt
    prompts: dict[str, dict[str, Any]] = {
        "it": {"past": "Quella data è passata.", "bye": "Arrivederci.", "op": "Un operatore."},
        "en": {"past": "That date has passed.", "bye": "Goodbye.", "op": "An operator."},
    }
    backends = {
        f"api{b}": {
            "url": f"https://api{b}.example/v1/check?x={{{{ args.value }}}}",
            "method": "POST",
            "headers": {"Accept": "application/json"},
            "body": {"value": "args.value", "count": "args.count"},
            "timeout_ms": 2000,
        }
        for b in range(10)
    }
    ns: list[dict[str, Any]] = [{"id": "start", "kind": "start"}]
    es: list[dict[str, Any]] = [{"source": "start", "target": "s0_say"}]
    for i in range(segments):
        d = i % ddts
        var = f"data.v{d}"
        nxt = f"s{i + 1}_say" if i + 1 < segments else ("f0" if fillers else "bye")
        prompts["it"][f"p{i}"] = f"Passo {i}: {{{{ count }}}} risposte finora."
        prompts["en"][f"p{i}"] = f"Step {i}: {{{{ count }}}} answers so far."
        s = f"s{i}_"
        ns += [
            {"id": s + "say", "kind": "say", "data": {"prompt": f"p{i}"}},
            {
                "id": s + "ask",
                "kind": "get_data",
                "data": {"ddt": f"d{d}", "into": var, "on_failure": "operator"},
            },
            {"id": s + "check", "kind": "branch"},
            {
                "id": s + "retry",
                "kind": "say",
                "data": {"text": {"it": "Riproviamo.", "en": "Let's try again."}},
            },
            {"id": s + "count", "kind": "set", "data": {"assign": {"count": "count + 1"}}},
            {
                "id": s + "call",
                "kind": "call_backend",
                "data": {
                    "backend": f"api{i % 10}",
                    "args": {"value": f"str({var})", "count": "count"},
                    "result": {"status": "result.status"},
                    "on_error": "operator",
                    "on_timeout": "operator",
                },
            },
            {"id": s + "ok", "kind": "branch"},
            {
                "id": s + "sorry",
                "kind": "say",
                "data": {"text": {"it": "Non risulta, proseguo.", "en": "Not found, going on."}},
            },
            {
                "id": s + "sms",
                "kind": "send_sms",
                "data": {
                    "to": "patient.phone",
                    "text": {"it": f"Passo {i} fatto.", "en": f"Step {i} done."},
                    "on_error": s + "next",
                },
            },
            {
                "id": s + "next",
                "kind": "say",
                "data": {
                    "text": {
                        "it": "Avanti, {{ upper(status) }}.",
                        "en": "Next, {{ status | upper }}.",
                    }
                },
            },
        ]
        es += [
            {"source": s + "say", "target": s + "ask"},
            {"source": s + "ask", "target": s + "check"},
            {"id": s + "set", "source": s + "check", "target": s + "count",
             "condition": f"{var} is set and count < 1000"},
            {"source": s + "check", "target": s + "retry", "else": True},
            {"source": s + "retry", "target": s + "ask"},
            {"source": s + "count", "target": s + "call"},
            {"source": s + "call", "target": s + "ok"},
            {"id": s + "good", "source": s + "ok", "target": s + "sms",
             "condition": "status == 'ok' or status == 'OK'"},
            {"source": s + "ok", "target": s + "sorry", "else": True},
            {"source": s + "sorry", "target": s + "next"},
            {"source": s + "sms", "target": s + "next"},
            {"source": s + "next", "target": nxt},
        ]  # fmt: skip
    for f in range(fillers):
        text = {"it": f"Ultimo passo {f}.", "en": f"Last step {f}."}
        ns.append({"id": f"f{f}", "kind": "say", "data": {"text": text}})
        es.append({"source": f"f{f}", "target": f"f{f + 1}" if f + 1 < fillers else "bye"})
    ns += [
        {"id": "bye", "kind": "end", "data": {"prompt": "bye"}},
        {"id": "operator", "kind": "transfer", "data": {"prompt": "op"}},
    ]
    return {
        "name": "bench",
        "languages": ["it", "en"],
        "variables": variables,
        "nodes": ns,
        "edges": es,
        "ddts": ddt_defs,
        "prompts": prompts,
        "backends": backends,
    }


def main() -> None:
    project = make_project()
    runs: list[float] = []
    cpu: list[float] = []
    result = None
    for _ in range(7):
        t0, c0 = time.perf_counter(), time.process_time()
        result = compile_project_dict(project)
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert result is not None
    if not result.ok or result.program is None:
        for d in result.diagnostics[:10]:
            print(d.code, d.pointer, d.message)
        raise SystemExit("the generated project does not compile")
    program = result.program
    size = len(program.canonical_bytes())
    nodes, ddts = len(project["nodes"]), len(project["ddts"])
    print(f"project: {nodes} nodes, {len(project['edges'])} edges, {ddts} DDTs, 2 languages")
    print(
        f"program: {len(program.tasks)} tasks, {len(program.exprs)} expressions, "
        f"{len(program.prompts)} prompts, {size:,} bytes"
    )
    print("compile runs (s): " + ", ".join(f"{r:.3f}" for r in runs))
    median = statistics.median(runs)
    cpu_median = statistics.median(cpu)
    print(f"median {median:.3f} s wall, {cpu_median:.3f} s CPU (target < 1 s)")
    print(
        json.dumps(
            {
                "bench": "compile",
                "nodes": nodes,
                "ddts": ddts,
                "tasks": len(program.tasks),
                "seconds": round(median, 3),
                "cpu_seconds": round(cpu_median, 3),
                "first_run_seconds": round(runs[0], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
