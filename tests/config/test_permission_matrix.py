"""The permission matrix as a whole: every route the resolver knows is in an app's matrix
or public by design, a table that misses or invents a row says which, and the public
routes (probes, the OpenAPI schema and its viewer) answer every role alike."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.permission_matrix import (
    MATRIX_APPS,
    ROLES,
    Row,
    all_routes,
    assert_row,
    cases,
    is_public,
    leaked,
    rows_of,
    statuses,
    table_mismatch,
)

TESTS = Path(__file__).resolve().parent.parent

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    ("GET", "healthz"): statuses(200, 200, 200, 200, 200, 200),
    ("GET", "readyz"): statuses(200, 200, 200, 200, 200, 200),
    ("GET", "schema"): statuses(200, 200, 200, 200, 200, 200),
    ("GET", "docs"): statuses(200, 200, 200, 200, 200, 200),
}


def test_every_route_is_in_an_app_matrix_or_public():
    stray = sorted(
        f"{route.app}: {route.pattern} ({route.name})"
        for route in all_routes()
        if route.app not in MATRIX_APPS and not is_public(route)
    )
    assert not stray, "routes in no permission matrix: add the app to MATRIX_APPS\n" + "\n".join(
        stray
    )


@pytest.mark.parametrize("app", MATRIX_APPS)
def test_every_matrix_app_has_its_table(app):
    assert (TESTS / app / "test_permission_matrix.py").is_file()
    assert rows_of(app)


def test_public_routes_are_the_config_table():
    public = {
        (method, route.name)
        for route in all_routes()
        if is_public(route) and not route.namespace
        for method in route.methods
    }
    assert public == set(MATRIX)


def test_a_missing_or_invented_row_is_named():
    table = {row: dict.fromkeys(ROLES, 200) for row in rows_of("accounts")}
    del table[("GET", "me")]
    table[("GET", "no-such-endpoint")] = dict.fromkeys(ROLES, 200)
    table[("POST", "auth-login")] = {"anonymous": 400}
    problems = table_mismatch(table, "accounts").splitlines()
    assert problems == [
        "endpoint without a row: ('GET', 'me')",
        "row without an endpoint: ('GET', 'no-such-endpoint')",
        f"row ('POST', 'auth-login') names roles ['anonymous'], not {sorted(ROLES)}",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups={}, bodies={})


def test_a_leak_is_found_as_a_whole_word_only():
    response = SimpleNamespace(content=b'{"results": [{"name": "Jordan Rivers12"}]}')
    assert leaked(response, {"Rivers12", "Rivers1"}) == ["Rivers12"]
