"""The Stripe gateway against a local server answering in Stripe's shapes, for what
localstripe lacks (Checkout Sessions, the billing portal, Price-based objects in the current
API shape, invoice previews): what each call sends and how each answer is read.
"""

from __future__ import annotations

import pytest

from billing.gateways.base import (
    CardDeclined,
    Invoice,
    PermanentGatewayError,
    Subscription,
    TransientGatewayError,
    UpcomingInvoice,
)
from billing.gateways.stripe import StripeGateway
from tests.billing.stripe_servers import (
    SECRET_KEY,
    FakeStripe,
    invoice_object,
    list_object,
    price_object,
    subscription_object,
)
from tests.billing.support import checkout_session, when


def test_checkout_session_in_subscription_mode(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    session = checkout_session(fake_gateway)

    (request,) = fake_stripe.requests
    assert (request.method, request.path) == ("POST", "/v1/checkout/sessions")
    assert request.param("mode") == "subscription"
    assert request.param("customer") == "cus_member"
    assert request.param("line_items[0][price]") == "price_membership"
    assert request.param("line_items[0][quantity]") == "1"
    assert "line_items[1][price]" not in request.form
    assert request.param("success_url") == (
        "https://app.example.test/billing/done?session={CHECKOUT_SESSION_ID}"
    )
    assert request.param("cancel_url") == "https://app.example.test/billing"
    assert request.param("client_reference_id") == "pat_7f3a"
    assert request.param("metadata[reference]") == "pat_7f3a"
    assert request.param("subscription_data[metadata][reference]") == "pat_7f3a"
    assert request.header("Idempotency-Key") == "checkout-pat_7f3a-1"
    assert request.header("Authorization") == f"Bearer {SECRET_KEY}"
    assert request.header("Stripe-Version")  # the SDK pins its API version
    assert session.id.startswith("cs_test_")
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.id}"


def test_checkout_session_without_a_url_is_permanent(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    fake_stripe.then(200, {"id": "cs_test_embedded", "object": "checkout.session", "url": None})

    with pytest.raises(PermanentGatewayError) as caught:
        checkout_session(fake_gateway)

    assert caught.value.code == "no_url"


def test_billing_portal_session(fake_gateway: StripeGateway, fake_stripe: FakeStripe) -> None:
    url = fake_gateway.portal_session_create(
        customer_id="cus_member", return_url="https://app.example.test/billing"
    )

    (request,) = fake_stripe.requests
    assert (request.method, request.path) == ("POST", "/v1/billing_portal/sessions")
    assert request.param("customer") == "cus_member"
    assert request.param("return_url") == "https://app.example.test/billing"
    assert url.startswith("https://billing.stripe.com/p/session/")


def test_subscription_on_a_price_in_the_current_api_shape(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    fake_stripe.then(
        200,
        subscription_object(
            "sub_price",
            status="past_due",
            period_end=1_782_592_000,
            cancel_at_period_end=True,
            price=price_object("price_membership", amount=25000),
        ),
    )

    subscription = fake_gateway.subscription_retrieve("sub_price")

    (request,) = fake_stripe.requests
    assert (request.method, request.path) == ("GET", "/v1/subscriptions/sub_price")
    assert subscription == Subscription(
        id="sub_price",
        customer_id="cus_member",
        status="past_due",
        current_period_end=when(1_782_592_000),
        cancel_at_period_end=True,
        price_id="price_membership",
        amount_cents=25000,
        currency="usd",
        latest_invoice_id="in_latest",
    )


def test_subscriptions_for_customer_asks_for_all_statuses_and_lists_newest_first(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    older = subscription_object("sub_old", status="canceled", created=1_700_000_000)
    newer = subscription_object("sub_new", status="active", created=1_780_000_000)
    fake_stripe.then(200, list_object("/v1/subscriptions", [older, newer]))

    subscriptions = fake_gateway.subscriptions_for_customer("cus_member")

    (request,) = fake_stripe.requests
    assert (request.method, request.path) == ("GET", "/v1/subscriptions")
    assert request.query == {"customer": ["cus_member"], "status": ["all"], "limit": ["100"]}
    assert [s.id for s in subscriptions] == ["sub_new", "sub_old"]


def test_subscriptions_for_customer_follows_pages(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    first = list_object("/v1/subscriptions", [subscription_object("sub_b", created=2)])
    first["has_more"] = True
    fake_stripe.then(200, first)
    fake_stripe.then(
        200, list_object("/v1/subscriptions", [subscription_object("sub_a", created=1)])
    )

    subscriptions = fake_gateway.subscriptions_for_customer("cus_member")

    assert [s.id for s in subscriptions] == ["sub_b", "sub_a"]
    assert fake_stripe.requests[1].query["starting_after"] == ["sub_b"]


def test_invoices_in_the_current_api_shape(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    renewal = invoice_object(
        "in_0002", created=1_782_592_000, period=(1_782_592_000, 1_785_270_400)
    )
    first = invoice_object("in_0001", created=1_780_000_000, period=(1_780_000_000, 1_782_592_000))
    fake_stripe.then(200, list_object("/v1/invoices", [first, renewal]))

    invoices = fake_gateway.invoices_for_customer("cus_member")

    (request,) = fake_stripe.requests
    assert (request.method, request.path) == ("GET", "/v1/invoices")
    assert request.query == {"customer": ["cus_member"], "limit": ["24"]}
    assert [i.id for i in invoices] == ["in_0002", "in_0001"]
    assert invoices[0] == Invoice(
        id="in_0002",
        customer_id="cus_member",
        subscription_id="sub_membership",
        number="MEMB-0002",
        status="paid",
        amount_due_cents=25000,
        amount_paid_cents=25000,
        currency="usd",
        period_start=when(1_782_592_000),
        period_end=when(1_785_270_400),
        hosted_invoice_url="https://invoice.stripe.com/i/acct_test/in_0002",
        created=when(1_782_592_000),
    )


@pytest.mark.parametrize(("asked", "sent"), [(500, "100"), (0, "1"), (3, "3")])
def test_invoice_limit_is_kept_within_what_stripe_accepts(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe, asked: int, sent: str
) -> None:
    fake_stripe.then(200, list_object("/v1/invoices", []))

    assert fake_gateway.invoices_for_customer("cus_member", limit=asked) == []
    assert fake_stripe.requests[0].query["limit"] == [sent]


def test_upcoming_invoice_from_a_preview(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    preview = invoice_object("upcoming_in_1", status="draft", created=1_780_000_000)
    preview["next_payment_attempt"] = 1_782_595_600
    fake_stripe.then(200, preview)

    upcoming = fake_gateway.upcoming_invoice(
        customer_id="cus_member", subscription_id="sub_membership"
    )

    (request,) = fake_stripe.requests
    assert (request.method, request.path) == ("POST", "/v1/invoices/create_preview")
    assert request.param("customer") == "cus_member"
    assert request.param("subscription") == "sub_membership"
    assert upcoming == UpcomingInvoice(25000, "usd", when(1_782_595_600))


def test_no_upcoming_invoice_is_none(fake_gateway: StripeGateway, fake_stripe: FakeStripe) -> None:
    fake_stripe.then_error(
        404,
        "invalid_request_error",
        "invoice_upcoming_none",
        "No upcoming invoices for customer: cus_member",
    )

    upcoming = fake_gateway.upcoming_invoice(
        customer_id="cus_member", subscription_id="sub_membership"
    )

    assert upcoming is None


def test_upcoming_invoice_of_a_missing_subscription_is_permanent(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    fake_stripe.then_error(404, "invalid_request_error", "resource_missing", "No such subscription")

    with pytest.raises(PermanentGatewayError) as caught:
        fake_gateway.upcoming_invoice(customer_id="cus_member", subscription_id="sub_gone")

    assert caught.value.code == "resource_missing"


def test_upcoming_invoice_outage_is_transient(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    fake_stripe.then_error(500, "api_error", message="Something went wrong")

    with pytest.raises(TransientGatewayError):
        fake_gateway.upcoming_invoice(customer_id="cus_member", subscription_id="sub_membership")


def test_invoice_pay_sends_our_idempotency_key(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    fake_stripe.then(200, invoice_object("in_0003", status="paid"))

    invoice = fake_gateway.invoice_pay("in_0003", idempotency_key="dunning-in_0003-2")

    (request,) = fake_stripe.requests
    assert (request.method, request.path) == ("POST", "/v1/invoices/in_0003/pay")
    assert request.header("Idempotency-Key") == "dunning-in_0003-2"
    assert (invoice.status, invoice.amount_paid_cents) == ("paid", 25000)


@pytest.mark.parametrize(
    ("code", "decline_code"),
    [
        ("card_declined", "insufficient_funds"),
        ("expired_card", None),
        ("invoice_payment_intent_requires_action", None),
    ],
)
def test_a_refused_payment_is_card_declined(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe, code: str, decline_code: str | None
) -> None:
    extra = {"decline_code": decline_code} if decline_code else {}
    fake_stripe.then_error(402, "card_error", code, "Your card was declined.", **extra)

    with pytest.raises(CardDeclined) as caught:
        fake_gateway.invoice_pay("in_0003", idempotency_key="dunning-in_0003-3")

    assert caught.value.code == code
    if decline_code:
        assert decline_code in str(caught.value)
