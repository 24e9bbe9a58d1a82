"""An uploaded project or program with text JSON cannot store is 422, never a 500.

docs/api.md: a project with errors is ``422 compile_failed``, a compiled program that is
not one ``422 invalid_program``, and "no traceback ever reaches a response". A project
whose name held a lone surrogate escape (``"mini\\ud800"``, valid JSON, not Unicode) was a
500: the compiler's diagnostic echoed the name and the error response could not be
serialised; one in a prompt was reported as an *internal compiler error*.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.runtime.api.harness import ApiServer, client

ROOT = Path(__file__).resolve().parents[3]
MINI = ROOT / "tests/compiler/cases/ok_minimal/project/flow.yaml"


@pytest.fixture(scope="module")
def http(embedded: ApiServer) -> Any:
    with client(embedded) as c:
        yield c


def _mini() -> str:
    return json.dumps(yaml.safe_load(MINI.read_text()))


def _post(http: httpx.Client, body: str) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return http.post("/v1/programs", content=body.encode(), headers=headers)


@pytest.mark.parametrize(
    ("label", "old", "new"),
    [
        ("project name", '"name": "mini"', '"name": "mini\\ud800"'),
        ("prompt text", '"Buongiorno"', '"Buongiorno\\udc80"'),
        ("a key", '"text": {"it"', '"text": {"\\ud800it"'),
    ],
)
def test_lone_surrogate_in_a_project_is_422(
    http: httpx.Client, label: str, old: str, new: str
) -> None:
    doc = _mini()
    assert old in doc
    r = _post(http, '{"project": ' + doc.replace(old, new, 1) + "}")
    assert r.status_code == 422, (label, r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "validation_error", body
    assert "Unicode" in body["error"]["message"], body


def test_lone_surrogate_in_a_compiled_program_is_422(
    http: httpx.Client, programs: dict[str, dict[str, Any]]
) -> None:
    program = json.dumps(programs["bank_card_block"])
    assert '"project":"bank_card_block"' in program.replace(" ", "")
    bad = program.replace('"bank_card_block"', '"bank\\ud800"', 1)
    r = _post(http, '{"program": ' + bad + "}")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error", r.text


def test_the_clean_project_still_compiles(http: httpx.Client) -> None:
    r = _post(http, '{"project": ' + _mini() + "}")
    assert r.status_code in (200, 201), r.text


def test_an_error_echoing_a_lone_surrogate_is_still_json() -> None:
    """The last line of defence: an error message that holds a lone surrogate (echoed
    from a request) is escaped, not a failure of the error handler itself."""
    from runtime.api.errors import error_response

    r = error_response(422, "validation_error", "name 'mini\ud800' is bad", {"x": "\udc80"})
    assert r.status_code == 422
    body = json.loads(bytes(r.body))
    assert body["error"]["message"] == "name 'mini\ud800' is bad"
    assert body["error"]["details"] == {"x": "\udc80"}
