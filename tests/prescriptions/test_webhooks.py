"""Status webhooks from pharmacies and carriers: signature and timestamp, who may report
what, once per event id (also when two arrive at once), forward only, and reports that
arrive before the status they follow."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from prescriptions.models import DeliveryEvent, OrderStatus, StatusReport
from tests.prescriptions.support import carrier, pharmacy
from tests.prescriptions.support_pharmacy import (
    from_carrier,
    from_pharmacy,
    new_order,
    post_signed,
    shipped_fields,
)

pytestmark = pytest.mark.django_db

S = OrderStatus


def at(minutes_ago: int) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


def report_for(order, **fields):
    return {
        "event_id": "evt-1",
        "status": "compounding",
        "occurred_at": at(1),
        "order_number": order.number,
        **fields,
    }


def test_a_signed_pharmacy_report_moves_the_order_with_its_event(patient, physician):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    occurred = timezone.now() - timedelta(minutes=3)
    response = from_pharmacy(order, "evt-1", "compounding", occurred.isoformat())
    assert response.status_code == 200, response.content
    assert response.json() == {"outcome": "applied"}
    order.refresh_from_db()
    assert order.status == S.COMPOUNDING
    event = order.events.latest("pk")
    assert (event.source, event.external_id, event.at) == ("pharmacy", "evt-1", occurred)
    assert StatusReport.objects.get().applied_at is not None


def test_shipped_records_the_carrier_and_tracking_number(patient, physician):
    order = new_order(patient, physician, status=S.COMPOUNDING)
    ups = carrier("ups")
    response = from_pharmacy(order, "e2", "shipped", at(1), carrier="ups", tracking_number="1Z77")
    assert response.json() == {"outcome": "applied"}
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == (S.SHIPPED, ups, "1Z77")


def test_delivered_records_who_signed_and_keeps_it_encrypted(patient, physician):
    order = new_order(patient, physician, status=S.OUT_FOR_DELIVERY, **shipped_fields())
    response = from_carrier("1ZTEST0001", "c1", "delivered", at(1), signed_by="J. Doe")
    assert response.json() == {"outcome": "applied"}
    order.refresh_from_db()
    assert (order.status, order.delivered_signed_by) == (S.DELIVERED, "J. Doe")
    assert "J. Doe" not in str(StatusReport.objects.get().payload)


@pytest.mark.parametrize(
    "signature",
    [
        "",  # missing
        "t=1,v1=deadbeef",  # garbage
        "wrong-secret",  # signed with another secret
    ],
)
def test_a_bad_signature_is_403_stores_nothing_and_is_audited(patient, physician, signature):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    header = None if signature == "wrong-secret" else signature
    secret = "whsec_someone_else" if signature == "wrong-secret" else order.pharmacy.webhook_secret
    response = post_signed(
        kind="pharmacy",
        key=str(order.pharmacy.public_id),
        report=report_for(order),
        secret=secret,
        header=header,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not StatusReport.objects.exists()
    order.refresh_from_db()
    assert order.status == S.SENT_TO_PHARMACY
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_REJECTED).count() == 1


@pytest.mark.parametrize("offset", [-301, 301], ids=["too-old", "from-the-future"])
def test_a_timestamp_outside_the_tolerance_is_403(patient, physician, offset):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    # The clock stopped: a second or two between signing and checking (a loaded machine)
    # would bring the one just past the tolerance back inside it.
    with time_machine.travel(timezone.now(), tick=False):
        response = post_signed(
            kind="pharmacy",
            key=str(order.pharmacy.public_id),
            report=report_for(order),
            secret=order.pharmacy.webhook_secret,
            timestamp=int(time.time()) + offset,
        )
    assert response.status_code == 403
    assert not StatusReport.objects.exists()


def test_a_timestamp_inside_the_tolerance_is_accepted(patient, physician):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    response = post_signed(
        kind="pharmacy",
        key=str(order.pharmacy.public_id),
        report=report_for(order),
        secret=order.pharmacy.webhook_secret,
        timestamp=int(time.time()) - 250,
    )
    assert response.status_code == 200


def test_another_pharmacy_cannot_sign_for_this_one(patient, physician):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    other = pharmacy(npi="1234567893", webhook_secret="whsec_other")
    # Signed correctly by the other pharmacy, for the other pharmacy's URL: not its order.
    response = post_signed(
        kind="pharmacy", key=str(other.public_id), report=report_for(order), secret="whsec_other"
    )
    assert response.status_code == 404
    # Signed with its own secret but posted to this pharmacy's URL.
    response = post_signed(
        kind="pharmacy",
        key=str(order.pharmacy.public_id),
        report=report_for(order),
        secret="whsec_other",
    )
    assert response.status_code == 403
    assert not StatusReport.objects.exists()


def test_an_unknown_sender_is_403(patient, physician):
    order = new_order(patient, physician, status=S.OUT_FOR_DELIVERY, **shipped_fields())
    response = post_signed(
        kind="carrier",
        key="dhl",
        report={"event_id": "x", "status": "delivered", "occurred_at": at(1),
                "tracking_number": order.tracking_number},
        secret="whsec_ups_test",
    )  # fmt: skip
    assert response.status_code == 403


def test_an_unknown_order_is_404_and_nothing_is_stored(patient, physician):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    order.number = "KD-ZZZZZZZZ"  # not stored: the report names an order we do not have
    assert from_pharmacy(order, "e1", "compounding", at(1)).status_code == 404
    assert from_carrier("1ZNOBODY", "c1", "delivered", at(1)).status_code == 404
    assert not StatusReport.objects.exists()


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("pharmacy", "delivered"),
        ("pharmacy", "out_for_delivery"),
        ("pharmacy", "sent_to_pharmacy"),
        ("carrier", "shipped"),
        ("carrier", "compounding"),
        ("carrier", "canceled"),
        ("carrier", "lost"),
    ],
)
def test_a_status_the_sender_may_not_report_is_400(patient, physician, kind, status):
    order = new_order(patient, physician, status=S.SHIPPED, **shipped_fields())
    send = from_pharmacy if kind == "pharmacy" else from_carrier
    target = order if kind == "pharmacy" else order.tracking_number
    response = send(target, "e1", status, at(1))
    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]
    assert not StatusReport.objects.exists()


def test_shipped_without_a_known_carrier_is_400(patient, physician):
    order = new_order(patient, physician, status=S.COMPOUNDING)
    response = from_pharmacy(order, "e1", "shipped", at(1), carrier="dhl", tracking_number="9")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"carrier"}


def test_a_repeated_event_is_answered_once_and_does_nothing(patient, physician):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    first = from_pharmacy(order, "evt-1", "compounding", at(2))
    events = DeliveryEvent.objects.count()
    again = from_pharmacy(order, "evt-1", "compounding", at(2))
    assert (first.json(), again.json()) == ({"outcome": "applied"}, {"outcome": "duplicate"})
    assert DeliveryEvent.objects.count() == events
    assert StatusReport.objects.count() == 1


def test_the_same_event_id_from_two_senders_is_two_reports(patient, physician):
    order = new_order(patient, physician, status=S.SHIPPED, **shipped_fields())
    assert from_carrier(order.tracking_number, "42", "out_for_delivery", at(2)).status_code == 200
    response = from_pharmacy(order, "42", "exception", at(1))
    assert response.json() == {"outcome": "applied"}
    assert StatusReport.objects.count() == 2


def test_delivered_before_shipped_waits_then_applies(patient, physician):
    """The carrier's delivery scan (naming our order number as its label's reference)
    beats the pharmacy's "shipped": it waits, and applies right after it."""
    order = new_order(patient, physician, status=S.COMPOUNDING)
    carrier("ups")
    early = from_carrier("1ZNEW", "c-9", "delivered", at(1), order_number=order.number)
    assert early.json() == {"outcome": "waiting"}
    order.refresh_from_db()
    assert order.status == S.COMPOUNDING
    shipped = from_pharmacy(order, "p-3", "shipped", at(30), carrier="ups", tracking_number="1ZNEW")
    assert shipped.json() == {"outcome": "applied"}
    order.refresh_from_db()
    assert order.status == S.DELIVERED
    timeline = list(order.events.order_by("pk").values_list("to_status", "source"))
    assert timeline[-2:] == [("shipped", "pharmacy"), ("delivered", "carrier")]
    assert all(r.applied_at for r in StatusReport.objects.all())


def test_reports_waiting_apply_in_the_order_they_happened(patient, physician):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    ups = carrier("ups")
    reference = {"order_number": order.number}
    delivered = from_carrier("1ZA", "c2", "delivered", at(1), **reference)
    out = from_carrier("1ZA", "c1", "out_for_delivery", at(5), **reference)
    assert (delivered.json(), out.json()) == ({"outcome": "waiting"}, {"outcome": "waiting"})
    shipped = from_pharmacy(order, "p2", "shipped", at(20), carrier=ups.code, tracking_number="1ZA")
    assert shipped.json() == {"outcome": "applied"}
    order.refresh_from_db()
    assert order.status == S.DELIVERED
    steps = list(order.events.order_by("pk").values_list("to_status", flat=True))
    assert steps[-3:] == ["shipped", "out_for_delivery", "delivered"]
    # The pharmacy's "compounding", delivered last, is behind all of it.
    assert from_pharmacy(order, "p1", "compounding", at(60)).json() == {"outcome": "stale"}


def test_out_for_delivery_after_delivered_is_stale(patient, physician):
    order = new_order(patient, physician, status=S.SHIPPED, **shipped_fields())
    assert from_carrier(order.tracking_number, "c2", "delivered", at(1)).json() == {
        "outcome": "applied"
    }
    late = from_carrier(order.tracking_number, "c1", "out_for_delivery", at(30))
    assert late.status_code == 200
    assert late.json() == {"outcome": "stale"}
    order.refresh_from_db()
    assert order.status == S.DELIVERED
    assert StatusReport.objects.get(event_id="c1").ignored_reason == "stale"


def test_a_report_behind_the_order_is_stale(patient, physician):
    order = new_order(patient, physician, status=S.SHIPPED, **shipped_fields())
    events = DeliveryEvent.objects.count()
    assert from_pharmacy(order, "p1", "compounding", at(60)).json() == {"outcome": "stale"}
    assert DeliveryEvent.objects.count() == events


def test_a_cancellation_after_shipping_is_not_allowed(patient, physician):
    order = new_order(patient, physician, status=S.SHIPPED, **shipped_fields())
    assert from_pharmacy(order, "p9", "canceled", at(1)).json() == {"outcome": "not_allowed"}
    order.refresh_from_db()
    assert order.status == S.SHIPPED


def test_a_report_older_than_the_exception_does_not_resolve_it(patient, physician):
    order = new_order(patient, physician, status=S.SHIPPED, **shipped_fields())
    assert from_carrier(order.tracking_number, "c5", "exception", at(5)).json() == {
        "outcome": "applied"
    }
    assert from_carrier(order.tracking_number, "c4", "out_for_delivery", at(10)).json() == {
        "outcome": "stale"
    }
    assert from_carrier(order.tracking_number, "c6", "delivered", at(1)).json() == {
        "outcome": "applied"
    }


def test_a_late_exception_does_not_take_the_order_back(patient, physician):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    assert from_pharmacy(order, "p1", "compounding", at(5)).json() == {"outcome": "applied"}
    # The pharmacy's exception of half an hour ago, delivered late: already resolved.
    assert from_pharmacy(order, "p0", "exception", at(30)).json() == {"outcome": "stale"}
    order.refresh_from_db()
    assert order.status == S.COMPOUNDING


def test_reports_for_a_final_order_are_stale(patient, physician):
    order = new_order(patient, physician, status=S.CANCELED)
    assert from_pharmacy(order, "p1", "compounding", at(1)).json() == {"outcome": "stale"}


@pytest.mark.parametrize(
    "body",
    [
        {"status": "compounding", "occurred_at": "2026-12-01T00:00:00Z"},  # no event id
        {"event_id": "e", "status": "compounding", "occurred_at": "yesterday"},
        {"event_id": "e\u0000", "status": "compounding", "occurred_at": "2026-12-01T00:00:00Z"},
        {"event_id": "e", "status": "compounding", "occurred_at": "2026-12-01T00:00:00Z", "x": 1},
    ],
)
def test_a_signed_but_malformed_report_is_400(patient, physician, body):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    response = post_signed(
        kind="pharmacy",
        key=str(order.pharmacy.public_id),
        report={**body, "order_number": order.number},
        secret=order.pharmacy.webhook_secret,
    )
    assert response.status_code == 400
    assert not StatusReport.objects.exists()


def test_a_report_from_the_future_is_400(patient, physician):
    order = new_order(patient, physician, status=S.SENT_TO_PHARMACY)
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    assert from_pharmacy(order, "p1", "compounding", later).status_code == 400
