"""docs/api.md's examples, run as written against a server on loopback, so they cannot drift.

- every ``bash`` block of "Reference by example" and the reference client's curl lines
  that hold no elided part (``…`` outside a comment), in order, as one integrator would
  type them: ``API``, ``KEY`` and ``AUTH`` set as the docs set them, ``SID`` taken from the
  first answer that names a session; each must exit 0, print nothing on stderr, and every
  JSON it prints must be an answer, not an error;
- the reference client in Python (httpx), in English and in Italian, fed a caller's
  answers on stdin: it must play the prompts and stop on the transfer (the test server's
  backends have no canned response, so the bank's identity check fails and the caller is
  put through, as the docs' flow says), or on the end after a hang-up.

The server is the tests' harness (production wiring, canned backends) with the key the
docs use (``change-me``) for tenant ``acme``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.api.auth import hash_key
from runtime.settings import Settings
from tests.runtime.api.conftest import upload
from tests.runtime.api.harness import ApiServer, client

ROOT = Path(__file__).resolve().parents[3]
API_MD = ROOT / "docs" / "api.md"
KEY = "change-me"


def _section(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i : text.index(end, i)]


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, flags=re.S | re.M)


def _code(line: str) -> str:
    """A bash line without its trailing comment (our examples put two spaces before #)."""
    return "" if line.lstrip().startswith("#") else re.split(r"\s{2,}#", line)[0]


def _runnable(block: str) -> bool:
    return not any("…" in _code(line) for line in block.splitlines())


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, programs: dict[str, dict[str, Any]]
) -> Iterator[ApiServer]:
    """The docs' server, with ``cards@live`` already pointing at the bank example (each
    test stands alone: pytest-xdist may run them on different workers)."""
    tmp = tmp_path_factory.mktemp("docs")
    settings = Settings(REDIS_URL=None, AMQP_URL=None, MONGO_URL=None, data_dir=tmp)
    srv = ApiServer(settings, keys={"acme": [hash_key(KEY)]}).start()
    try:
        with client(srv, KEY) as http:
            pid = upload(http, programs["bank_card_block"])
            http.put("/v1/aliases/cards@live", json={"program_id": pid}).raise_for_status()
        yield srv
    finally:
        srv.stop()


def _env(server: ApiServer) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(API=server.url, KEY=KEY, AUTH=f"Authorization: Bearer {KEY}")
    return env


def _json_lines(out: str) -> list[dict[str, object]]:
    """The JSON objects a block printed (curl prints no newline after a body, so several
    can share a line; ``ddtflow compile`` prints plain lines between them)."""
    decoder, docs, i = json.JSONDecoder(), [], out.find("{")
    while i >= 0:
        doc, end = decoder.raw_decode(out, i)
        docs.append(doc)
        i = out.find("{", end)
    return docs


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl, jq")
def test_the_curl_examples_run_as_written(server: ApiServer, tmp_path: Path) -> None:
    text = API_MD.read_text()
    reference = _section(text, "## Reference by example", "### The say and listen actions")
    client = _section(text, "## Reference client", "With Python and httpx")
    blocks = [b for b in _blocks(reference, "bash") + _blocks(client, "bash") if _runnable(b)]
    ran = " ".join(blocks)
    for needed in ("/v1/programs", "/v1/aliases/", "/v1/sessions", "/events", "DELETE"):
        assert needed in ran, f"no runnable example of {needed} left in docs/api.md"
    cards = tmp_path / "cards.json"
    env = _env(server)
    for block in blocks:
        script = block.replace("/tmp/cards.json", str(cards))
        if re.search(r"^R=", script, flags=re.M):
            script += '\nprintf "%s\\n" "$R"\n'  # the reference loop keeps its answer in R
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0 and not done.stderr, (block, done.stdout, done.stderr)
        for answer in _json_lines(done.stdout):
            assert "error" not in answer, (block, answer)
            if "session_id" in answer and "SID" not in env:
                env["SID"] = str(answer["session_id"])
    assert "SID" in env, "no example started a session"


def _gateway(server: ApiServer, tmp_path: Path) -> Path:
    client = _section(API_MD.read_text(), "## Reference client", "## Benchmark")
    (code,) = _blocks(client, "python")
    assert 'API, KEY = "http://localhost:8000", "change-me"' in code
    path = tmp_path / "gateway.py"
    path.write_text(code.replace("http://localhost:8000", server.url))
    return path


@pytest.mark.parametrize(
    ("language", "said", "heard"),
    [
        ("en", "12 March 1980\n\n1 2 3 4\n", "To check your identity"),
        ("it", "12 marzo 1980\nuno due tre quattro\n", "Per verificare la sua identità"),
    ],
)
def test_the_python_reference_client_runs_to_the_transfer(
    server: ApiServer, tmp_path: Path, language: str, said: str, heard: str
) -> None:
    done = subprocess.run(
        [sys.executable, str(_gateway(server, tmp_path)), language],
        input=said,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert heard in done.stdout, done.stdout
    assert "TRANSFER to card_services" in done.stdout.splitlines()[-1], done.stdout


def test_the_python_reference_client_hangs_up_at_end_of_input(
    server: ApiServer, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, str(_gateway(server, tmp_path)), "en"],
        input="12 March 1980\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.splitlines()[-1].endswith("END (hangup)"), done.stdout
