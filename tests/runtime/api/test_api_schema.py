"""Schemathesis over the published OpenAPI of a live server: no 5xx, every response
conforms to the schema (status codes, content types, bodies). Bounded: 50 examples per
operation, derandomized.

(schemathesis' own pytest plugin does not run under pytest 9 here, so each operation's
strategy is driven by hypothesis directly.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.runtime.api.harness import ApiServer


@pytest.fixture(scope="module")
def operations(embedded: ApiServer) -> dict[str, Any]:
    schema = schemathesis.openapi.from_url(f"{embedded.url}/openapi.json")
    ops = {}
    for result in schema.get_all_operations():
        op = result.ok()
        ops[op.label] = op
    return ops


def labels() -> Iterator[str]:
    yield from [
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "POST /v1/programs",
        "GET /v1/programs",
        "GET /v1/programs/{program_id}",
        "PUT /v1/aliases/{name}",
        "POST /v1/sessions",
        "POST /v1/sessions/{session_id}/events",
        "GET /v1/sessions/{session_id}",
        "DELETE /v1/sessions/{session_id}",
        "GET /v1/sessions/{session_id}/turns",
        "GET /v1/sessions/{session_id}/replay",
        "GET /v1/sessions/{session_id}/export",
    ]


def test_every_operation_is_covered(operations: dict[str, Any]) -> None:
    assert set(operations) == set(labels())


@pytest.mark.parametrize("label", list(labels()))
def test_openapi_contract(operations: dict[str, Any], label: str) -> None:
    op = operations[label]

    @given(case=op.as_strategy())
    @settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(excluded_checks=excluded)

    # A program or project upload is validated beyond its schema (the program's own model
    # and content hash, the compiler's checks): a schema-valid body may get a 422 there.
    excluded = [positive_data_acceptance] if label == "POST /v1/programs" else []

    run()
