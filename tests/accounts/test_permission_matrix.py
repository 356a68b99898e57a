"""Accounts' permission matrix: every endpoint x role, with today's status. Register,
login and refresh are open to anyone (an empty body is 400, not 401); the rest need a
session. The special cases (MFA-pending sessions, logging out) are in test_permissions.py."""

from __future__ import annotations

import pytest

from tests.permission_matrix import ROLES, Row, assert_row, cases, table_mismatch

pytestmark = pytest.mark.django_db


def _statuses(*codes: int) -> dict[str, int]:
    return dict(zip(ROLES, codes, strict=True))


#                  anonymous, patient, other_patient, licensed elsewhere, physician, ops admin
MATRIX: dict[Row, dict[str, int]] = {
    ("POST", "auth-register"): _statuses(400, 400, 400, 400, 400, 400),
    ("POST", "auth-login"): _statuses(400, 400, 400, 400, 400, 400),
    ("POST", "auth-refresh"): _statuses(400, 400, 400, 400, 400, 400),
    ("POST", "auth-logout"): _statuses(401, 204, 204, 204, 204, 204),
    ("POST", "mfa-enrol"): _statuses(401, 201, 201, 201, 201, 201),
    ("POST", "mfa-enrol-confirm"): _statuses(401, 400, 400, 400, 400, 400),
    ("POST", "mfa-verify"): _statuses(401, 400, 400, 400, 400, 400),
    ("GET", "me"): _statuses(401, 200, 200, 200, 200, 200),
}


def test_every_accounts_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "accounts")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups={}, bodies={})
