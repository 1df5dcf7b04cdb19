"""Property-based: schemathesis generates requests from the served OpenAPI document.

Against a real ``sdn serve`` with valid credentials, every operation gets valid (positive) and
invalid (negative) requests. Whatever comes in, the server must never answer 5xx, and a refused
input must be a 400 whose ``errors`` name the parameter(s) at fault (a declared parameter, one
the request sent, or ``body`` for an unreadable body); other 4xx are only the documented ones
(401/403 never happen here: root's token; 404 unknown object; 409 conflict; 423 locked).
Every answer, accepted or refused, is validated against the published schema (status code
declared, content type, body schema), and an invalid request must be refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = [pytest.mark.api, pytest.mark.slow]

EXAMPLES = 10  # per operation and mode: ~60 operations x 2 modes
ALLOWED_4XX = {400, 404, 409, 423}
TYPE_REFUSAL = "expected a"  # "expected a string, got float": the schema and the server disagree on a type
SCHEMA_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def _declared(case: Any) -> set[str]:
    op = case.operation.definition.raw
    names = {p["name"] for p in op.get("parameters", [])}
    for content in op.get("requestBody", {}).get("content", {}).values():
        names |= set(content.get("schema", {}).get("properties", {}))
    return names


def _sent(case: Any) -> set[str]:
    names: set[str] = set()
    for part in (case.query, case.path_parameters):
        names |= set(part or {})
    if isinstance(case.body, dict):
        names |= {str(k) for k in case.body}
    return names


def problem(case: Any, resp: requests.Response) -> str | None:
    """What is wrong with this answer, or None."""
    if resp.status_code >= 500:
        return f"server error {resp.status_code}: {resp.text[:300]}"
    if resp.status_code < 400:
        return None
    login = case.operation.path == "/api2/json/access/ticket"
    if resp.status_code not in ALLOWED_4XX and not (login and resp.status_code == 401):
        return f"unexpected {resp.status_code}: {resp.text[:300]}"
    try:
        body = resp.json()
    except ValueError:
        return f"{resp.status_code} without a JSON body: {resp.text[:200]}"
    if body.get("data", "missing") is not None or not body.get("message"):
        return f"{resp.status_code} without PVE's error envelope: {body}"
    if resp.status_code != 400:
        return None
    errors = body.get("errors")
    if not isinstance(errors, dict) or not errors:
        return f"400 that names no parameter: {body}"
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and any(TYPE_REFUSAL in str(m) for m in errors.values()):
        return f"a value of the type the schema declares was refused: {body}"
    known = _declared(case) | _sent(case) | {"body"}
    unknown = set(errors) - known
    return f"400 names {sorted(unknown)}, not a parameter of the request: {body}" if unknown else None


def against_schema(case: Any, resp: requests.Response, mode: GenerationMode) -> str | None:
    """The answer validated against the published schema; a negative request must be refused."""
    checks = [*SCHEMA_CHECKS, *([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])]
    try:
        case.validate_response(resp, checks=checks)
    except (AssertionError, BaseExceptionGroup) as err:
        return f"{resp.status_code} does not conform: {err}"[:600]
    return None


@dataclass(frozen=True)
class Runner:
    session: requests.Session
    base: str
    failures: list[str]

    def call(self, op: Any, mode: GenerationMode, case: Any) -> None:
        resp = case.call(base_url=self.base, session=self.session, verify=self.session.verify)
        found = problem(case, resp) or against_schema(case, resp, mode)
        if found:
            self.failures.append(f"{op.label} ({mode.value}): {found}\n  {case.as_curl_command()}")
        if op.label == "POST /api2/json/cluster/sdn/lock" and resp.status_code == 200:
            unlock = f"{self.base}/api2/json/cluster/sdn/lock"
            self.session.delete(unlock, params={"force": 1}, verify=self.session.verify)

    def check(self, op: Any, mode: GenerationMode) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            self.call(op, mode, case)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no parameter that could be made invalid


def test_generated_requests_never_break_the_server(server: Server) -> None:
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_url(
        f"{server.url}/openapi.json",
        config=config,
        headers={"Authorization": server.root_token},
        verify=server.cafile,
    )
    session = requests.Session()
    session.verify = server.cafile
    session.headers["Authorization"] = server.root_token
    base = server.url.removesuffix("/api2/json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    runner = Runner(session, base, failures)
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            runner.check(op, mode)
    assert not failures, "\n".join(failures[:20])
