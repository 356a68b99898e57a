"""Billing's permission matrix: every endpoint x role, with today's status. The `patient`
actor is a member (checked out through the local gateway); the membership endpoints act on
the caller's own membership, so `other_patient` meets their own, empty one. The Stripe
webhook takes no session by design (unsigned: 400 for everyone), nor do the local
gateway's hosted pages, which stand in for Stripe's and are reached by their secret id."""

from __future__ import annotations

from typing import Any

import pytest

from billing.models import Invoice
from billing.services.checkout import checkout_start
from billing.services.membership import portal_url
from tests.billing.support import become_member
from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch

pytestmark = pytest.mark.django_db


# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    ("GET", "billing-membership"): statuses(401, 200, 200, 403, 403, 403),
    ("POST", "billing-cancel"): statuses(401, 200, 409, 403, 403, 403),
    ("POST", "billing-resume"): statuses(401, 200, 409, 403, 403, 403),
    ("POST", "billing-pay-now"): statuses(401, 409, 409, 403, 403, 403),
    ("POST", "billing-checkout"): statuses(401, 409, 200, 403, 403, 403),
    ("POST", "billing-portal"): statuses(401, 200, 409, 403, 403, 403),
    ("GET", "billing-invoices"): statuses(401, 200, 200, 403, 403, 403),
    ("GET", "billing-memberships"): statuses(401, 403, 403, 403, 403, 200),
    ("GET", "billing-summary"): statuses(401, 403, 403, 403, 403, 200),
    ("POST", "billing-stripe-webhook"): statuses(400, 400, 400, 400, 400, 400),
    ("GET", "local-checkout"): statuses(200, 200, 200, 200, 200, 200),
    ("POST", "local-checkout"): statuses(400, 400, 400, 400, 400, 400),
    ("GET", "local-portal"): statuses(200, 200, 200, 200, 200, 200),
    ("POST", "local-portal"): statuses(400, 400, 400, 400, 400, 400),
    ("GET", "local-invoice"): statuses(200, 200, 200, 200, 200, 200),
}


def member(owner: Any) -> dict[str, Any]:
    become_member(owner)
    return {}


def checkout_of(owner: Any) -> dict[str, Any]:
    return {"session_id": checkout_start(user=owner).gateway_session_id}


def portal_of(owner: Any) -> dict[str, Any]:
    become_member(owner)
    return {"portal_session_id": portal_url(user=owner).rstrip("/").rsplit("/", 1)[-1]}


def invoice_of(owner: Any) -> dict[str, Any]:
    become_member(owner)
    return {"invoice_id": Invoice.objects.get(patient=owner.patient).gateway_invoice_id}


SETUPS = {
    "billing-membership": member,
    "billing-cancel": member,
    "billing-resume": member,
    "billing-pay-now": member,
    "billing-checkout": member,
    "billing-portal": member,
    "billing-invoices": member,
    "billing-memberships": member,
    "billing-summary": member,
    "local-checkout": checkout_of,
    "local-portal": portal_of,
    "local-invoice": invoice_of,
}
# The hosted pages take the card number as a form post, as a browser sends it.
FORM_ROWS = frozenset({("POST", "local-checkout"), ("POST", "local-portal")})


def test_every_billing_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "billing")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies={}, form_rows=FORM_ROWS)
