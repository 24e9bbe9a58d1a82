"""Programs: compiled uploads, projects compiled on upload (diagnostics in a 422), listing,
aliases moved atomically while sessions stay pinned to their program id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.runtime.api.conftest import ROOT, upload
from tests.runtime.api.harness import ApiServer, client
from tests.runtime.api.test_api_errors import assert_error

MINI = Path(ROOT / "tests/compiler/cases/ok_minimal/project/flow.yaml")


@pytest.fixture(scope="module")
def http(embedded: ApiServer) -> Any:
    with client(embedded) as c:
        yield c


def mini_project() -> dict[str, Any]:
    data = yaml.safe_load(MINI.read_text())
    assert isinstance(data, dict)
    return data


def test_upload_a_project_compiles_it(http: httpx.Client) -> None:
    r = http.post("/v1/programs", json={"project": mini_project()})
    assert r.status_code in (200, 201), r.text
    body = r.json()
    assert body["id"].startswith("sha256:")
    assert body["project"] == "mini"
    assert body["languages"] == ["it"]
    again = http.post("/v1/programs", json={"project": mini_project()})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["created"] is False
    s = http.post("/v1/sessions", json={"program": body["id"]})
    assert s.status_code == 201
    assert [a["text"] for a in s.json()["actions"] if a["type"] == "say"][0] == "Buongiorno"


def test_a_broken_project_gets_its_diagnostics(http: httpx.Client) -> None:
    project = mini_project()
    project["edges"].append({"source": "bye", "target": "nowhere"})
    err = assert_error(http.post("/v1/programs", json={"project": project}), 422, "compile_failed")
    diags = err["details"]["diagnostics"]
    assert diags and all({"code", "message", "severity"} <= set(d) for d in diags)
    assert any("nowhere" in d["message"] for d in diags)


def test_not_a_program(http: httpx.Client) -> None:
    assert_error(http.post("/v1/programs", json={"program": {"tasks": 3}}), 422, "invalid_program")
    assert_error(http.post("/v1/programs", json={}), 422, "validation_error")
    assert_error(
        http.post("/v1/programs", json={"program": {}, "project": {}}), 422, "validation_error"
    )
    assert_error(http.post("/v1/programs", json={"project": []}), 422, "validation_error")


def test_a_tampered_program_is_refused(
    http: httpx.Client, programs: dict[str, dict[str, Any]]
) -> None:
    program = dict(programs["bank_card_block"])
    program["id"] = "sha256:" + "1" * 64
    assert_error(http.post("/v1/programs", json={"program": program}), 422, "program_id_mismatch")


def test_list_and_get(http: httpx.Client, programs: dict[str, dict[str, Any]]) -> None:
    pid = upload(http, programs["insurance_claim"])
    listed = http.get("/v1/programs").json()
    assert pid in [p["id"] for p in listed["programs"]]
    got = http.get(f"/v1/programs/{pid}").json()
    assert got["id"] == pid and got["project"] == programs["insurance_claim"]["project"]


def test_alias_moves_and_sessions_stay_pinned(
    http: httpx.Client, programs: dict[str, dict[str, Any]]
) -> None:
    v1 = upload(http, programs["bank_card_block"])
    v2 = http.post("/v1/programs", json={"project": mini_project()}).json()["id"]
    r = http.put("/v1/aliases/card@live", json={"program_id": v1})
    assert r.status_code == 200 and r.json()["program_id"] == v1
    old = http.post("/v1/sessions", json={"program": "card@live", "language": "it"}).json()
    assert old["program_id"] == v1
    r = http.put("/v1/aliases/card@live", json={"program_id": v2})
    assert r.json() == {"name": "card@live", "program_id": v2, "previous": v1}
    assert http.get("/v1/programs/card@live").json()["id"] == v2
    assert http.get("/v1/programs").json()["aliases"]["card@live"] == v2
    new = http.post("/v1/sessions", json={"program": "card@live"}).json()
    assert new["program_id"] == v2
    # the conversation in flight goes on with its own program
    r = http.post(
        f"/v1/sessions/{old['session_id']}/events",
        json={"event": "user_input", "text": "12 marzo 1980", "seq": old["seq"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["program_id"] == v1
    state = http.get(f"/v1/sessions/{old['session_id']}").json()["state"]
    assert state["program_id"] == v1


def test_alias_to_an_unknown_program(http: httpx.Client) -> None:
    r = http.put("/v1/aliases/x@live", json={"program_id": "sha256:" + "2" * 64})
    assert_error(r, 404, "program_not_found")
    r = http.put("/v1/aliases/sha256:abc", json={"program_id": "sha256:" + "2" * 64})
    assert_error(r, 422, "validation_error")


def test_programs_preloaded_at_startup(
    tmp_path_factory: pytest.TempPathFactory, programs: dict[str, dict[str, Any]]
) -> None:
    from runtime.api import ApiSettings
    from schemas.program import Program
    from tests.runtime.api.conftest import _embedded

    where = tmp_path_factory.mktemp("preload")
    program = Program.model_validate(programs["insurance_claim"])
    (where / "claims.json").write_bytes(program.canonical_bytes())
    server = ApiServer(
        _embedded(tmp_path_factory.mktemp("data")),
        api=ApiSettings(programs_dir=where, programs_tenant="default", rate_limit_per_s=0),
    ).start()
    try:
        with client(server) as http:
            assert [p["id"] for p in http.get("/v1/programs").json()["programs"]] == [program.id]
    finally:
        server.stop()
