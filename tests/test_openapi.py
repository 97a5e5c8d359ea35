"""The OpenAPI description tells the truth: every operation, fuzzed from its own schema, answers
only the status codes, headers and bodies it documents, never a 5xx, and refuses what it says
it refuses. schemathesis drives it (a bounded number of examples per operation, so CI stays
fast); a new mismatch fails the build."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import positive_data_acceptance
from sqlalchemy.orm import Session, sessionmaker

from lienthong.accounts import service as accounts
from lienthong.accounts.deps import SESSION_COOKIE
from lienthong.accounts.models import Role
from lienthong.app import create_app
from lienthong.config import Settings
from lienthong.runtime import Runtime

EXAMPLES = int(os.environ.get("LIENTHONG_FUZZ_EXAMPLES", "25"))
# Operations whose valid input a schema cannot tell: a signed edXML package, a CSV file, an
# HMAC- or RFC 9421-signed call, a rule across fields (a period's start after its end) or
# across records (a parent must exist and be active, a unit cannot succeed itself).
# Generated input is refused with a 4xx, as it should be, so "schema-valid input must be
# accepted" does not apply to them; every other check still does.
OPAQUE_INPUT = re.compile(
    r"^(POST /api/v1/documents$|POST /api/v1/edxml/validate|POST /api/v1/organizations/import"
    r"|POST /api/v1/onestop/payments/callback|GET /api/v1/onestop/kpis"
    r"|POST /api/v1/organizations|PATCH /api/v1/organizations/"
    r"|[A-Z]+ /vdxp/|[A-Z]+ /federation/v1/|PUT /api/v1/signing/|POST /tsa"
    r"|POST /api/v1/data/requests$|POST /api/v1/data/datasets/"
    r"|POST /api/v1/netmon/import/|POST /api/v1/netmon/meetings$)"
)

# A time-stamp query (RFC 3161) is DER bytes: sent as any binary body is.
schemathesis.serializer.alias("application/timestamp-query", "application/octet-stream")


@pytest.fixture
def app_under_test(
    settings: Settings, session_factory: sessionmaker[Session], runtime: Runtime
) -> Iterator[object]:
    app = create_app(settings, session_factory, runtime)
    with TestClient(app):  # run the lifespan
        yield app


@pytest.fixture
def api_schema(app_under_test: object) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app_under_test)


@pytest.fixture(params=["software", "node admin"])
def caller(request: pytest.FixtureRequest, db: Session) -> dict[str, str]:
    """Agency software with its credentials, and a node administrator signed in: between
    them they reach every operation past its authentication."""
    if request.param == "software":
        system_id, secret = accounts.issue_credential(db, agency_code="000.00.02.H49")
        db.commit()
        token = base64.b64encode(f"{system_id}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    user = accounts.create_user(
        db,
        username="fuzz.admin",
        full_name="Quản trị thử",
        password="correct horse",
        grants=[("000.00.00.H49", Role.ADMIN)],
    )
    session_token = accounts.open_session(db, user=user, hours=1)
    db.commit()
    return {"Cookie": f"{SESSION_COOKIE}={session_token}"}


def test_every_operation_keeps_its_word(
    api_schema: schemathesis.BaseSchema, caller: dict[str, str]
) -> None:
    failures: dict[str, str] = {}
    only = re.compile(os.environ.get("LIENTHONG_FUZZ_ONLY", ""))  # to look at some while fixing
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if not only.search(operation.label):
            continue

        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            excluded = (
                [positive_data_acceptance] if OPAQUE_INPUT.search(case.operation.label) else []
            )
            case.call_and_validate(headers=caller, excluded_checks=excluded)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect every failure, report all
            failures[operation.label] = str(exc)[:2000]
    codes = re.compile(r"ST\d+ [^\n]+")
    lines = []
    for label, text in failures.items():
        found = sorted(set(codes.findall(text))) or [text[:200]]
        lines.append(f"{label}: {'; '.join(found)}")
    details = "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
    assert not failures, "\n".join(lines) + "\n\n" + details
