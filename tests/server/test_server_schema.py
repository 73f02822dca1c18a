"""The OpenAPI schema, fuzzed by schemathesis against the real app (signed in as an admin,
so every operation is reachable): no server error, and every response matches the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from storage_builders import write_session

EXAMPLES = 20  # per operation


def test_schema_is_served(app) -> None:
    from fastapi.testclient import TestClient

    document = TestClient(app).get("/openapi.json").json()
    assert document["info"]["title"] == "fastrec admin server"
    assert "/admin/session-recordings/share/{session_id}" in document["paths"]


def test_api_conforms_to_its_schema(app, recordings: Path) -> None:
    # schemathesis' pytest plugin (from_fixture) does not run on pytest 9 yet: the same
    # generation, one hypothesis run per operation
    write_session(recordings, 2, session_id="rdp_42")
    app.state.ctx.catalogue.refresh()
    token = app.state.ctx.accounts.create_token("root", "schemathesis")[1]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
