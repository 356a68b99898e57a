"""Ops delivery tracking: the list's filters and search, what a row shows (and never
shows), its constant query count, counts by status, the CSV export, the detail with its
timeline, and the three ops actions (exception, replacement, note)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from prescriptions.api.tracking import csv_cell
from prescriptions.models import DeliveryOrder, OrderKind, OrderStatus
from tests.actors import client_for
from tests.prescriptions.support import carrier
from tests.prescriptions.support_ops import order_for, prescriber

pytestmark = pytest.mark.django_db

URL = "/api/prescriptions/deliveries"


@pytest.fixture
def ops(ops_admin):
    return client_for(ops_admin)


def numbers(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


def test_filters_and_search(ops, patient, other_patient, physician):
    ups = carrier("ups")
    fl = order_for(patient, physician, status="shipped", carrier=ups, tracking_number="1Z9ABC")
    nj = order_for(other_patient, physician, status="delivered")
    late = order_for(patient, physician, status="compounding", overdue_at=timezone.now())
    assert numbers(ops.get(URL)) == {fl.number, nj.number, late.number}
    assert numbers(ops.get(URL, {"status": ["shipped", "delivered"]})) == {fl.number, nj.number}
    assert numbers(ops.get(URL, {"state": "NJ"})) == {nj.number}
    assert numbers(ops.get(URL, {"county": fl.ship_to_county.upper()})) == {fl.number, late.number}
    assert numbers(ops.get(URL, {"carrier": "ups"})) == {fl.number}
    assert numbers(ops.get(URL, {"pharmacy": str(fl.pharmacy.public_id)})) == {
        fl.number, nj.number, late.number,
    }  # fmt: skip
    assert numbers(ops.get(URL, {"overdue": "true"})) == {late.number}
    assert numbers(ops.get(URL, {"overdue": "false"})) == {fl.number, nj.number}
    assert numbers(ops.get(URL, {"q": fl.number.lower()})) == {fl.number}
    assert numbers(ops.get(URL, {"q": "1z9abc"})) == {fl.number}
    assert numbers(ops.get(URL, {"q": "1Z9AB"})) == set()  # exact, not a substring
    today = timezone.localdate()
    assert numbers(ops.get(URL, {"created_after": str(today + timedelta(days=2))})) == set()
    assert ops.get(URL, {"status": "lost"}).status_code == 400
    assert ops.get(URL, {"pharmacy": "nope"}).status_code == 400


def test_a_row_shows_tracking_and_nothing_clinical(ops, patient, physician):
    order = order_for(patient, physician, status="shipped", carrier=carrier(), tracking_number="1Z")
    row = ops.get(URL).json()["results"][0]
    assert row["number"] == order.number
    assert (row["state"], row["county"]) == (order.ship_to_state, order.ship_to_county)
    assert "city" not in row  # no part of the encrypted address on the list
    assert row["tracking_url"] == "https://carrier.example/track/1Z"
    assert row["carrier"] == {"code": "ups", "name": "UPS"}
    body = str(row)
    for clinical in ("Ketamine", "Dissolve", "200", "directions", "ship_to_line1"):
        # As a word: "200" also turns up inside random ids and microseconds.
        assert not re.search(rf"\b{clinical}\b", body), clinical
    assert order.ship_to_line1 not in body  # the street is for the detail only


def test_each_order_on_the_page_is_audited(ops, ops_admin, patient, physician):
    orders = [order_for(patient, physician) for _ in range(3)]
    assert ops.get(URL, {"page_size": 2}).status_code == 200
    read = AuditEvent.objects.filter(
        actor=ops_admin, action="read", object_type="prescriptions.deliveryorder"
    )
    assert read.count() == 2
    assert set(read.values_list("object_id", flat=True)) <= {str(o.public_id) for o in orders}


def test_the_list_costs_the_same_queries_at_any_page_size(ops, patient, physician):
    for _ in range(6):
        order_for(patient, physician, carrier=carrier())
    with CaptureQueriesContext(connection) as small:
        assert ops.get(URL, {"page_size": 1}).status_code == 200
    with CaptureQueriesContext(connection) as large:
        assert ops.get(URL, {"page_size": 6, "status": "created"}).status_code == 200
    assert len(small.captured_queries) == len(large.captured_queries)


def test_counts_every_status_in_one_query(ops, patient, physician):
    order_for(patient, physician, status="shipped")
    order_for(patient, physician, status="shipped")
    order_for(patient, physician, status="delivered")
    with CaptureQueriesContext(connection) as one:
        response = ops.get(f"{URL}/counts")
    with CaptureQueriesContext(connection) as filtered:
        assert ops.get(f"{URL}/counts", {"state": "FL"}).status_code == 200
    counts = response.json()
    assert set(counts) == set(OrderStatus.values)
    assert counts["shipped"] == 2 and counts["delivered"] == 1 and counts["canceled"] == 0
    assert len(one.captured_queries) == len(filtered.captured_queries)
    assert ops.get(f"{URL}/counts", {"state": "NJ"}).json()["shipped"] == 0


def test_counts_are_reused_for_a_few_seconds_per_filter(ops, patient, physician):
    order_for(patient, physician, status="shipped")
    assert ops.get(f"{URL}/counts").json()["shipped"] == 1
    order_for(patient, physician, status="shipped")
    with CaptureQueriesContext(connection) as cached:
        assert ops.get(f"{URL}/counts").json()["shipped"] == 1  # at most 5 seconds old
    assert not [q for q in cached.captured_queries if "deliveryorder" in q["sql"]]
    assert ops.get(f"{URL}/counts", {"status": "shipped"}).json()["shipped"] == 2  # its own
    for _ in range(2):  # a bad filter is refused every time, never cached
        assert ops.get(f"{URL}/counts", {"status": "lost"}).status_code == 400
    cache.clear()
    assert ops.get(f"{URL}/counts").json()["shipped"] == 2


def test_csv_export_contents_and_one_audit_event(ops, ops_admin, patient, physician):
    hostile = order_for(patient, physician, status="shipped", tracking_number="=HYPERLINK(1)")
    order_for(patient, physician, status="delivered")
    response = ops.get(f"{URL}/export.csv", {"status": "shipped"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    assert rows[0]["number"] == hostile.number
    assert rows[0]["tracking_number"] == "'=HYPERLINK(1)"
    assert rows[0]["city"] == hostile.ship_to_city and rows[0]["state"] == "FL"
    assert "Ketamine" not in text
    event = AuditEvent.objects.get(actor=ops_admin, detail__export="csv")
    assert event.detail["rows"] == 1 and event.detail["filters"] == {"status": ["shipped"]}


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx"])
def test_csv_cells_that_would_run_as_formulas_are_prefixed(value):
    assert csv_cell(value) == "'" + value
    assert csv_cell("KD-123") == "KD-123"


def test_detail_has_the_address_and_timeline(ops, ops_admin, patient, physician):
    order = order_for(patient, physician)
    response = ops.get(f"{URL}/{order.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["ship_to"]["line1"] == order.ship_to_line1
    assert [e["to_status"] for e in body["timeline"]] == ["created"]
    assert body["submission_status"] == "pending"
    assert body["replacement"] is None
    assert AuditEvent.objects.filter(actor=ops_admin, object_id=str(order.public_id)).exists()
    assert ops.get(f"{URL}/00000000-0000-0000-0000-000000000000").status_code == 404


def test_exception_note_and_replacement(ops, patient, physician):
    order = order_for(patient, physician, status="shipped", carrier=carrier(), tracking_number="1Z")
    assert (
        ops.post(f"{URL}/{order.public_id}/exception", {"reason": " "}, format="json").status_code
        == 400
    )
    response = ops.post(
        f"{URL}/{order.public_id}/exception", {"reason": "Lost.\nCarrier confirms."}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "exception"
    last = response.json()["timeline"][-1]
    assert (last["to_status"], last["actor_role"], last["note"]) == (
        "exception",
        "ops_admin",
        "Lost.\nCarrier confirms.",
    )
    note = ops.post(f"{URL}/{order.public_id}/notes", {"note": "Patient informed."}, format="json")
    assert note.status_code == 201
    assert note.json()["timeline"][-1]["to_status"] is None
    made = ops.post(f"{URL}/{order.public_id}/replacement", {"reason": "Lost"}, format="json")
    assert made.status_code == 201, made.content
    replacement = DeliveryOrder.objects.get(public_id=made.json()["id"])
    assert (replacement.kind, replacement.fill_number, replacement.replaces_id) == (
        OrderKind.REPLACEMENT,
        None,
        order.pk,
    )
    again = ops.post(f"{URL}/{order.public_id}/replacement", {"reason": "Lost"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "replacement_exists"
    assert ops.get(f"{URL}/{order.public_id}").json()["replacement"]["number"] == replacement.number


def test_only_exception_or_returned_orders_are_replaced(ops, patient, physician):
    order = order_for(patient, physician, status="delivered")
    refused = ops.post(f"{URL}/{order.public_id}/replacement", {"reason": "x"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_replaceable"
    returned = order_for(patient, prescriber(), status="returned")
    assert (
        ops.post(
            f"{URL}/{returned.public_id}/replacement", {"reason": "x"}, format="json"
        ).status_code
        == 201
    )
    bad = ops.post(f"{URL}/{order.public_id}/exception", {"reason": "late"}, format="json")
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "invalid_transition"
