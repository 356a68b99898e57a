"""Every operation in /api/schema/, fuzzed by schemathesis as each kind of caller.

The operations are read from the schema itself, so a new endpoint is fuzzed the day it
is added. Each generated request goes to the WSGI app; its response must not be a 5xx
and must match the schema: a documented status, the documented content type, a body
and headers that validate. `FUZZ_MAX_EXAMPLES` raises the number of examples per
operation and role (`make fuzz`); by default the run is small and deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, strategies
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.actors import access_token_for, actor_user

pytestmark = pytest.mark.django_db

FUZZ_MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "0"))
MAX_EXAMPLES = FUZZ_MAX_EXAMPLES or 8

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

# Query strings stay strings that django-filter reads leniently (an unknown parameter or a
# page_size it cannot read is ignored), and the Authorization header is the role's own:
# a request made invalid only there need not be refused.
LENIENT = {ParameterLocation.QUERY}
CHECKS_IF_VALID = [check for check in CHECKS if check is not negative_data_rejection]

ROLES = ["anonymous", "patient", "physician", "ops_admin"]

SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", application)
OPERATIONS = {
    operation.label: operation
    for result in SCHEMA.get_all_operations()
    for operation in [result.ok()]
}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Argon2 takes most of a login's time; what is fuzzed here is the HTTP contract."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def wsgi_in_test_transaction() -> Iterator[None]:
    """Requests sent straight to the WSGI app would close the test's connection (and its
    transaction) when they finish; Django's own test client disconnects this the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def bearer_for(request: pytest.FixtureRequest, role: str) -> dict[str, str]:
    """The Authorization header of a fresh session for `role` (staff with MFA done)."""
    if role == "anonymous":
        return {}
    return {"Authorization": f"Bearer {access_token_for(actor_user(request, role))}"}


def in_rolled_back_savepoint(call: Callable[[], Any]) -> Any:
    """Run one example in a savepoint that is always rolled back, so no example sees
    another's writes and the outcome does not depend on their order."""
    with transaction.atomic():
        try:
            return call()
        finally:
            transaction.set_rollback(True)


def must_be_refused(case: schemathesis.Case) -> bool:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    return any(
        mutation.parameter_location not in LENIENT and mutation.parameter != "Authorization"
        for mutation in getattr(meta.phase.data, "mutations", ())
    )


def cases_of(operation: Any) -> Any:
    """Valid requests, and requests the schema says are invalid (wrong types, unknown
    fields, missing required headers), which must be refused with a 4xx."""
    return strategies.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_conforms_to_schema(
    request: pytest.FixtureRequest, wsgi_in_test_transaction: None, label: str, role: str
) -> None:
    operation = OPERATIONS[label]
    headers = bearer_for(request, role)

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not FUZZ_MAX_EXAMPLES,
        suppress_health_check=list(HealthCheck),
        # Shrinking a failure to its smallest request is worth its time only in `make fuzz`.
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate]
        + ([hypothesis.Phase.shrink] if FUZZ_MAX_EXAMPLES else []),
    )
    @given(case=cases_of(operation))
    def run(case: schemathesis.Case) -> None:
        response = in_rolled_back_savepoint(lambda: case.call(headers=headers))
        checks = CHECKS if must_be_refused(case) else CHECKS_IF_VALID
        case.validate_response(response, checks=checks, headers=headers)

    run()


def test_every_operation_is_fuzzed() -> None:
    """The parametrization above comes from the live schema: a schema that failed to list
    the API's operations would fuzz nothing and pass."""
    paths = {label.split(" ", 1)[1] for label in OPERATIONS}
    assert {"/api/me", "/api/auth/login", "/api/billing/stripe/webhook"} <= paths
    assert len(OPERATIONS) == sum(
        method in {"get", "post", "put", "patch", "delete"}
        for item in SCHEMA.raw_schema["paths"].values()
        for method in item
    )
