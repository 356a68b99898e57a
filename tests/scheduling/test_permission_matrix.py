"""Scheduling's permission matrix: every endpoint x role, with today's status. Staff act
for a patient they name; the matrix's static bodies name none, so staff rows that need
one answer 400."""

from __future__ import annotations

from typing import Any

import pytest

from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch

pytestmark = pytest.mark.django_db

SLOT_QUERY = {"kind": "check_in", "date_from": "2026-12-07", "date_to": "2026-12-08"}

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    # slot search
    ("GET", "slot-search"): statuses(401, 200, 200, 400, 400, 400),
}

SETUPS: dict[str, Any] = {}

BODIES: dict[Row, dict[str, Any]] = {
    ("GET", "slot-search"): SLOT_QUERY,
}


def test_the_table_covers_every_endpoint():
    assert table_mismatch(MATRIX, "scheduling") == ""


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)
