"""``ddtflow graph``: Mermaid always, SVG through graphviz when it is installed."""

from __future__ import annotations

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
