"""``ddtflow graph``: Mermaid always, SVG through graphviz when it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def graph(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", "graph", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_mermaid_flow_and_ddt_machines(tmp_path: Path) -> None:
    out = tmp_path / "flow.mmd"
    p = graph(str(ROOT / "examples" / "bank_card_block"), "-o", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    text = out.read_text()
    assert text.startswith("flowchart TD\n")
    assert '    n_identity_q -->|"identity_ok"| n_ask_confirm' in text
    assert '    n_verify -.->|"timeout"| n_systems_down' in text
    assert '    n_ask_birth[/"ask_birth<br/>ask birth_date → customer.birth_date"/]' in text
    machines = sorted(x.name for x in tmp_path.glob("flow.ddt-*.mmd"))
    assert machines == [
        "flow.ddt-birth_date.mmd",
        "flow.ddt-card_digits.mmd",
        "flow.ddt-confirm_block.mmd",
    ]
    assert (tmp_path / "flow.ddt-birth_date.mmd").read_text().startswith("stateDiagram-v2")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_svg_with_graphviz(tmp_path: Path) -> None:
    out = tmp_path / "flow.svg"
    p = graph(str(ROOT / "examples" / "insurance_claim"), "-o", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "<svg" in out.read_text()
    assert (tmp_path / "flow.ddt-policy_number.svg").exists()


def test_bad_output_name(tmp_path: Path) -> None:
    p = graph(str(ROOT / "examples" / "bank_card_block"), "-o", str(tmp_path / "flow.png"))
    assert p.returncode == 1
    assert "-o takes a .mmd (Mermaid) or .svg file name" in p.stdout


def test_svg_without_graphviz_says_so(tmp_path: Path) -> None:
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "runtime.cli",
            "graph",
            str(ROOT / "examples" / "bank_card_block"),
            "-o",
            str(tmp_path / "flow.svg"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": str(tmp_path)},  # no `dot` on this PATH
        check=False,
    )
    assert p.returncode == 1
    assert "SVG needs graphviz's `dot`, which is not installed" in p.stdout
    assert not (tmp_path / "flow.svg").exists()


ODD_FLOW = """\
name: odd
languages: [it]
variables:
  n: {type: integer, default: 0}
  ok: {type: boolean}
nodes:
  - {id: start, kind: start}
  - {id: "città", kind: say, data: {prompt: hi}}
  - {id: "citt-", kind: say, data: {prompt: hi}}
  - {id: count, kind: set, data: {assign: {n: "n + 1"}}}
  - {id: ask, kind: get_data, data: {ddt: "sì?no", into: ok, on_failure: bye}}
  - {id: loop_q, kind: branch}
  - {id: sub, kind: subflow, data: {flow: inner}}
  - {id: bye, kind: end, data: {prompt: hi, reason: 'tasto #1; "fine" <b>x</b> & [y] | z'}}
edges:
  - {source: start, target: "città"}
  - {source: "città", target: "citt-"}
  - {source: "citt-", target: count}
  - {source: count, target: ask}
  - {source: ask, target: loop_q}
  - {id: again, source: loop_q, target: count, condition: "n<3"}
  - {id: go, source: loop_q, target: sub, condition: "n == 3"}
  - {source: loop_q, target: bye, else: true}
  - {source: sub, target: bye}
subflows:
  inner:
    nodes:
      - {id: begin, kind: start}
      - {id: sub, kind: say, data: {prompt: hi}}
      - {id: done, kind: return}
    edges:
      - {source: begin, target: sub}
      - {source: sub, target: done}
ddts:
  "sì?no": {type: yes_no}
prompts:
  it:
    hi: "Ciao"
"""


@pytest.fixture()
def odd(tmp_path: Path) -> Path:
    proj = tmp_path / "odd"
    proj.mkdir()
    (proj / "flow.yaml").write_text(ODD_FLOW, encoding="utf-8")
    return proj


def test_mermaid_ids_are_one_per_node_and_labels_are_escaped(odd: Path, tmp_path: Path) -> None:
    out = tmp_path / "g" / "flow.mmd"
    p = graph(str(odd), "-o", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    text = out.read_text(encoding="utf-8")
    decl = re.compile(r"^\s+(n_\w+)[\[({]")
    nodes = [m.group(1) for line in text.splitlines() if (m := decl.match(line))]
    # "città" and "citt-" were both n_citt_ (one node with an edge onto itself); the
    # subflow's node "sub" had the id of the subflow's box (Mermaid: a cycle)
    assert len(nodes) == len(set(nodes)) == 11, nodes
    boxes = re.findall(r"^\s+subgraph (\w+)\[", text, re.M)
    assert boxes and not set(boxes) & set(nodes)
    assert "    n_citt_ --> n_citt__2" in text
    assert '    n_loop_q -->|"n#lt;3"| n_count' in text
    # '#1;' was read by Mermaid as the character 1, '<b>' as bold
    assert '"bye<br/>end: tasto #35;1; #quot;fine#quot; #lt;b#gt;x#lt;/b#gt; #amp; [y] | z"' in text
    assert (tmp_path / "g" / "flow.ddt-sì_no.mmd").read_text().startswith("stateDiagram-v2")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_svg_of_nodes_whose_ids_differ_only_by_accents(odd: Path, tmp_path: Path) -> None:
    out = tmp_path / "flow.svg"
    p = graph(str(odd), "-o", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    svg = out.read_text(encoding="utf-8")
    assert svg.count('class="node"') == 11
    assert (tmp_path / "flow.ddt-sì_no.svg").exists()


def test_an_output_that_cannot_be_written_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "taken.mmd").mkdir()
    p = graph(str(ROOT / "examples" / "bank_card_block"), "-o", str(tmp_path / "taken.mmd"))
    assert p.returncode == 1
    assert p.stdout.strip().startswith(f"error: cannot write {tmp_path / 'taken.mmd'}: ")
    assert "Traceback" not in p.stdout + p.stderr


def test_a_compiled_program_is_refused_not_drawn_empty(tmp_path: Path) -> None:
    # a compiled program has no nodes nor edges: it drew "flowchart TD" alone, exit 0
    from compiler import compile_project

    result = compile_project(ROOT / "examples" / "bank_card_block")
    assert result.program is not None
    program = tmp_path / "bank.json"
    program.write_bytes(result.program.canonical_bytes())
    p = graph(str(program), "-o", str(tmp_path / "out" / "flow.mmd"))
    assert p.returncode == 1
    assert p.stdout.startswith(f"error: {program} is a compiled program, which keeps no flow")
    assert not (tmp_path / "out").exists()


SMALL_FLOW = """\
name: small
languages: [it]
nodes:
  - {id: start, kind: start}
  - {id: hello, kind: say, data: {prompt: hi}}
  - {id: bye, kind: end, data: {prompt: hi}}
  - {id: orphan, kind: say, data: {prompt: hi}}
edges:
  - {source: start, target: hello}
  - {source: hello, target: bye}
  - {source: orphan, target: bye}
ddts:
  ok: {type: yes_no}
prompts:
  it:
    hi: "Ciao"
"""


def _small(tmp_path: Path, flow: str = SMALL_FLOW) -> Path:
    proj = tmp_path / "small"
    proj.mkdir()
    (proj / "flow.yaml").write_text(flow, encoding="utf-8")
    return proj


def test_unreachable_nodes_are_drawn_dashed_and_marked(tmp_path: Path) -> None:
    # W001 was printed but the drawing showed the orphan like any other node
    out = tmp_path / "flow.mmd"
    p = graph(str(_small(tmp_path)), "-o", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "W001" in p.stdout and "1 unreachable node(s) drawn dashed" in p.stdout
    text = out.read_text()
    assert '    n_orphan["orphan<br/>say hi<br/>(unreachable)"]' in text
    assert "    class n_orphan unreachable" in text
    assert "(unreachable)" not in text.replace(
        'n_orphan["orphan<br/>say hi<br/>(unreachable)"]', ""
    )


def test_unreachable_nodes_in_dot_and_subflows() -> None:
    from runtime.graph import flow_dot, nodes_at

    doc = {
        "nodes": [{"id": "start", "kind": "start"}, {"id": "lost", "kind": "say"}],
        "subflows": {"a/b": {"nodes": [{"id": "x", "kind": "say"}, {"id": "y", "kind": "say"}]}},
    }
    marked = nodes_at(
        doc, ["/nodes/1/id", "/subflows/a~1b/nodes/1/id", "/nodes/9/id", "/edges/0", "/"]
    )
    assert marked == {("main", "lost"), ("a/b", "y")}
    dot = flow_dot(doc, marked)
    assert 'n_lost [label="lost\\nsay …\\n(unreachable)", shape=box, style="rounded,dashed"' in dot
    assert 'n_a_b__y [label="y\\nsay …\\n(unreachable)", shape=box, style="rounded,dashed"' in dot
    assert 'n_a_b__x [label="x\\nsay …", shape=box];' in dot


def test_a_project_that_does_not_compile_is_still_drawn(tmp_path: Path) -> None:
    # it was refused whole; the flow is what a designer looks at to find a wrong edge
    broken = SMALL_FLOW.replace("{source: hello, target: bye}", "{source: hello, target: byee}")
    out = tmp_path / "flow.mmd"
    p = graph(str(_small(tmp_path, broken)), "-o", str(out))
    assert p.returncode == 1
    assert "byee" in p.stdout  # the compiler's error is shown
    assert "error(s); drew the flow only" in p.stdout
    assert "    n_hello --> n_byee" in out.read_text()
    assert not list(tmp_path.glob("flow.ddt-*"))  # DDT machines need a compiled program
    assert "Traceback" not in p.stdout + p.stderr


def test_a_project_that_cannot_be_read_is_not_drawn(tmp_path: Path) -> None:
    out = tmp_path / "flow.mmd"
    p = graph(str(_small(tmp_path, "nodes: [unclosed\n")), "-o", str(out))
    assert p.returncode == 1
    assert "error(s); nothing drawn" in p.stdout
    assert not out.exists()
    assert "Traceback" not in p.stdout + p.stderr
