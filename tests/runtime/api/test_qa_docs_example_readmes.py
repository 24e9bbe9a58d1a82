"""The conversation an example's README shows is the one ``ddtflow chat`` holds.

examples/medical_booking/README.md prints a whole booking as a transcript; its dates
follow the day it runs, so the README names the day and the ``--at`` that fixes it. This
test feeds the transcript's ``you>`` lines to the command the README gives (with that
``--at``) and compares every ``bot>`` and ``you>`` line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "examples" / "medical_booking" / "README.md"


def test_the_medical_booking_transcript_is_what_chat_says(tmp_path: Path) -> None:
    text = README.read_text()
    (transcript,) = re.findall(r"^```text\n(.*?)^```$", text, flags=re.S | re.M)
    (at,) = re.findall(r"`--at\s+(\S+?)`", text.replace("\n", " "))
    shown = [ln for ln in transcript.splitlines() if ln.startswith(("bot> ", "you> "))]
    said = [ln[len("you> ") :] for ln in shown if ln.startswith("you> ")]
    assert len(said) >= 5, transcript
    command = re.search(r"^ddtflow chat examples/medical_booking --backend-stub \S+$", text, re.M)
    assert command is not None, "the README's Italian chat command moved"
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [*command.group(0).split(), "--at", at, "--log", str(tmp_path / "chat.jsonl")],
        input="".join(f"{line}\n" for line in said),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    got = [ln for ln in done.stdout.splitlines() if ln.startswith(("bot> ", "you> "))]
    assert got == shown
