"""Designer checks: what a designer writes by mistake gets a located, explained diagnostic
instead of a silent conversion, a bare "unknown field" or a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler import compile_project, compile_project_dict
from compiler.expressions import ExprSyntaxError, parse_expr
from schemas.diagnostics import Diagnostic
from schemas.program import Program

FLOW = """\
name: t
languages: [it]
variables:
  birth: {type: date}
ddts:
  birth_date: {type: date}
nodes:
  - {id: start, kind: start}
  - {id: ask, kind: get_data, data: {ddt: birth_date, into: birth, on_failure: bye}}
  - {id: bye, kind: end, data: {text: {it: "Arrivederci"}}}
edges:
  - {source: start, target: ask}
  - {source: ask, target: bye}
"""


def _base() -> dict[str, Any]:
    return {
        "name": "t",
        "languages": ["it"],
        "variables": {"birth": {"type": "date"}},
        "ddts": {"birth_date": {"type": "date"}},
        "backends": {"api": {"url": "https://api.example/x"}},
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "ask", "kind": "get_data", "data": {"ddt": "birth_date", "into": "birth"}},
            {"id": "call", "kind": "call_backend", "data": {"backend": "api"}},
            {"id": "bye", "kind": "end", "data": {"text": {"it": "Arrivederci"}}},
        ],
        "edges": [
            {"source": "start", "target": "ask"},
            {"source": "ask", "target": "call"},
            {"source": "call", "target": "bye"},
        ],
    }


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    here: Any = data
    for p in path[:-1]:
        here = here.setdefault(p, {}) if isinstance(here, dict) else here[p]
    here[path[-1]] = value


def _errors(data: dict[str, Any]) -> list[Diagnostic]:
    result = compile_project_dict(data)
    return [d for d in result.diagnostics if d.severity == "error"]


def _write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _base_ok() -> dict[str, Any]:
    data = _base()
    data["nodes"][1]["data"]["on_failure"] = "bye"
    return data


# -- loose scalars: strict project models ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "message", "hint"),
    [
        (
            ("backends", "api", "retries"),
            True,
            "'retries' must be an integer, not boolean true",
            "write a number: true and false are not numbers",
        ),
        (
            ("backends", "api", "timeout_ms"),
            "2500",
            "'timeout_ms' must be an integer, not string '2500'",
            "write 2500",
        ),
        (
            ("backends", "api", "timeout_ms"),
            2500.0,
            "'timeout_ms' must be an integer, not number 2500.0",
            "write it without a decimal point: 2500",
        ),
        (
            ("ddts", "birth_date", "sensitive"),
            "yes",
            "'sensitive' must be true or false, not string 'yes'",
            "write true or false ('yes' is a text)",
        ),
        (
            ("variables", "birth", "sensitive"),
            1,
            "'sensitive' must be true or false, not number 1",
            "write true or false: a number is not a yes/no",
        ),
        (
            ("ddts", "birth_date", "dtmf", "max_digits"),
            "8",
            "'max_digits' must be an integer, not string '8'",
            "write 8",
        ),
        (
            ("ddts", "birth_date", "max_attempts", "no_match"),
            "2.5",
            "'no_match' must be an integer, not string '2.5'",
            "a whole number is needed here",
        ),
        (
            ("ddts", "birth_date", "extract", "llm"),
            0,
            "'llm' must be true or false, not number 0",
            "write true or false: a number is not a yes/no",
        ),
        (
            ("edges", 0, "priority"),
            "1",
            "'priority' must be an integer, not string '1'",
            "write 1",
        ),
        (
            ("edges", 0, "else"),
            "true",
            "'else' must be true or false, not string 'true'",
            "write true or false ('true' is a text)",
        ),
        (
            ("nodes", 0, "position"),
            {"x": "10", "y": 2},
            "'x' must be a number, not string '10'",
            "write 10",
        ),
        (
            ("nodes", 0, "position"),
            {"x": True, "y": 2},
            "'x' must be a number, not boolean true",
            "write a number: true and false are not numbers",
        ),
        (
            ("nodes", 3, "label"),
            5,
            "'label' must be a string, not number 5",
            "quote the value to make it a string",
        ),
    ],
)
def test_a_loose_scalar_is_an_error_not_a_conversion(
    path: tuple[Any, ...], value: Any, message: str, hint: str
) -> None:
    data = _base_ok()
    _set(data, path, value)
    errors = _errors(data)
    assert [(d.code, d.message, d.hint) for d in errors] == [("E022", message, hint)]


def test_format_true_is_not_format_1() -> None:
    for value in (True, 1.0):
        data = _base_ok()
        data["format"] = value
        errors = _errors(data)
        assert [(d.code, d.message) for d in errors] == [
            (
                "E023",
                f"invalid value {'boolean true' if value is True else 'number 1.0'} for 'format'",
            )
        ]
    data = _base_ok()
    data["format"] = 1
    assert compile_project_dict(data).ok


def test_yaml_hints_know_quotes_and_yaml_11_booleans(tmp_path: Path) -> None:
    text = FLOW.replace(
        "birth_date: {type: date}",
        'birth_date: {type: date, sensitive: "true", extract: {ner: yes}, dtmf: {max_digits: "8"}}',
    )
    result = compile_project(_write(tmp_path, text))
    got = [(d.line, d.message, d.hint) for d in result.diagnostics]
    assert got == [
        (
            6,
            "'sensitive' must be true or false, not string 'true'",
            "write true or false, without quotes",
        ),
        (
            6,
            "'ner' must be true or false, not string 'yes'",
            "write true or false: in YAML 1.2 'yes' is a text, not a boolean",
        ),
        (
            6,
            "'max_digits' must be an integer, not string '8'",
            "write the number without quotes: 8",
        ),
    ]


def test_integers_are_numbers_and_yaml_dates_and_times_are_texts(tmp_path: Path) -> None:
    text = FLOW.replace(
        "{id: start, kind: start}", "{id: start, kind: start, position: {x: 120, y: 40.5}}"
    ).replace('{text: {it: "Arrivederci"}}', '{text: {it: "Arrivederci"}, reason: 2024-03-01}')
    text = text.replace("ddts:", "description: 09:30\nddts:")
    result = compile_project(_write(tmp_path, text))
    assert result.ok, result.diagnostics
    assert result.program is not None
    assert [t.reason for t in result.program.tasks if t.op == "end"] == ["2024-03-01"]


def test_the_compiled_program_still_reads_back_from_json() -> None:
    """Only the source models are strict: the runtime reads programs from JSON as before."""
    data = _base_ok()
    data["ddts"]["birth_date"]["dtmf"] = {"max_digits": 8}
    data["backends"]["api"]["retries"] = 2
    result = compile_project_dict(data)
    assert result.program is not None, result.diagnostics
    raw = result.program.canonical_bytes()
    assert Program.model_validate_json(raw).canonical_bytes() == raw


# -- YAML merge keys ------------------------------------------------------------------------


def test_a_yaml_merge_key_is_one_error_that_says_why(tmp_path: Path) -> None:
    text = FLOW.replace(
        "  birth_date: {type: date}",
        "  base: &base {type: date}\n  birth_date:\n    <<: *base\n    confirm: always",
    )
    result = compile_project(_write(tmp_path, text))
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [("E011", 8, 5)]
    d = result.diagnostics[0]
    assert "merge keys ('<<') are not supported" in d.message
    assert d.hint is not None and "alias" in d.hint


def test_every_merge_key_of_a_file_is_reported(tmp_path: Path) -> None:
    text = FLOW.replace(
        "  birth_date: {type: date}",
        "  base: &base {type: date}\n  birth_date: {<<: *base}\n  spare: {<<: [*base]}",
    )
    result = compile_project(_write(tmp_path, text))
    assert [(d.code, d.line) for d in result.diagnostics] == [("E011", 7), ("E011", 8)]


def test_a_quoted_or_json_merge_key_is_an_unknown_field_with_the_same_hint(
    tmp_path: Path,
) -> None:
    yaml_dir = tmp_path / "yaml"
    yaml_dir.mkdir()
    quoted = FLOW.replace("  birth_date: {type: date}", '  birth_date: {type: date, "<<": 1}')
    data = _base_ok()
    data["ddts"]["birth_date"]["<<"] = {"type": "date"}
    for result in (compile_project(_write(yaml_dir, quoted)), compile_project_dict(data)):
        assert [(d.code, d.message, d.hint) for d in result.diagnostics] == [
            (
                "E020",
                "unknown field '<<' in DDT 'birth_date'",
                "YAML merge keys ('<<') are not supported: write the fields out",
            )
        ]


# -- names are ASCII ------------------------------------------------------------------------

_ASCII = "names are ASCII letters, digits and '_' (no accented letters)"


@pytest.mark.parametrize(
    ("text", "col", "hint"),
    [
        ("età > 18", 3, f"{_ASCII}: write 'eta' for 'età'"),
        ("è_adulto == true", 1, f"{_ASCII}: write 'e_adulto' for 'è_adulto'"),
        ("patient.città == 'Roma'", 13, f"{_ASCII}: write 'citta' for 'città'"),
        ("citta\u0300 == 'Roma'", 6, f"{_ASCII}: write 'citta' for 'citta\u0300'"),  # NFD
        ("perché(x)", 6, f"{_ASCII}: write 'perche' for 'perché'"),
        ("ναι == 1", 1, _ASCII),  # nothing ASCII to suggest
    ],
)
def test_a_non_ascii_name_in_an_expression_says_names_are_ascii(
    text: str, col: int, hint: str
) -> None:
    data = _base_ok()
    data["edges"][0]["condition"] = text
    data["edges"].append({"source": "start", "target": "bye", "else": True})
    errors = _errors(data)
    assert [(d.code, d.hint) for d in errors] == [("E201", hint)]
    assert errors[0].message.startswith("syntax error in expression: unexpected character")
    with pytest.raises(ExprSyntaxError) as info:
        parse_expr(text)
    assert info.value.col == col


def test_a_non_ascii_name_in_a_template_says_names_are_ascii() -> None:
    data = _base_ok()
    data["nodes"][3]["data"]["text"]["it"] = "Ciao {{ città | maiùscolo }}"
    assert [(d.code, d.hint) for d in _errors(data)] == [
        ("E204", f"{_ASCII}: write 'citta' for 'città'")
    ]


def test_a_non_ascii_variable_is_reported_once_with_its_ascii_spelling() -> None:
    data = _base_ok()
    data["variables"] = {"età": {"type": "integer"}, "city": {"type": "string"}}
    data["nodes"][1]["data"]["into"] = "età"  # the declared (invalid) name: not reported again
    data["nodes"].append({"id": "town", "kind": "set", "data": {"assign": {"città": "'Roma'"}}})
    data["edges"][2] = {"source": "call", "target": "town"}
    data["edges"].append({"source": "town", "target": "bye"})
    assert [(d.code, d.message, d.hint) for d in _errors(data)] == [
        ("E202", "assigned 'città' is not a declared variable", f"{_ASCII}: did you mean 'city'?"),
        ("E210", "invalid variable name 'età'", f"{_ASCII}: write 'eta' for 'età'"),
    ]


def test_an_ascii_invalid_variable_name_keeps_its_hint() -> None:
    data = _base_ok()
    data["variables"]["2fast"] = {"type": "string"}
    assert [(d.code, d.hint) for d in _errors(data)] == [
        ("E210", "use ASCII letters, digits and '_', with '.' between parts (patient.cf)")
    ]


# -- numbers a program cannot hold ----------------------------------------------------------

_RANGE = (
    "integers go from -9223372036854775808 to 9223372036854775807; "
    "quote a long code to keep it as a text"
)
_FINITE = "a program cannot hold .inf or .nan (they would be null): write a number"


@pytest.mark.parametrize(
    ("variable", "message", "hint"),
    [
        (
            {"type": "integer", "default": 10**23},
            "the default of 'v' is out of range: 100000000000000000000000 (integers are 64-bit)",
            _RANGE,
        ),
        (
            {"type": "integer", "default": -(2**63) - 1},
            "the default of 'v' is out of range: -9223372036854775809 (integers are 64-bit)",
            _RANGE,
        ),
        (
            {"type": "number", "default": float("inf")},
            "the default of 'v' is not a finite number (.inf)",
            _FINITE,
        ),
        (
            {"type": "object", "default": {"a": [1, float("nan")]}},
            "'a/1' in the default of 'v' is not a finite number (.nan)",
            _FINITE,
        ),
    ],
)
def test_a_default_the_program_cannot_hold_is_e209(
    variable: dict[str, Any], message: str, hint: str
) -> None:
    """A 24-digit default was an internal error (E000); .inf/.nan became null silently."""
    data = _base_ok()
    data["variables"]["v"] = variable
    assert [(d.code, d.message, d.hint) for d in _errors(data)] == [("E209", message, hint)]


def test_custom_params_the_program_cannot_hold_are_e023() -> None:
    data = _base_ok()
    data["nodes"].insert(
        1,
        {
            "id": "log",
            "kind": "custom",
            "data": {"task": "crm_log", "params": {"ok": 1.5, "ids": {"x": [2**64]}}},
        },
    )
    data["edges"][0]["target"] = "log"
    data["edges"].append({"source": "log", "target": "ask"})
    assert [(d.code, d.message) for d in _errors(data)] == [
        (
            "E023",
            "'ids/x/0' in the params of custom node 'log' is out of range: "
            "18446744073709551616 (integers are 64-bit)",
        )
    ]


def test_the_64_bit_limits_themselves_compile(tmp_path: Path) -> None:
    text = FLOW.replace(
        "  birth: {type: date}",
        "  birth: {type: date}\n  lo: {type: integer, default: -9223372036854775808}\n"
        "  hi: {type: integer, default: 9223372036854775807}\n"
        "  big: {type: number, default: 1.0e300}",
    )
    result = compile_project(_write(tmp_path, text))
    assert result.program is not None, result.diagnostics
    assert result.program.variables["hi"].default == 2**63 - 1
    assert result.program.variables["big"].default == 1e300


# -- YAML syntax mistakes, said plainly -----------------------------------------------------

_HEAD = "name: t\nlanguages: [it]\n"


@pytest.mark.parametrize(
    ("body", "where", "message", "hint"),
    [
        (
            "nodes:\n\t- {id: s, kind: start}\n",
            (4, 1),
            "YAML syntax error: a tab in the indentation",
            "YAML indents with spaces only: replace the tabs",
        ),
        (
            "variables:\n  x:\n  \ttype: string\n",
            (5, 3),
            "YAML syntax error: a tab in the indentation",
            "YAML indents with spaces only: replace the tabs",
        ),
        (
            "prompts:\n  it:\n    welcome: Buongiorno, ecco: la lista\n",
            (5, 30),
            "YAML syntax error: a ': ' inside an unquoted text",
            'YAML reads it as a new key: put the whole text in double quotes ("…: …")',
        ),
        (
            "description: x\n  start: s\n",
            (4, 8),
            "YAML syntax error: this key is indented as if it continued the value above it",
            "align it with the keys it belongs with (the same number of spaces)",
        ),
        (
            "variables:\n  x:\n    type: string\n   sensitive: true\n",
            (6, 4),
            "YAML syntax error: the indentation of this line matches nothing above it",
            "align it with the keys (or '- ' items) it belongs with, the same number of spaces",
        ),
        (
            "prompts:\n  it:\n    welcome: 'L'ufficio è chiuso'\n",
            (5, 17),
            "YAML syntax error: a quote ends the quoted text before the end of the line",
            "inside '…' write an apostrophe twice ('L''ufficio'), or quote the text with "
            'double quotes ("L\'ufficio")',
        ),
        (
            'prompts:\n  it:\n    welcome: "Dica "sì" o "no""\n',
            (5, 21),
            "YAML syntax error: a quote ends the quoted text before the end of the line",
            'inside "…" write a double quote as \\" ("Dica \\"sì\\""), or quote the text '
            "with '…'",
        ),
        (
            "prompts:\n  it:\n    welcome: {{ name }} benvenuto\n",
            (5, 15),
            "a mapping key must be a plain value, not a collection",
            "a value that starts with '{{' is read as YAML: put the text in quotes",
        ),
        (
            "nodes:\n  - {id: h, kind: say, data: {text: {it: Ciao, come stai?}}}\n",
            (4, 48),
            "'come stai?' has no ':' and no value: a ',' in { … } ends the text before it",
            'put a text holding commas in quotes: {it: "Ciao, come stai?"}',
        ),
    ],
)
def test_a_yaml_mistake_is_said_plainly(
    tmp_path: Path, body: str, where: tuple[int, int], message: str, hint: str
) -> None:
    result = compile_project(_write(tmp_path, _HEAD + body))
    assert [(d.code, (d.line, d.col), d.message, d.hint) for d in result.diagnostics] == [
        ("E004", where, message, hint)
    ]


def test_keys_with_an_empty_value_are_not_mistaken_for_a_comma(tmp_path: Path) -> None:
    text = FLOW + "description: {a: , b: }\nsubflows:\n"
    result = compile_project(_write(tmp_path, text))
    assert [(d.code, d.message) for d in result.diagnostics] == [
        ("E022", "'description' must be a string, not a mapping"),
        ("E022", "'subflows' must be a mapping, not null"),
    ]


def test_a_flow_mapping_missing_a_comma_keeps_the_parser_message(tmp_path: Path) -> None:
    text = _HEAD + "variables: {a: {type: string}\n  b: {type: string}}\n"
    result = compile_project(_write(tmp_path, text))
    assert [(d.code, d.message, d.hint) for d in result.diagnostics] == [
        (
            "E004",
            "YAML syntax error: did not find expected ',' or '}'",
            "while parsing a flow mapping",
        )
    ]


# -- a table written as nothing, or as one word ---------------------------------------------


def test_a_table_with_its_entries_not_indented_says_so(tmp_path: Path) -> None:
    text = FLOW.replace("ddts:\n  birth_date: {type: date}", "ddts:\nbirth_date: {type: date}")
    result = compile_project(_write(tmp_path, text))
    got = [(d.code, d.message, d.hint) for d in result.diagnostics if d.code == "E022"]
    assert got == [
        (
            "E022",
            "'ddts' must be a mapping, not null",
            "nothing is written under 'ddts': indent its entries under it, or remove it",
        )
    ]


def test_nodes_written_as_nothing_say_so() -> None:
    data = _base_ok()
    data["nodes"] = None
    assert [(d.code, d.hint) for d in _errors(data)][:1] == [
        ("E022", "nothing is written under 'nodes': indent its items under it, or remove it")
    ]


@pytest.mark.parametrize("table", ["variables", "ddts"])
def test_a_variable_or_ddt_written_as_its_type_says_how_to_write_it(table: str) -> None:
    data = _base_ok()
    data[table]["extra"] = "date"
    assert [(d.code, d.message, d.hint) for d in _errors(data)] == [
        ("E022", "'extra' must be a mapping, not string 'date'", "write {type: date}")
    ]


def test_an_entry_not_indented_under_its_empty_table_says_where_it_belongs(
    tmp_path: Path,
) -> None:
    text = FLOW.replace(
        "ddts:\n  birth_date: {type: date}",
        "ddts:\nbirth_date: {type: date}\nvisit_date: {type: date}",
    )
    result = compile_project(_write(tmp_path, text))
    got = [(d.line, d.message, d.hint) for d in result.diagnostics if d.code == "E020"]
    hint = "is it an entry of 'ddts', empty above it? indent it under 'ddts:'"
    assert got == [
        (6, "unknown field 'birth_date' in project", hint),
        (7, "unknown field 'visit_date' in project", hint),
    ]
