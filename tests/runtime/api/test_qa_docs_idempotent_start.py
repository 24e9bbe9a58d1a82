"""A start retried with its Idempotency-Key gets the same answer — with or without a
``session_id``.

docs/api.md, "Sessions": "``session_id`` is optional (e.g. the call id); with an
``Idempotency-Key``, a retried start gets the same answer." A gateway whose start timed
out and that sent it again with the same key but no ``session_id`` got a second, new
session (another ``session_id``): the first one was left waiting, unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.runtime.api.conftest import upload
from tests.runtime.api.harness import ApiServer, client, post_at_once


@pytest.fixture(scope="module")
def http(embedded: ApiServer, programs: dict[str, dict[str, Any]]) -> Iterator[httpx.Client]:
    with client(embedded) as c:
        pid = upload(c, programs["bank_card_block"])
        c.put("/v1/aliases/cards@live", json={"program_id": pid}).raise_for_status()
        yield c


START = {"program": "cards@live", "channel": "voice", "language": "en"}


def _start(http: httpx.Client, key: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return http.post("/v1/sessions", json=body or START, headers={"Idempotency-Key": key})


def test_a_retried_start_without_session_id_gets_the_same_session(http: httpx.Client) -> None:
    first = _start(http, "start-retry-1")
    again = _start(http, "start-retry-1")
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json()["session_id"] == first.json()["session_id"]
    assert again.content == first.content


def test_other_keys_start_other_sessions(http: httpx.Client) -> None:
    ids = {_start(http, f"start-other-{i}").json()["session_id"] for i in range(3)}
    plain = {http.post("/v1/sessions", json=START).json()["session_id"] for _ in range(2)}
    assert len(ids) == 3 and len(plain) == 2 and not ids & plain


def test_the_key_with_another_start_is_refused(http: httpx.Client) -> None:
    assert _start(http, "start-reused").status_code == 201
    r = _start(http, "start-reused", {**START, "language": "it"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "idempotency_key_reused"


def test_concurrent_retries_of_one_start_get_one_answer(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "start-concurrent"}
    answers = post_at_once([(http, "/v1/sessions", START, headers)] * 4)
    assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
    assert len({r.content for r in answers}) == 1


def test_the_retried_session_goes_on(http: httpx.Client) -> None:
    first = _start(http, "start-then-turn").json()
    sid = first["session_id"]
    r = http.post(
        f"/v1/sessions/{sid}/events",
        json={"event": "no_input", "seq": first["seq"]},
        headers={"Idempotency-Key": f"{sid}-1"},
    )
    assert r.status_code == 200, r.text
    late = _start(http, "start-then-turn")  # the start's retry, after the session moved on
    assert late.status_code == 409, late.text
    assert late.json()["error"]["code"] == "seq_conflict"
