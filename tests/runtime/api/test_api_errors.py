"""Bad input gets the right status and the one JSON error shape — never a 500 or a
traceback. Runs against a real server with two tenants (acme, globex) and API keys."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.runtime.api.conftest import KEY_A, KEY_A_CHANNEL, KEY_B, auth, upload
from tests.runtime.api.harness import ApiServer, client


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    return dict(body["error"])


@pytest.fixture(scope="module")
def a(keyed: ApiServer) -> Iterator[httpx.Client]:
    with client(keyed, KEY_A) as http:
        yield http


@pytest.fixture(scope="module")
def b(keyed: ApiServer) -> Iterator[httpx.Client]:
    with client(keyed, KEY_B) as http:
        yield http


@pytest.fixture(scope="module")
def program_a(a: httpx.Client, programs: dict[str, dict[str, Any]]) -> str:
    return upload(a, programs["bank_card_block"])


def start(http: httpx.Client, program: str, **extra: Any) -> dict[str, Any]:
    r = http.post("/v1/sessions", json={"program": program, "language": "en", **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def say(text: str, seq: int) -> dict[str, Any]:
    return {"event": "user_input", "text": text, "seq": seq}


# -- malformed requests -------------------------------------------------------------------


def test_malformed_json(a: httpx.Client, program_a: str) -> None:
    r = a.post(
        "/v1/sessions", content=b'{"program": ', headers={"content-type": "application/json"}
    )
    assert_error(r, 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        {"program": 12},
        {"program": "x", "channel": "fax"},
        {"program": "x", "variables": []},
        {"program": "x", "unexpected": 1},
        {},
        [],
        "text",
    ],
)
def test_start_with_wrong_types(a: httpx.Client, body: Any) -> None:
    err = assert_error(a.post("/v1/sessions", json=body), 422, "validation_error")
    assert err["details"]["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"event": "user_input", "text": "hi", "seq": "one"},
        {"event": "shout", "seq": 1},
        {"event": "user_input", "text": 5, "seq": 1},
        {"event": "user_input", "text": "hi"},
        {"event": "user_input", "text": "hi", "seq": -1},
        {"event": "user_input", "text": "hi", "seq": 1, "at": "2020-01-01T00:00:00Z"},
        {"event": "dtmf", "seq": 1},
        {"event": "dtmf", "dtmf": "12x", "seq": 1},
        {"event": "no_input", "text": "hi", "seq": 1},
    ],
)
def test_event_with_wrong_types(a: httpx.Client, program_a: str, body: Any) -> None:
    sid = start(a, program_a)["session_id"]
    assert_error(a.post(f"/v1/sessions/{sid}/events", json=body), 422, "validation_error")


def test_ten_megabyte_body_is_refused_before_parsing(a: httpx.Client) -> None:
    r = a.post(
        "/v1/sessions",
        content=b"{" + b" " * (10 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    err = assert_error(r, 413, "body_too_large")
    assert err["details"]["max_bytes"] == 64 * 1024


def test_chunked_body_over_the_limit(a: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"program": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'

    r = a.post("/v1/sessions", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413, "body_too_large")


def test_one_megabyte_utterance(a: httpx.Client, program_a: str) -> None:
    sid = start(a, program_a)["session_id"]
    r = a.post(f"/v1/sessions/{sid}/events", json=say("a" * 1024 * 1024, 1))
    assert_error(r, 413, "body_too_large")


def test_utterance_over_the_text_limit(a: httpx.Client, program_a: str) -> None:
    sid = start(a, program_a)["session_id"]
    r = a.post(f"/v1/sessions/{sid}/events", json=say("parola " * 700, 1))
    assert_error(r, 413, "text_too_long")
    # nothing happened to the session
    assert a.get(f"/v1/sessions/{sid}").json()["state"]["seq"] == 1


def test_bad_idempotency_key(a: httpx.Client, program_a: str) -> None:
    sid = start(a, program_a)["session_id"]
    r = a.post(f"/v1/sessions/{sid}/events", json=say("x", 1), headers={"Idempotency-Key": "a b"})
    assert_error(r, 400, "bad_idempotency_key")


# -- auth and tenants --------------------------------------------------------------------


def test_missing_key(keyed: ApiServer) -> None:
    with client(keyed) as anon:
        r = anon.get("/v1/programs")
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"


def test_wrong_key(keyed: ApiServer) -> None:
    with client(keyed, "not-a-key") as wrong:
        assert_error(wrong.get("/v1/programs"), 401, "unauthorized")
    with client(keyed) as anon:
        r = anon.get("/v1/programs", headers={"Authorization": "Basic Zm9vOmJhcg=="})
        assert_error(r, 401, "unauthorized")


def test_x_api_key_header_works(keyed: ApiServer) -> None:
    with client(keyed) as anon:
        assert anon.get("/v1/programs", headers={"X-API-Key": KEY_A}).status_code == 200


def test_channel_key_cannot_upload_programs(
    keyed: ApiServer, programs: dict[str, dict[str, Any]], program_a: str
) -> None:
    with client(keyed, KEY_A_CHANNEL) as chan:
        r = chan.post("/v1/programs", json={"program": programs["bank_card_block"]})
        assert_error(r, 403, "forbidden")
        assert_error(
            chan.put("/v1/aliases/card@live", json={"program_id": program_a}), 403, "forbidden"
        )
        # … but it drives sessions of its tenant
        start(chan, program_a)


def test_another_tenants_session_is_not_found(
    a: httpx.Client, b: httpx.Client, program_a: str
) -> None:
    sid = start(a, program_a)["session_id"]
    unknown = assert_error(b.get("/v1/sessions/no-such-session"), 404, "session_not_found")
    theirs = assert_error(b.get(f"/v1/sessions/{sid}"), 404, "session_not_found")
    assert theirs["message"].replace(sid, "X") == unknown["message"].replace("no-such-session", "X")
    assert_error(b.post(f"/v1/sessions/{sid}/events", json=say("x", 1)), 404, "session_not_found")
    assert_error(b.get(f"/v1/sessions/{sid}/turns"), 404, "session_not_found")
    # untouched for its owner
    assert a.get(f"/v1/sessions/{sid}").json()["state"]["seq"] == 1


def test_another_tenants_program_is_not_found(
    a: httpx.Client, b: httpx.Client, program_a: str
) -> None:
    assert_error(b.get(f"/v1/programs/{program_a}"), 404, "program_not_found")
    assert_error(b.post("/v1/sessions", json={"program": program_a}), 404, "program_not_found")
    assert_error(
        b.put("/v1/aliases/card@live", json={"program_id": program_a}), 404, "program_not_found"
    )
    assert program_a not in [p["id"] for p in b.get("/v1/programs").json()["programs"]]
    # an alias of tenant A means nothing to tenant B
    assert a.put("/v1/aliases/card@a", json={"program_id": program_a}).status_code == 200
    assert_error(b.post("/v1/sessions", json={"program": "card@a"}), 404, "program_not_found")


def test_unknown_program_or_alias(a: httpx.Client) -> None:
    assert_error(
        a.post("/v1/sessions", json={"program": "sha256:" + "0" * 64}), 404, "program_not_found"
    )
    assert_error(a.post("/v1/sessions", json={"program": "nobody@live"}), 404, "program_not_found")
    assert_error(a.get("/v1/programs/nobody@live"), 404, "program_not_found")


# -- sessions ------------------------------------------------------------------------------


def test_unknown_session(a: httpx.Client) -> None:
    assert_error(a.get("/v1/sessions/nope"), 404, "session_not_found")
    assert_error(a.post("/v1/sessions/nope/events", json=say("x", 1)), 404, "session_not_found")
    assert_error(a.get("/v1/sessions/%20bad%20id"), 404, "session_not_found")


def test_unsupported_language(a: httpx.Client, program_a: str) -> None:
    r = a.post("/v1/sessions", json={"program": program_a, "language": "fr"})
    assert_error(r, 422, "unsupported_language")


def test_unknown_start_variable(a: httpx.Client, program_a: str) -> None:
    r = a.post("/v1/sessions", json={"program": program_a, "variables": {"nope": 1}})
    assert_error(r, 422, "invalid_event")


def test_event_after_the_session_ended(a: httpx.Client, program_a: str) -> None:
    s = start(a, program_a)
    r = a.post(f"/v1/sessions/{s['session_id']}/events", json={"event": "hangup", "seq": 1})
    assert r.status_code == 200, r.text
    seq = r.json()["seq"]
    assert r.json()["status"] in ("ended", "transferred", "failed")
    r = a.post(f"/v1/sessions/{s['session_id']}/events", json=say("hello", seq))
    assert_error(r, 409, "session_closed")


def test_stale_seq(a: httpx.Client, program_a: str) -> None:
    s = start(a, program_a)
    sid = s["session_id"]
    assert (
        a.post(f"/v1/sessions/{sid}/events", json={"event": "no_input", "seq": 1}).status_code
        == 200
    )
    err = assert_error(a.post(f"/v1/sessions/{sid}/events", json=say("x", 1)), 409, "seq_conflict")
    assert err["details"]["current_seq"] == 2


def test_start_with_an_existing_session_id(a: httpx.Client, program_a: str) -> None:
    start(a, program_a, session_id="call-42")
    r = a.post("/v1/sessions", json={"program": program_a, "session_id": "call-42"})
    assert_error(r, 409, "seq_conflict")


def test_start_retry_with_the_same_idempotency_key(a: httpx.Client, program_a: str) -> None:
    body = {"program": program_a, "session_id": "call-43", "language": "en"}
    first = a.post("/v1/sessions", json=body, headers={"Idempotency-Key": "start-43"})
    again = a.post("/v1/sessions", json=body, headers={"Idempotency-Key": "start-43"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()


def test_an_idempotency_key_reused_for_another_request_is_refused(
    a: httpx.Client, program_a: str
) -> None:
    """The key of the last request, sent again with another event, seq or start: 422 and
    nothing runs (it used to answer the first request's response and drop the new event)."""
    sid = start(a, program_a)["session_id"]
    url = f"/v1/sessions/{sid}/events"
    first = a.post(url, json={"event": "no_input", "seq": 1}, headers={"Idempotency-Key": "k-2"})
    assert first.status_code == 200
    retry = a.post(url, json={"event": "no_input", "seq": 1}, headers={"Idempotency-Key": "k-2"})
    assert retry.content == first.content  # a true retry: the same answer, byte for byte
    for body in ({"event": "hangup", "seq": 1}, say("the 3rd of March", 1), say("x", 2)):
        err = assert_error(
            a.post(url, json=body, headers={"Idempotency-Key": "k-2"}),
            422,
            "idempotency_key_reused",
        )
        assert err["details"] == {"session_id": sid}
    state = a.get(f"/v1/sessions/{sid}").json()["state"]
    assert (state["seq"], state["status"]) == (2, "waiting_input")  # the hangup did not run
    # starts too: the same session id and key with another language
    body = {"program": program_a, "session_id": "call-44", "language": "en"}
    assert a.post("/v1/sessions", json=body, headers={"Idempotency-Key": "s-44"}).status_code == 201
    again = a.post(
        "/v1/sessions", json={**body, "language": "it"}, headers={"Idempotency-Key": "s-44"}
    )
    assert_error(again, 422, "idempotency_key_reused")


def _concurrent(
    keyed: ApiServer, sid: str, keys: list[str | None], *, same_body: bool = False
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=keyed.url, headers=auth(KEY_A)) as http:
            return list(
                await asyncio.gather(
                    *[
                        http.post(
                            f"/v1/sessions/{sid}/events",
                            json=say("attempt" if same_body else f"attempt {i}", 1),
                            headers={"Idempotency-Key": k} if k else {},
                        )
                        for i, k in enumerate(keys)
                    ]
                )
            )

    return asyncio.run(run())


def test_concurrent_turns_exactly_one_wins(
    keyed: ApiServer, a: httpx.Client, program_a: str
) -> None:
    for _ in range(5):
        sid = start(a, program_a)["session_id"]
        responses = _concurrent(keyed, sid, ["k1", "k2"])
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert_error(loser, 409, "seq_conflict")


def test_concurrent_retries_with_one_idempotency_key_get_one_answer(
    keyed: ApiServer, a: httpx.Client, program_a: str
) -> None:
    for _ in range(5):
        sid = start(a, program_a)["session_id"]
        responses = _concurrent(keyed, sid, ["same", "same", "same"], same_body=True)
        assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
        assert len({r.content for r in responses}) == 1
        assert a.get(f"/v1/sessions/{sid}").json()["state"]["seq"] == responses[0].json()["seq"]


# -- routes ------------------------------------------------------------------------------


def test_unknown_route_and_method(a: httpx.Client) -> None:
    assert_error(a.get("/v2/whatever"), 404, "not_found")
    assert_error(a.delete("/v1/programs"), 405, "method_not_allowed")


def test_rate_limit(tmp_path_factory: pytest.TempPathFactory) -> None:
    from runtime.api import ApiSettings
    from tests.runtime.api.conftest import _embedded

    server = ApiServer(
        _embedded(tmp_path_factory.mktemp("rl")), api=ApiSettings(rate_limit_per_s=2)
    ).start()
    try:
        with client(server) as http:
            codes = [http.get("/v1/programs") for _ in range(20)]
            # health checks are never limited
            assert http.get("/healthz").status_code == 200
        limited = [r for r in codes if r.status_code == 429]
        assert limited
        assert_error(limited[0], 429, "rate_limited")
        assert limited[0].headers["retry-after"] == "1"
    finally:
        server.stop()


class _Exploding:
    """Effects with a bug: any backend call raises something nobody expected."""

    async def execute(self, action: Any, *, clock: Any) -> Any:
        raise ZeroDivisionError("a bug in an effect")

    async def aclose(self) -> None:
        return None


def test_unexpected_exception_is_a_500_with_the_request_id(
    keyed: ApiServer, a: httpx.Client, program_a: str
) -> None:
    s = start(a, program_a)
    previous = keyed.controls.stubs
    keyed.controls.stubs = _Exploding()  # type: ignore[assignment]
    try:
        r = a.post(f"/v1/sessions/{s['session_id']}/events", json=say("12 March 1980", 1))
        assert r.status_code == 200, r.text
        # the card digits complete the identity data: the verify_identity call explodes
        bad = a.post(
            f"/v1/sessions/{s['session_id']}/events",
            json=say("1 2 3 4", r.json()["seq"]),
            headers={"X-Request-ID": "req-boom-1"},
        )
    finally:
        keyed.controls.stubs = previous
    err = assert_error(bad, 500, "internal_error")
    assert err["details"]["request_id"] == "req-boom-1" == bad.headers["x-request-id"]
    assert "req-boom-1" in err["message"]
    assert "ZeroDivisionError" not in bad.text and "a bug" not in bad.text
    # nothing was committed: the session is where it was
    state = a.get(f"/v1/sessions/{s['session_id']}").json()["state"]
    assert state["seq"] == r.json()["seq"]
