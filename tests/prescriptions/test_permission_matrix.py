"""Prescriptions' permission matrix: every endpoint x role, with today's status. Each
resource keeps its rows, setups and bodies in its own block."""

from __future__ import annotations

from typing import Any

import pytest

from tests.permission_matrix import Row, assert_row, cases, table_mismatch

pytestmark = pytest.mark.django_db

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {}
SETUPS: dict[str, Any] = {}
BODIES: dict[Row, Any] = {}


def test_every_prescriptions_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "prescriptions")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)
