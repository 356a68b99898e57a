"""Delivery orders in the Django admin: ops admins see the list (scoped, searchable),
read-only but for the three actions, which go through the ops services; every view and
write is audited. Clinical models are not registered; webhook secrets are write-only."""

from __future__ import annotations

import pytest
from django.contrib import admin

from audit.models import AuditEvent
from prescriptions.models import DeliveryOrder, DosingProtocol, OrderKind, PdmpCheck, Prescription
from tests.accounts.support import enrolled_staff
from tests.prescriptions.support import carrier, pharmacy
from tests.prescriptions.support_ops import order_for

pytestmark = pytest.mark.django_db

LIST = "/admin/prescriptions/deliveryorder/"


def test_list_search_and_audit(patient, physician):
    order = order_for(patient, physician, status="shipped", tracking_number="1ZABC")
    admin_user, browser = enrolled_staff("ops_admin")
    response = browser.get(LIST, {"q": "1zabc"})
    assert response.status_code == 200
    assert order.number in response.content.decode()
    assert AuditEvent.objects.filter(actor=admin_user, detail__view="list").exists()
    detail = browser.get(f"{LIST}{order.pk}/change/")
    assert detail.status_code == 200
    assert order.ship_to_line1 in detail.content.decode()
    assert "Ketamine" not in detail.content.decode()


def test_actions_call_the_services(patient, physician):
    order = order_for(patient, physician, status="shipped", tracking_number="1Z")
    _, browser = enrolled_staff("ops_admin")
    post = {"_selected_action": [order.pk], "text": "Lost in transit"}
    browser.post(LIST, {**post, "action": "mark_exception"})
    order.refresh_from_db()
    assert order.status == "exception"
    browser.post(LIST, {**post, "action": "create_replacement"})
    assert DeliveryOrder.objects.get(replaces=order).kind == OrderKind.REPLACEMENT
    browser.post(LIST, {**post, "action": "create_replacement"})  # one replacement only
    assert DeliveryOrder.objects.filter(kind=OrderKind.REPLACEMENT).count() == 1
    order.refresh_from_db()
    assert order.status == "canceled"  # replaced: a late scan of it cannot deliver it too
    browser.post(LIST, {**post, "action": "add_note", "text": ""})  # a note needs text
    assert order.events.filter(to_status="", source="ops_admin").count() == 0


def test_read_only_and_clinical_models_not_registered(patient, physician):
    order = order_for(patient, physician)
    _, browser = enrolled_staff("ops_admin")
    browser.post(f"{LIST}{order.pk}/change/", {"status": "delivered"})
    order.refresh_from_db()
    assert order.status == "created"
    for model in (Prescription, DosingProtocol, PdmpCheck):
        assert not admin.site.is_registered(model)


def test_an_order_url_in_clear_text_is_refused_and_a_bare_host_is_https():
    item = pharmacy()
    _, browser = enrolled_staff("ops_admin")
    data = {
        "name": item.name,
        "npi": item.npi,
        "dea_number": item.dea_number,
        "ships_to": list(item.ships_to),
        "active": "on",
        "order_url": "http://pharmacy.example/orders",
    }
    page = browser.post(f"/admin/prescriptions/pharmacy/{item.pk}/change/", data)
    assert page.status_code == 200 and "must start with https://" in page.content.decode()
    item.refresh_from_db()
    assert item.order_url != "http://pharmacy.example/orders"
    browser.post(
        f"/admin/prescriptions/pharmacy/{item.pk}/change/",
        {**data, "order_url": "pharmacy.example/orders"},
    )
    item.refresh_from_db()
    assert item.order_url == "https://pharmacy.example/orders"


def test_webhook_secrets_are_write_only():
    item = carrier("fedex")
    pharmacy()
    _, browser = enrolled_staff("ops_admin")
    page = browser.get(f"/admin/prescriptions/carrier/{item.pk}/change/").content.decode()
    assert "whsec_fedex_test" not in page
    data = {
        "code": "fedex",
        "name": "FedEx",
        "tracking_url_template": item.tracking_url_template,
        "active": "on",
        "new_webhook_secret": "whsec_rotated",
    }
    browser.post(f"/admin/prescriptions/carrier/{item.pk}/change/", data)
    item.refresh_from_db()
    assert item.webhook_secret == "whsec_rotated"
    assert (
        "whsec_rotated"
        not in browser.get(f"/admin/prescriptions/carrier/{item.pk}/change/").content.decode()
    )
