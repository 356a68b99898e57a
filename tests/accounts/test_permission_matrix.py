"""Accounts' permission matrix: every endpoint x role, with today's status. Register,
login, refresh, email verification and password reset are open to anyone (an empty body is
400, not 401; registration answers 202 whoever asks and whatever the email); the rest need
a session. The special cases (MFA-pending sessions, logging out) are in test_permissions.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import UserFactory
from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch

pytestmark = pytest.mark.django_db


# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    # The same 202 whether the email is new or taken, and no tokens in it.
    ("POST", "auth-register"): statuses(202, 202, 202, 202, 202, 202),
    ("POST", "email-verify"): statuses(400, 400, 400, 400, 400, 400),
    # Factory users have verified their email already.
    ("POST", "email-verify-resend"): statuses(401, 409, 409, 409, 409, 409),
    ("POST", "password-change"): statuses(401, 400, 400, 400, 400, 400),
    ("POST", "password-reset"): statuses(400, 400, 400, 400, 400, 400),
    ("POST", "password-reset-confirm"): statuses(400, 400, 400, 400, 400, 400),
    ("POST", "auth-login"): statuses(400, 400, 400, 400, 400, 400),
    ("POST", "auth-refresh"): statuses(400, 400, 400, 400, 400, 400),
    ("POST", "auth-logout"): statuses(401, 204, 204, 204, 204, 204),
    # Staff enroll only with an enrollment token; patients need none.
    ("POST", "mfa-enroll"): statuses(401, 201, 201, 400, 400, 400),
    ("POST", "mfa-enroll-confirm"): statuses(401, 400, 400, 400, 400, 400),
    ("POST", "mfa-verify"): statuses(401, 400, 400, 400, 400, 400),
    ("GET", "me"): statuses(401, 200, 200, 200, 200, 200),
    # Staff accounts (accounts/staff_api.py): a credentialing user only, and none of the
    # actors holds the permission; refused before the id is looked up (test_staff_api.py).
    ("POST", "staff-invite"): statuses(401, 403, 403, 403, 403, 403),
    ("POST", "staff-mfa-enrollment-token"): statuses(401, 403, 403, 403, 403, 403),
    ("POST", "staff-mfa-reset"): statuses(401, 403, 403, 403, 403, 403),
}

BODIES = {
    ("POST", "auth-register"): {"email": "new@example.test", "password": "a sturdy passphrase"},
    ("POST", "staff-invite"): {"email": "new.staff@example.test", "role": "ops_admin"},
    ("POST", "staff-mfa-reset"): {"reason": "lost phone"},
}


def a_staff_member(owner: Any) -> dict[str, Any]:
    return {"public_id": UserFactory(role="ops_admin", is_staff=True).public_id}


SETUPS = {"staff-mfa-enrollment-token": a_staff_member, "staff-mfa-reset": a_staff_member}


def test_every_accounts_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "accounts")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)
