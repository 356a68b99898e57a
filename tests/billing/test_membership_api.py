"""The membership as patients and ops admins use it, end to end through the local gateway
(hosted checkout page, signed webhooks to our own endpoint, simulated renewals)."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from billing.gateways import local
from billing.gateways.local_delivery import deliver_pending
from billing.gateways.registry import gateway_for
from billing.models import (
    CheckoutAttempt,
    Invoice,
    LocalGatewayDelivery,
    LocalGatewayObject,
    Subscription,
)
from billing.services.sync import memberships_sync
from notifications.models import Message, MessageStatus
from tests.actors import client_for
from tests.billing.support import age_mirror, become_member, deliver, membership
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

PATIENT_ENDPOINTS = [
    ("get", "/api/billing/membership"),
    ("post", "/api/billing/membership/cancel"),
    ("post", "/api/billing/membership/resume"),
    ("post", "/api/billing/membership/pay"),
    ("post", "/api/billing/checkout"),
    ("post", "/api/billing/portal"),
    ("get", "/api/billing/invoices"),
]
OPS_ENDPOINTS = [("get", "/api/billing/memberships"), ("get", "/api/billing/summary")]


@pytest.mark.parametrize("method,url", PATIENT_ENDPOINTS + OPS_ENDPOINTS)
def test_anonymous_callers_get_401(api, method, url):
    assert getattr(api, method)(url).status_code == 401


@pytest.mark.parametrize("actor", ["physician", "ops_admin"])
@pytest.mark.parametrize("method,url", PATIENT_ENDPOINTS)
def test_staff_cannot_use_patient_endpoints(request, actor, method, url):
    user = getattr(request.getfixturevalue(actor), "user", request.getfixturevalue(actor))
    assert getattr(client_for(user), method)(url).status_code == 403


@pytest.mark.parametrize("actor", ["patient", "physician"])
@pytest.mark.parametrize("method,url", OPS_ENDPOINTS)
def test_only_ops_admins_see_every_membership(request, actor, method, url):
    user = getattr(request.getfixturevalue(actor), "user", request.getfixturevalue(actor))
    assert getattr(client_for(user), method)(url).status_code == 403


def checkout_url(client) -> str:
    response = client.post("/api/billing/checkout")
    assert response.status_code == 200, response.content
    return response.json()["url"]


def pay(url: str, card: str = "4242424242424242"):
    path = url.split("://", 1)[1].split("/", 1)[1]
    return Client().post(f"/{path}", {"card_number": card})


def test_checkout_then_webhook_makes_a_member(patient):
    client = client_for(patient)
    url = checkout_url(client)
    assert checkout_url(client) == url  # a double click gets the same checkout
    assert Client().get("/" + url.split("/", 3)[3]).status_code == 200
    assert pay(url).status_code == 200
    # The browser is back, but only the gateway's webhook makes a member.
    assert membership(client)["state"] == "none"
    assert deliver() == 3
    data = membership(client)
    assert (data["state"], data["allowed"], data["gateway_status"]) == ("active", True, "active")
    assert data["amount_cents"] == 25000
    assert data["next_invoice"]["amount_cents"] == 25000
    invoices = client.get("/api/billing/invoices").json()["results"]
    assert [(i["status"], i["amount_paid_cents"]) for i in invoices] == [("paid", 25000)]
    assert invoices[0]["number"] and invoices[0]["hosted_invoice_url"]
    assert CheckoutAttempt.objects.get().completed_at is not None


def test_paying_the_same_checkout_twice_makes_one_subscription(patient):
    url = checkout_url(client_for(patient))
    pay(url)
    pay(url)
    deliver()
    assert Subscription.objects.count() == 1
    assert Invoice.objects.count() == 1


def test_the_completed_checkout_alone_makes_a_member_and_refuses_a_second_checkout(patient):
    client = client_for(patient)
    pay(checkout_url(client))
    LocalGatewayDelivery.objects.exclude(payload__type="checkout.session.completed").update(
        delivered_at=timezone.now()
    )  # the subscription's own events are late
    assert deliver() == 1
    assert membership(client)["state"] == "active"
    assert client.post("/api/billing/checkout").status_code == 409


def test_a_declined_card_at_checkout_starts_nothing(patient):
    url = checkout_url(client_for(patient))
    assert pay(url, "4000000000000002").status_code == 402
    assert pay(url, "1234123412341234").status_code == 400
    assert deliver() == 0
    assert membership(client_for(patient))["state"] == "none"


def test_a_member_cannot_start_another_checkout(patient):
    become_member(patient)
    response = client_for(patient).post("/api/billing/checkout")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_member"


def test_checkout_needs_a_patient_record(db):
    from accounts.models import Role, User

    user = User.objects.create_user("new@example.test", "a-long-password-1", role=Role.PATIENT)
    response = client_for(user).post("/api/billing/checkout")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_record"


def test_the_customer_is_reused_across_checkouts(patient):
    become_member(patient)
    client = client_for(patient)
    client.post("/api/billing/membership/cancel")
    subscription = Subscription.objects.get()
    local.renewal_simulate(subscription.gateway_subscription_id)
    deliver()
    assert membership(client)["state"] == "canceled"
    pay(checkout_url(client))
    deliver()
    assert membership(client)["state"] == "active"
    customers = LocalGatewayObject.objects.filter(kind="customer")
    assert customers.count() == 1


def test_cancel_at_period_end_and_resume(patient):
    become_member(patient)
    client = client_for(patient)
    canceled = client.post("/api/billing/membership/cancel")
    assert canceled.status_code == 200
    data = canceled.json()
    assert (data["state"], data["cancel_at_period_end"]) == ("active", True)
    assert data["next_invoice"] is None
    assert client.post("/api/billing/membership/cancel").json()["cancel_at_period_end"] is True
    deliver()  # the gateway's own event for the change is older: it changes nothing
    resumed = client.post("/api/billing/membership/resume").json()
    assert resumed["cancel_at_period_end"] is False
    deliver()
    assert Subscription.objects.get().cancel_at_period_end is False


def test_canceling_without_a_membership_is_409(patient):
    response = client_for(patient).post("/api/billing/membership/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_membership"


def test_a_failed_renewal_dunning_and_recovery_through_the_portal(patient, sms_outbox):
    become_member(patient, card="4000000000000341")
    client = client_for(patient)
    subscription = Subscription.objects.get()
    assert local.renewal_simulate(subscription.gateway_subscription_id) == "payment_failed"
    deliver()
    data = membership(client)
    assert (data["state"], data["allowed"]) == ("past_due", True)
    assert data["grace_ends_at"]
    failed = Message.objects.filter(template_key="payment_failed")
    assert sorted(failed.values_list("channel", "category")) == [
        ("email", "billing"),
        ("sms", "billing"),
    ]
    assert all(m.context == {"path": "/membership"} for m in failed)
    reminder = Message.objects.filter(template_key="payment_reminder").first()
    assert reminder.send_at - timezone.now() > timedelta(days=2, hours=23)

    portal = client.post("/api/billing/portal").json()["url"]
    path = "/" + portal.split("/", 3)[3]
    assert Client().get(path).status_code == 200
    assert Client().post(path, {"card_number": "4242424242424242"}).status_code == 200
    deliver()
    assert membership(client)["state"] == "active"
    reminders = Message.objects.filter(template_key="payment_reminder")
    assert set(reminders.values_list("status", flat=True)) == {MessageStatus.CANCELED}
    assert Message.objects.filter(template_key="payment_received").count() == 2


def test_pay_now_retries_the_overdue_invoice(patient):
    become_member(patient)
    client = client_for(patient)
    nothing = client.post("/api/billing/membership/pay")
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (409, "nothing_due")
    subscription = Subscription.objects.get()
    local.renewal_simulate(subscription.gateway_subscription_id, fail=True)
    deliver()
    assert membership(client)["state"] == "past_due"
    paid = client.post("/api/billing/membership/pay")
    assert paid.status_code == 200, paid.content
    assert paid.json()["state"] == "active"
    assert Invoice.objects.filter(status="open").count() == 0
    assert Message.objects.filter(template_key="payment_received").count() == 2
    deliver()  # the gateway's own events for the payment change nothing further
    assert membership(client)["state"] == "active"
    assert Message.objects.filter(template_key="payment_received").count() == 2


def test_pay_now_with_a_declining_card_is_402_and_changes_nothing(patient):
    become_member(patient, card="4000000000000341")
    local.renewal_simulate(Subscription.objects.get().gateway_subscription_id)
    deliver()
    response = client_for(patient).post("/api/billing/membership/pay")
    assert (response.status_code, response.json()["error"]["code"]) == (402, "card_declined")
    assert Subscription.objects.get().status == "past_due"
    assert Invoice.objects.filter(status="open").count() == 1


def test_billing_simulate_command_renews(patient, capsys):
    become_member(patient)
    before = Subscription.objects.get().current_period_end
    call_command("billing_simulate", patient.email, "--no-deliver")
    deliver()
    subscription = Subscription.objects.get()
    assert subscription.current_period_end > before
    assert Invoice.objects.filter(status="paid").count() == 2
    assert "renewal: paid" in capsys.readouterr().out


def test_sync_repairs_missed_webhooks_and_runs_twice_with_one_effect(patient):
    attempt_url = checkout_url(client_for(patient))
    pay(attempt_url)
    LocalGatewayDelivery.objects.all().delete()  # every webhook lost
    assert memberships_sync() == 1
    assert memberships_sync() == 1
    assert membership(client_for(patient))["state"] == "active"
    assert Subscription.objects.count() == 1
    assert Invoice.objects.count() == 1


def test_sync_does_not_revive_a_past_due_membership_from_an_old_paid_invoice(patient):
    subscription = become_member(patient, card="4000000000000341")
    local.renewal_simulate(subscription.gateway_subscription_id, fail=False)
    LocalGatewayDelivery.objects.filter(delivered_at__isnull=True).delete()  # missed
    local.renewal_simulate(subscription.gateway_subscription_id, fail=True)
    deliver()
    age_mirror()
    memberships_sync()
    assert Subscription.objects.get().status == "past_due"
    assert Invoice.objects.count() == 3


def test_sync_opens_dunning_for_a_failed_payment_whose_webhook_was_missed(patient):
    subscription = become_member(patient, card="4000000000000341")
    local.renewal_simulate(subscription.gateway_subscription_id)
    LocalGatewayDelivery.objects.filter(delivered_at__isnull=True).delete()
    age_mirror()
    memberships_sync()
    memberships_sync()
    assert Subscription.objects.get().status == "past_due"
    assert Message.objects.filter(template_key="payment_failed").count() == 2
    assert Message.objects.filter(template_key="payment_reminder").count() == 2


def test_the_daily_task_syncs_each_customer_in_its_own_task(patient, other_patient):
    from billing.tasks import sync_memberships

    become_member(patient)
    become_member(other_patient)
    Subscription.objects.update(status="canceled")  # as if webhooks had been lost
    age_mirror()
    assert sync_memberships.delay().get() == 2  # eager in tests: the per-customer tasks ran
    assert set(Subscription.objects.values_list("status", flat=True)) == {"active"}


def test_another_patient_sees_only_their_own_membership(patient, other_patient):
    become_member(patient)
    other = client_for(other_patient)
    assert membership(other)["state"] == "none"
    assert other.get("/api/billing/invoices").json()["results"] == []
    assert other.post("/api/billing/membership/cancel").status_code == 409
    assert Subscription.objects.get().cancel_at_period_end is False


def test_reads_are_audited(patient):
    become_member(patient)
    client = client_for(patient)
    before = AuditEvent.objects.filter(action="read").count()
    membership(client)
    client.get("/api/billing/invoices")
    reads = AuditEvent.objects.filter(action="read").order_by("id")[before:]
    assert [r.object_type for r in reads] == ["billing.subscription", "billing.invoice"]
    assert all(r.patient_id == patient.patient.public_id for r in reads)


def test_gateway_down_is_503_not_500(patient, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.BILLING_GATEWAY = "billing.gateways.stripe.StripeGateway"
    settings.STRIPE_SECRET_KEY = "sk_test_unreachable"
    settings.STRIPE_API_BASE_URL = f"http://127.0.0.1:{closed_port}"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    gateway_for.cache_clear()
    try:
        response = client_for(patient).post("/api/billing/checkout")
    finally:
        gateway_for.cache_clear()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "payments_unavailable"
    assert not CheckoutAttempt.objects.exists()


def test_ops_list_filters_by_state_and_the_summary_adds_up(ops_admin, patient, other_patient):
    become_member(patient)
    become_member(other_patient, card="4000000000000341")
    local.renewal_simulate(
        Subscription.objects.get(patient=other_patient.patient).gateway_subscription_id
    )
    deliver()
    client = client_for(ops_admin)
    everyone = client.get("/api/billing/memberships").json()
    assert everyone["count"] == 2
    past_due = client.get("/api/billing/memberships?state=past_due").json()["results"]
    assert [row["patient_id"] for row in past_due] == [str(other_patient.patient.public_id)]
    bogus = client.get("/api/billing/memberships?state=bogus")
    assert (bogus.status_code, list(bogus.json()["error"]["fields"])) == (400, ["state"])
    summary = client.get("/api/billing/summary").json()
    assert summary == {
        "active": 1,
        "past_due": 1,
        "paused": 0,
        "canceled_this_month": 0,
        "monthly_recurring_revenue_cents": 50000,
        "currency": "usd",
    }


def test_the_ops_list_runs_the_same_queries_whatever_the_page_size(ops_admin):
    for _ in range(6):
        become_member(PatientFactory().user)
    client = client_for(ops_admin)
    counts = []
    for size in (2, 6):
        with CaptureQueriesContext(connection) as queries:
            assert (
                len(client.get(f"/api/billing/memberships?page_size={size}").json()["results"])
                == size
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_seed_demo_gives_the_demo_patient_one_membership(db):
    call_command("seed_demo")
    call_command("seed_demo")
    deliver()
    subscription = Subscription.objects.get()
    assert subscription.patient.user.email == "patient@demo.example"
    assert subscription.status == "active"


def test_canceled_this_month_counts_patients_whose_membership_ended(ops_admin, patient):
    rejoined = PatientFactory().user
    for user in (patient, rejoined):
        become_member(user)
        client_for(user).post("/api/billing/membership/cancel")
        local.renewal_simulate(
            Subscription.objects.get(patient=user.patient).gateway_subscription_id
        )
        deliver()
    pay(checkout_url(client_for(rejoined)))
    deliver()
    summary = client_for(ops_admin).get("/api/billing/summary").json()
    assert (summary["active"], summary["canceled_this_month"]) == (1, 1)
    assert summary["monthly_recurring_revenue_cents"] == 25000


def test_pay_now_never_charges_a_membership_that_has_ended(patient):
    subscription = become_member(patient, card="4000000000000341")
    local.renewal_simulate(subscription.gateway_subscription_id, fail=True)
    deliver()
    client = client_for(patient)
    client.post("/api/billing/membership/cancel")
    deliver()
    local.renewal_simulate(subscription.gateway_subscription_id)
    deliver()
    pay(checkout_url(client))
    deliver()
    assert membership(client)["state"] == "active"
    response = client.post("/api/billing/membership/pay")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "nothing_due")


def test_no_second_checkout_while_the_first_is_paid_but_not_yet_confirmed(patient):
    client = client_for(patient)
    pay(checkout_url(client))  # paid; its webhooks have not arrived
    CheckoutAttempt.objects.update(created_at=timezone.now() - timedelta(hours=23, minutes=1))
    response = client.post("/api/billing/checkout")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "already_member")
    assert membership(client)["state"] == "active"  # what the gateway said was mirrored


def test_sync_sends_no_dunning_for_a_membership_that_has_ended(patient):
    subscription = become_member(patient, card="4000000000000341")
    local.renewal_simulate(subscription.gateway_subscription_id, fail=True)
    at_gateway = LocalGatewayObject.objects.get(object_id=subscription.gateway_subscription_id)
    at_gateway.data = {**at_gateway.data, "cancel_at_period_end": True}
    at_gateway.save()
    local.renewal_simulate(subscription.gateway_subscription_id)
    LocalGatewayDelivery.objects.filter(delivered_at__isnull=True).delete()
    age_mirror()
    memberships_sync()
    assert Subscription.objects.get().status == "canceled"
    assert not Message.objects.filter(
        status=MessageStatus.SCHEDULED, template_key__in=["payment_failed", "payment_reminder"]
    ).exists()


@pytest.mark.parametrize("page", ["local-checkout", "local-portal", "local-invoice"])
def test_local_pages_answer_404_for_ids_that_are_not_ids(db, page):
    assert Client().get(f"/billing/{page}/%00").status_code == 404
    assert Client().get(f"/billing/{page}/cs_nothing").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_simultaneous_checkouts_open_one_session(patient):
    import threading

    barrier = threading.Barrier(4)
    urls: list[str] = []

    def start() -> None:
        try:
            barrier.wait()
            urls.append(client_for(patient).post("/api/billing/checkout").json()["url"])
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(urls) == 4 and len(set(urls)) == 1
    assert CheckoutAttempt.objects.count() == 1
    assert LocalGatewayObject.objects.filter(kind="checkout.session").count() == 1
    assert LocalGatewayObject.objects.filter(kind="customer").count() == 1


def test_the_local_delivery_task_run_twice_delivers_each_event_once(patient):
    from billing.models import WebhookEvent

    url = checkout_url(client_for(patient))
    pay(url)
    assert deliver() == 3
    assert deliver() == 0
    assert WebhookEvent.objects.count() == 3
    assert set(LocalGatewayDelivery.objects.values_list("attempts", flat=True)) == {1}


def test_a_refused_delivery_is_retried_in_order_on_the_next_run(patient):
    pay(checkout_url(client_for(patient)))
    assert deliver_pending(transport=lambda url, body, headers: 503) == 0
    pending = LocalGatewayDelivery.objects.filter(delivered_at__isnull=True)
    assert pending.count() == 3  # stopped at the first refusal, order kept
    assert deliver() == 3
    assert membership(client_for(patient))["state"] == "active"
