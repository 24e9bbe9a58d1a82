"""Loading: garbage of every kind gives one clear diagnostic, never a traceback.

The big and deep inputs are generated here at test time (never committed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from compiler import compile_project, compile_project_dict, render_all
from compiler.loader import MAX_FILE_BYTES, load_project


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _codes(path: Path) -> list[str]:
    return [d.code for d in compile_project(path).diagnostics]


def test_a_50_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:  # sparse: 50 MB on the file system, nothing written
        fh.seek(50 * 1024 * 1024 - 1)
        fh.write(b"\n")
    result = compile_project(big)
    assert not result.ok
    assert render_all(result.diagnostics) == (
        f"{big}: error[E002]: file too large: 52,428,800 bytes (limit 5,242,880)\n"
        "   hint: split the project over several files\n"
        "1 error, 0 warnings\n"
    )


def test_a_project_over_the_total_limit(tmp_path: Path) -> None:
    for i in range(5):
        with open(tmp_path / f"part{i}.yaml", "wb") as fh:
            fh.write(f"filler{i}: ".encode() + b"a" * (MAX_FILE_BYTES - 20) + b"\n")
    codes = _codes(tmp_path)
    assert codes == ["E002"]


def test_json_nested_100000_deep(tmp_path: Path) -> None:
    deep = _write(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    result = compile_project(deep)
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [("E008", 1, 65)]
    assert "nesting deeper than 64 levels" in render_all(result.diagnostics)


def test_json_object_nested_deep_is_also_refused(tmp_path: Path) -> None:
    deep = _write(tmp_path / "p.json", '{"a":' * 100_000 + "1" + "}" * 100_000)
    assert _codes(deep) == ["E008"]


def test_yaml_nested_100000_deep_in_block_and_flow_style(tmp_path: Path) -> None:
    assert _codes(_write(tmp_path / "a.yaml", "- " * 100_000 + "x\n")) == ["E008"]
    assert _codes(_write(tmp_path / "b" / "b.yaml", "a: " + "[" * 100_000)) == ["E008"]


def test_binary_garbage(tmp_path: Path) -> None:
    garbage = _write(tmp_path / "x.yaml", bytes(range(256)) * 64)
    result = compile_project(garbage)
    assert [d.code for d in result.diagnostics] == ["E003"]
    assert result.diagnostics[0].message == "binary file: contains NUL bytes"


def test_invalid_utf8_points_at_the_byte(tmp_path: Path) -> None:
    bad = _write(tmp_path / "x.yaml", b"name: ok\ndescription: caff\xe8 latte\n")
    (d,) = compile_project(bad).diagnostics
    assert (d.code, d.line, d.col) == ("E003", 2, 18)
    assert d.message == "invalid UTF-8 (byte 0xe8 at offset 26)"


def test_billion_laughs(tmp_path: Path) -> None:
    lines = ["lol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"l{i}: &a{i} [{refs}]")
    bomb = _write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")
    assert _codes(bomb) == ["E007"]


def test_small_aliases_are_fine(tmp_path: Path) -> None:
    doc = "name: x\nlanguages: &langs [it]\ndescription: &d hello\n"
    loaded = load_project(_write(tmp_path / "p.yaml", doc))
    assert loaded.diagnostics == []
    assert loaded.data == {"name": "x", "languages": ["it"], "description": "hello"}


def test_yaml_12_scalars(tmp_path: Path) -> None:
    doc = "a: yes\nb: 09:30\nc: 2024-03-01\nd: 0x1F\ne: 1e3\nf: ~\ng: 'no'\nh: true\ni: 010\n"
    loaded = load_project(_write(tmp_path / "p.yaml", doc))
    assert loaded.data == {
        "a": "yes",
        "b": "09:30",
        "c": "2024-03-01",
        "d": 31,
        "e": 1000.0,
        "f": None,
        "g": "no",
        "h": True,
        "i": 10,
    }


def test_empty_and_not_a_mapping_and_missing(tmp_path: Path) -> None:
    assert _codes(_write(tmp_path / "e.yaml", "")) == ["E005"]
    assert _codes(_write(tmp_path / "s.yaml", "just a string\n")) == ["E006"]
    assert _codes(_write(tmp_path / "n.json", "42")) == ["E006"]
    assert _codes(tmp_path / "nope.yaml") == ["E001"]
    assert _codes(_write(tmp_path / "empty" / "README.md", "x").parent) == ["E005"]


def test_json_is_strict_and_duplicate_keys_are_errors(tmp_path: Path) -> None:
    assert _codes(_write(tmp_path / "a.json", '{"name": "x",}')) == ["E004"]
    assert _codes(_write(tmp_path / "b.json", '{"name": "x", "name": "y"}')) == ["E010"]


def test_json_project_gets_positions(tmp_path: Path) -> None:
    project = {
        "name": "j",
        "languages": ["it"],
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "bye", "kind": "end"},
        ],
        "edges": [{"source": "start", "target": "by"}],
    }
    path = _write(tmp_path / "p.json", json.dumps(project, indent=2))
    result = compile_project(path)
    d = next(d for d in result.diagnostics if d.code == "E102")
    assert (d.line, d.col, d.hint) == (19, 17, "did you mean 'bye'?")
    assert d.pointer == "/edges/0/target"


def test_columns_count_characters_not_bytes(tmp_path: Path) -> None:
    doc = (
        "name: x\nlanguages: [it]\nnodes:\n  - {id: start, kind: start}\n"
        '  - {id: fine, kind: end, data: {text: {it: "Città è già"}}}\n'
        "edges:\n"
        '  - {source: start, target: fine, label: "perché", priority: 1}\n'
        "  - {source: start, target: fin, label: 'è'}\n"
    )
    result = compile_project(_write(tmp_path / "p.yaml", doc))
    d = next(d for d in result.diagnostics if d.code == "E102")
    assert (d.line, d.col, d.end_col) == (8, 29, 32)


def test_files_merge_and_positions_follow_the_concatenated_lists(tmp_path: Path) -> None:
    _write(
        tmp_path / "a.yaml",
        "name: m\nlanguages: [it]\nnodes:\n  - {id: start, kind: start}\n"
        "edges:\n  - {source: start, target: bye}\n",
    )
    _write(tmp_path / "b.yaml", "nodes:\n  - {id: bye, kind: end}\n  - {id: x, kind: sya}\n")
    result = compile_project(tmp_path)
    (d,) = result.diagnostics
    assert (d.code, d.file, d.line, d.pointer) == (
        "E024",
        os.path.join(str(tmp_path), "b.yaml"),
        3,
        "/nodes/2/kind",
    )


def test_tests_directory_and_hidden_files_are_ignored(tmp_path: Path) -> None:
    _write(
        tmp_path / "flow.yaml",
        "name: m\nlanguages: [it]\nnodes:\n  - {id: start, kind: start}\n"
        "  - {id: bye, kind: end}\nedges:\n  - {source: start, target: bye}\n",
    )
    _write(tmp_path / "tests" / "booking.yaml", "conversation: [hello]\n")
    _write(tmp_path / ".editor.json", "{}")
    _write(tmp_path / "greeting.test.yaml", "turns: []\n")
    assert compile_project(tmp_path).ok


def test_compile_project_dict_rejects_garbage_without_raising() -> None:
    assert [d.code for d in compile_project_dict([1, 2]).diagnostics] == ["E006"]  # type: ignore[arg-type]
    result = compile_project_dict({"name": 5, "nodes": "x", "edges": [None]})
    assert not result.ok and {d.code for d in result.diagnostics} <= {"E021", "E022", "E023"}
