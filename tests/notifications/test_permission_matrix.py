"""Notifications' permission matrix: every endpoint x role, with today's status. The
Twilio webhooks take no session by design: without a valid signature everyone gets 403."""

from __future__ import annotations

from typing import Any

import pytest

from notifications.models import Category, Channel
from notifications.services import message_schedule
from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch

pytestmark = pytest.mark.django_db


# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    ("GET", "notification-preferences"): statuses(401, 200, 200, 403, 403, 403),
    ("PATCH", "notification-preferences"): statuses(401, 400, 400, 403, 403, 403),
    ("GET", "notification-messages"): statuses(401, 403, 403, 403, 403, 200),
    ("POST", "twilio-inbound"): statuses(403, 403, 403, 403, 403, 403),
    ("POST", "twilio-status"): statuses(403, 403, 403, 403, 403, 403),
}


def message_to(owner: Any) -> dict[str, Any]:
    message_schedule(
        recipient=owner,
        template_key="account_update",
        category=Category.CARE,
        channel=Channel.SMS,
        dedupe_key="matrix",
        context={"path": "/"},
    )
    return {}


SETUPS = {"notification-messages": message_to}
FORM_ROWS = frozenset({("POST", "twilio-inbound"), ("POST", "twilio-status")})  # as Twilio posts


def test_every_notifications_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "notifications")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies={}, form_rows=FORM_ROWS)
