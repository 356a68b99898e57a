"""The Stripe gateway: the official SDK against localstripe, and against a local server
answering in Stripe's shapes for what localstripe lacks (Checkout Sessions, the billing portal,
Price-based objects in the current API shape) and for errors. Webhook signatures too.

No database is needed: the adapter only reads settings and talks HTTP.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe  # noqa: TID251
from django.core.exceptions import ImproperlyConfigured

import billing.gateways
from billing.gateways import shapes
from billing.gateways.base import (
    CardDeclined,
    CheckoutSession,
    Invoice,
    PermanentGatewayError,
    Subscription,
    TransientGatewayError,
    UpcomingInvoice,
    WebhookSignatureInvalid,
)
from billing.gateways.stripe import StripeGateway, webhook_event_construct
from tests.billing.stripe_servers import (
    SECRET_KEY,
    FakeStripe,
    LocalStripe,
    invoice_object,
    list_object,
    price_object,
    subscription_object,
)

EMAIL = "patient.one@example.com"
VISA = "4242424242424242"
DECLINED_ON_ATTACH = "4000000000000002"
DECLINED_ON_CHARGE = "4000000000000341"  # attaches, but every charge fails


def _when(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


# --- against localstripe ---------------------------------------------------------------


@pytest.fixture
def sdk(localstripe: LocalStripe) -> stripe.StripeClient:
    """The SDK itself, to set up what the gateway does not offer (plans, cards)."""
    return stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": localstripe.base_url}, max_network_retries=0
    )


@pytest.fixture
def gateway(stripe_settings: Any, localstripe: LocalStripe) -> StripeGateway:
    stripe_settings.STRIPE_API_BASE_URL = localstripe.base_url
    return StripeGateway()


@dataclass(frozen=True)
class Member:
    customer_id: str
    plan_id: str
    subscription_id: str


def _plan(sdk: stripe.StripeClient, amount: int = 25000) -> str:
    product = sdk.v1.products.create({"name": "Monthly membership"})
    plan = sdk.v1.plans.create(
        {"amount": amount, "currency": "usd", "interval": "month", "product": product.id}
    )
    return str(plan.id)


def _default_card(sdk: stripe.StripeClient, customer_id: str, number: str) -> str:
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    method = sdk.v1.payment_methods.create({"type": "card", "card": card})
    sdk.v1.payment_methods.attach(method.id, {"customer": customer_id})
    sdk.v1.customers.update(
        customer_id, {"invoice_settings": {"default_payment_method": method.id}}
    )
    return str(method.id)


def _member(
    sdk: stripe.StripeClient, gateway: StripeGateway, *, card: str = VISA, reference: str = "m1"
) -> Member:
    customer_id = gateway.customer_create(
        email=EMAIL, reference=reference, idempotency_key=f"customer-{reference}"
    )
    _default_card(sdk, customer_id, card)
    plan_id = _plan(sdk)
    subscription = sdk.v1.subscriptions.create(
        {"customer": customer_id, "items": [{"plan": plan_id}]}
    )
    return Member(customer_id, plan_id, str(subscription.id))


def test_customer_create_sends_the_email_and_our_reference(
    gateway: StripeGateway, sdk: stripe.StripeClient
) -> None:
    customer_id = gateway.customer_create(
        email=EMAIL, reference="pat_7f3a", idempotency_key="customer-pat_7f3a"
    )

    customer = sdk.v1.customers.retrieve(customer_id)
    assert customer_id.startswith("cus_")
    assert customer.email == EMAIL
    assert customer.metadata.to_dict() == {"reference": "pat_7f3a"}


def test_plan_subscription_paid_by_card_is_active(
    gateway: StripeGateway, sdk: stripe.StripeClient
) -> None:
    member = _member(sdk, gateway)

    subscription = gateway.subscription_retrieve(member.subscription_id)

    raw = sdk.v1.subscriptions.retrieve(member.subscription_id)
    assert subscription == Subscription(
        id=member.subscription_id,
        customer_id=member.customer_id,
        status="active",
        current_period_end=_when(raw["current_period_end"]),
        cancel_at_period_end=False,
        price_id=member.plan_id,
        amount_cents=25000,
        currency="usd",
        latest_invoice_id=str(raw.latest_invoice),
    )
    assert subscription.current_period_end is not None
    assert subscription.current_period_end.utcoffset() == timedelta(0)
    assert subscription.current_period_end > datetime.now(tz=UTC) + timedelta(days=27)


def test_cancel_at_period_end_and_resume(gateway: StripeGateway, sdk: stripe.StripeClient) -> None:
    member = _member(sdk, gateway)
    before = gateway.subscription_retrieve(member.subscription_id)

    cancelling = gateway.subscription_set_cancel_at_period_end(
        member.subscription_id, cancel=True, idempotency_key="cancel-1"
    )
    stored = gateway.subscription_retrieve(member.subscription_id)
    resumed = gateway.subscription_set_cancel_at_period_end(
        member.subscription_id, cancel=False, idempotency_key="resume-1"
    )

    assert (cancelling.cancel_at_period_end, cancelling.status) == (True, "active")
    assert cancelling.current_period_end == before.current_period_end
    assert stored.cancel_at_period_end is True
    assert (resumed.cancel_at_period_end, resumed.status) == (False, "active")
    assert sdk.v1.subscriptions.retrieve(member.subscription_id).cancel_at_period_end is False


def test_subscriptions_for_customer_include_cancelled_ones_and_no_one_elses(
    gateway: StripeGateway, sdk: stripe.StripeClient
) -> None:
    member = _member(sdk, gateway)
    sdk.v1.subscriptions.cancel(member.subscription_id)
    again = sdk.v1.subscriptions.create(
        {"customer": member.customer_id, "items": [{"plan": member.plan_id}]}
    )
    _member(sdk, gateway, reference="someone-else")
    nobody = gateway.customer_create(email=EMAIL, reference="m3", idempotency_key="customer-m3")

    subscriptions = gateway.subscriptions_for_customer(member.customer_id)

    assert sorted((s.id, s.status) for s in subscriptions) == sorted(
        [(member.subscription_id, "canceled"), (str(again.id), "active")]
    )
    assert {s.customer_id for s in subscriptions} == {member.customer_id}
    assert gateway.subscriptions_for_customer(nobody) == []


def test_invoices_for_customer(gateway: StripeGateway, sdk: stripe.StripeClient) -> None:
    member = _member(sdk, gateway)
    subscription = gateway.subscription_retrieve(member.subscription_id)
    raw = sdk.v1.subscriptions.retrieve(member.subscription_id)

    (invoice,) = gateway.invoices_for_customer(member.customer_id)

    assert isinstance(invoice, Invoice)
    assert invoice.id == subscription.latest_invoice_id
    assert (invoice.customer_id, invoice.subscription_id) == (
        member.customer_id,
        member.subscription_id,
    )
    assert (invoice.status, invoice.amount_due_cents, invoice.amount_paid_cents) == (
        "paid",
        25000,
        25000,
    )
    assert invoice.currency == "usd"
    assert invoice.period_start == _when(raw["current_period_start"])
    assert invoice.period_end == subscription.current_period_end
    assert invoice.created.utcoffset() == timedelta(0)
    # localstripe numbers no invoice and hosts no page; Stripe does both (see the fake below).
    assert (invoice.number, invoice.hosted_invoice_url) == ("", "")


def test_invoices_for_customer_honours_the_limit(
    gateway: StripeGateway, sdk: stripe.StripeClient
) -> None:
    member = _member(sdk, gateway)
    sdk.v1.invoice_items.create({"customer": member.customer_id, "amount": 1500, "currency": "usd"})
    sdk.v1.invoices.create({"customer": member.customer_id})

    assert len(gateway.invoices_for_customer(member.customer_id)) == 2
    assert len(gateway.invoices_for_customer(member.customer_id, limit=1)) == 1


def test_upcoming_invoice(gateway: StripeGateway, sdk: stripe.StripeClient) -> None:
    member = _member(sdk, gateway)
    subscription = gateway.subscription_retrieve(member.subscription_id)

    upcoming = gateway.upcoming_invoice(
        customer_id=member.customer_id, subscription_id=member.subscription_id
    )

    assert upcoming == UpcomingInvoice(
        amount_due_cents=25000,
        currency="usd",
        next_payment_attempt=subscription.current_period_end,
    )


def test_declined_card_leaves_an_incomplete_subscription_that_a_new_card_pays(
    gateway: StripeGateway, sdk: stripe.StripeClient
) -> None:
    member = _member(sdk, gateway, card=DECLINED_ON_CHARGE)

    incomplete = gateway.subscription_retrieve(member.subscription_id)
    (open_invoice,) = gateway.invoices_for_customer(member.customer_id)
    # localstripe answers a refused /pay with 200 and the invoice still open; Stripe answers
    # 402 card_error, which is CardDeclined (test_a_refused_payment_is_card_declined). Either
    # way the gateway never reports a payment Stripe did not take.
    retried = gateway.invoice_pay(open_invoice.id, idempotency_key="pay-1")
    _default_card(sdk, member.customer_id, VISA)
    paid = gateway.invoice_pay(open_invoice.id, idempotency_key="pay-2")

    assert incomplete.status == "incomplete"
    assert (open_invoice.status, open_invoice.amount_due_cents) == ("open", 25000)
    assert open_invoice.amount_paid_cents == 0
    assert (retried.status, retried.amount_paid_cents) == ("open", 0)
    assert (paid.id, paid.status, paid.amount_paid_cents) == (open_invoice.id, "paid", 25000)
    assert gateway.subscription_retrieve(member.subscription_id).status == "active"


def test_paying_a_paid_invoice_is_permanent(
    gateway: StripeGateway, sdk: stripe.StripeClient
) -> None:
    member = _member(sdk, gateway)
    (invoice,) = gateway.invoices_for_customer(member.customer_id)

    with pytest.raises(PermanentGatewayError) as caught:
        gateway.invoice_pay(invoice.id, idempotency_key="pay-again")

    assert type(caught.value) is PermanentGatewayError


def test_unknown_subscription_is_permanent(gateway: StripeGateway) -> None:
    with pytest.raises(PermanentGatewayError) as caught:
        gateway.subscription_retrieve("sub_missing")

    assert type(caught.value) is PermanentGatewayError
    assert caught.value.code == "404"  # localstripe gives no code; Stripe says resource_missing


def test_a_card_refused_by_localstripe_translates_to_card_declined(
    gateway: StripeGateway, sdk: stripe.StripeClient
) -> None:
    from billing.gateways.stripe import _translate

    customer_id = gateway.customer_create(email=EMAIL, reference="m", idempotency_key="c-m")
    with pytest.raises(stripe.CardError) as refused:
        _default_card(sdk, customer_id, DECLINED_ON_ATTACH)

    error = _translate(refused.value)

    assert isinstance(error, CardDeclined)
    assert error.code == "card_declined"
    assert DECLINED_ON_ATTACH not in str(error)


# --- against a local server answering in Stripe's shapes --------------------------------


@pytest.fixture
def fake_gateway(stripe_settings: Any, fake_stripe: FakeStripe) -> StripeGateway:
    stripe_settings.STRIPE_API_BASE_URL = fake_stripe.base_url
    return StripeGateway()


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _checkout(gateway: StripeGateway, key: str = "checkout-pat_7f3a-1") -> CheckoutSession:
    return gateway.checkout_session_create(
        customer_id="cus_member",
        price_id="price_membership",
        success_url="https://app.example.test/billing/done?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://app.example.test/billing",
        reference="pat_7f3a",
        idempotency_key=key,
    )


def test_checkout_session_in_subscription_mode(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    session = _checkout(fake_gateway)

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
        _checkout(fake_gateway)

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
        current_period_end=_when(1_782_592_000),
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
        period_start=_when(1_782_592_000),
        period_end=_when(1_785_270_400),
        hosted_invoice_url="https://invoice.stripe.com/i/acct_test/in_0002",
        created=_when(1_782_592_000),
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
    assert upcoming == UpcomingInvoice(25000, "usd", _when(1_782_595_600))


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


@pytest.mark.parametrize(
    ("status", "type_", "code", "expected", "reported"),
    [
        (402, "card_error", "card_declined", CardDeclined, "card_declined"),
        (400, "invalid_request_error", "parameter_invalid_empty", PermanentGatewayError, None),
        (400, "idempotency_error", "", PermanentGatewayError, "400"),
        (401, "invalid_request_error", "", PermanentGatewayError, "401"),
        (403, "invalid_request_error", "secret_key_required", PermanentGatewayError, None),
        (404, "invalid_request_error", "resource_missing", PermanentGatewayError, None),
        (409, "invalid_request_error", "lock_timeout", TransientGatewayError, None),
        (429, "invalid_request_error", "rate_limit", TransientGatewayError, None),
        (400, "invalid_request_error", "rate_limit", TransientGatewayError, None),
        (500, "api_error", "", TransientGatewayError, "500"),
        (503, "api_error", "", TransientGatewayError, "503"),
    ],
)
def test_errors_are_translated(
    fake_gateway: StripeGateway,
    fake_stripe: FakeStripe,
    status: int,
    type_: str,
    code: str,
    expected: type[Exception],
    reported: str | None,
) -> None:
    fake_stripe.then_error(status, type_, code, "Stripe says no")

    with pytest.raises(expected) as caught:
        fake_gateway.customer_create(email=EMAIL, reference="r", idempotency_key="customer-r")

    assert type(caught.value) is expected
    assert caught.value.code == (reported or code)
    assert "Stripe says no" not in str(caught.value)
    assert len(fake_stripe.requests) == 1  # STRIPE_MAX_NETWORK_RETRIES = 0


def test_bad_gateway_without_a_json_body_is_transient(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    fake_stripe.then(502, "<html>Bad Gateway</html>", content_type="text/html")

    with pytest.raises(TransientGatewayError) as caught:
        _checkout(fake_gateway)

    assert caught.value.code == "502"


def test_unreadable_success_answer_is_transient(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    # We cannot tell whether Stripe acted; the idempotency key makes the retry safe.
    fake_stripe.then(200, "this is not json", content_type="text/plain")

    with pytest.raises(TransientGatewayError):
        _checkout(fake_gateway)


def test_connection_refused_is_transient(stripe_settings: Any) -> None:
    stripe_settings.STRIPE_API_BASE_URL = f"http://127.0.0.1:{_unused_port()}"

    with pytest.raises(TransientGatewayError) as caught:
        StripeGateway().customer_create(email=EMAIL, reference="r", idempotency_key="k")

    assert caught.value.code == "network"


def test_read_timeout_is_transient(
    stripe_settings: Any, fake_stripe: FakeStripe, fake_gateway: StripeGateway
) -> None:
    stripe_settings.STRIPE_TIMEOUT_SECONDS = 0.3
    fake_stripe.then(200, {"id": "cs_test_slow", "url": "https://x.test"}, hang=True)

    with pytest.raises(TransientGatewayError) as caught:
        StripeGateway().portal_session_create(customer_id="cus_member", return_url="https://x")

    assert caught.value.code == "network"


def test_network_retries_resend_the_same_idempotency_key(
    stripe_settings: Any, fake_stripe: FakeStripe
) -> None:
    stripe_settings.STRIPE_API_BASE_URL = fake_stripe.base_url
    stripe_settings.STRIPE_MAX_NETWORK_RETRIES = 1
    fake_stripe.then_error(500, "api_error", message="Something went wrong")

    session = _checkout(StripeGateway(), key="checkout-pat_7f3a-9")

    first, second = fake_stripe.requests
    assert first.header("Idempotency-Key") == second.header("Idempotency-Key")
    assert first.header("Idempotency-Key") == "checkout-pat_7f3a-9"
    assert first.form == second.form
    assert session.id.startswith("cs_test_")


def test_errors_carry_no_sdk_exception_and_no_email(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_stripe.then_error(
        400,
        "invalid_request_error",
        "email_invalid",
        f"Invalid email address: {EMAIL}",
        param="email",
    )

    with pytest.raises(PermanentGatewayError) as caught:
        fake_gateway.customer_create(email=EMAIL, reference="pat_7f3a", idempotency_key="c-1")

    error = caught.value
    assert error.code == "email_invalid"
    assert error.__cause__ is None
    assert error.__context__ is None
    assert EMAIL not in str(error)
    assert EMAIL not in caplog.text  # ours nor the SDK's (request bodies, Stripe's messages)
    assert "customer_create" in caplog.text
    assert "email_invalid" in caplog.text


# --- configuration ---------------------------------------------------------------------


def test_missing_secret_key_refuses_to_construct(stripe_settings: Any) -> None:
    stripe_settings.STRIPE_SECRET_KEY = ""

    with pytest.raises(ImproperlyConfigured):
        StripeGateway()


@pytest.mark.parametrize(
    ("name", "value"),
    [("STRIPE_TIMEOUT_SECONDS", 0), ("STRIPE_MAX_NETWORK_RETRIES", -1)],
)
def test_nonsense_settings_refuse_to_construct(stripe_settings: Any, name: str, value: int) -> None:
    setattr(stripe_settings, name, value)

    with pytest.raises(ImproperlyConfigured):
        StripeGateway()


def test_settings_are_read_once_at_construction(
    stripe_settings: Any, fake_stripe: FakeStripe, fake_gateway: StripeGateway
) -> None:
    stripe_settings.STRIPE_API_BASE_URL = f"http://127.0.0.1:{_unused_port()}"
    stripe_settings.STRIPE_SECRET_KEY = "sk_test_changed"

    fake_gateway.portal_session_create(customer_id="cus_member", return_url="https://x.test")

    assert fake_stripe.requests[0].header("Authorization") == f"Bearer {SECRET_KEY}"


def test_chosen_by_dotted_path(stripe_settings: Any) -> None:
    stripe_settings.BILLING_GATEWAY = "billing.gateways.stripe.StripeGateway"
    billing.gateways._gateway_for.cache_clear()
    try:
        chosen = billing.gateways.gateway()
        assert isinstance(chosen, StripeGateway)
        assert billing.gateways.gateway() is chosen
    finally:
        billing.gateways._gateway_for.cache_clear()


# --- webhook signatures ----------------------------------------------------------------

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"
TOLERANCE = 300


def _event(**changes: Any) -> dict[str, Any]:
    event = {
        "id": "evt_1QxYz",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1_780_000_123,
        "type": "customer.subscription.updated",
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_abc", "idempotency_key": "cancel-1"},
        "data": {
            "object": subscription_object(cancel_at_period_end=True),
            "previous_attributes": {"cancel_at_period_end": False},
        },
    }
    event.update(changes)
    return event


def _body(event: dict[str, Any] | None = None) -> bytes:
    return json.dumps(event or _event()).encode()


def _stripe_header(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The header Stripe sends, computed by the SDK's own helper."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=at
    )
    return header


def _construct(payload: bytes, header: str, secret: str = WEBHOOK_SECRET) -> Any:
    return webhook_event_construct(payload, header, secret=secret, tolerance=TOLERANCE)


def test_event_signed_like_stripe_is_accepted() -> None:
    payload = _body()

    event = _construct(payload, _stripe_header(payload))

    assert (event.id, event.type) == ("evt_1QxYz", "customer.subscription.updated")
    assert event.created == _when(1_780_000_123)
    assert event.created.utcoffset() == timedelta(0)
    assert event.object == subscription_object(cancel_at_period_end=True)
    assert type(event.object) is dict
    assert type(event.object["items"]["data"][0]) is dict
    assert json.loads(json.dumps(event.object)) == event.object
    assert shapes.subscription_from_dict(event.object).cancel_at_period_end is True


def test_the_local_gateways_signature_is_what_stripe_sends() -> None:
    payload = _body()
    now = int(time.time())

    header = shapes.signature_header(payload, WEBHOOK_SECRET)

    assert _construct(payload, header).id == "evt_1QxYz"
    assert shapes.signature_header(payload, WEBHOOK_SECRET, timestamp=now) == _stripe_header(
        payload, at=now
    )


def test_an_event_just_inside_the_tolerance_is_accepted() -> None:
    payload = _body()
    header = _stripe_header(payload, at=int(time.time()) - TOLERANCE + 30)

    assert _construct(payload, header).id == "evt_1QxYz"


def test_tampered_body() -> None:
    payload = _body()
    header = _stripe_header(payload)
    tampered = payload.replace(b'"cancel_at_period_end": true', b'"cancel_at_period_end": false')
    assert tampered != payload

    with pytest.raises(WebhookSignatureInvalid):
        _construct(tampered, header)


def test_signed_with_another_secret() -> None:
    payload = _body()

    with pytest.raises(WebhookSignatureInvalid):
        _construct(payload, _stripe_header(payload, secret="whsec_someone_else"))


def test_stale_timestamp() -> None:
    payload = _body()
    header = _stripe_header(payload, at=int(time.time()) - TOLERANCE - 10)

    with pytest.raises(WebhookSignatureInvalid):
        _construct(payload, header)


@pytest.mark.parametrize(
    "header",
    ["", "t=,v1=", "garbage", "t=1780000000", "v1=deadbeef", "t=notanumber,v1=deadbeef"],
)
def test_missing_or_malformed_header(header: str) -> None:
    with pytest.raises(WebhookSignatureInvalid):
        _construct(_body(), header)


def test_no_secret_configured_never_validates() -> None:
    payload = _body()

    with pytest.raises(WebhookSignatureInvalid):
        _construct(payload, shapes.signature_header(payload, ""), secret="")


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not json",
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'"a string"',
        json.dumps({"id": "evt_1", "object": "v2.core.event", "type": "x"}).encode(),
    ],
)
def test_correctly_signed_body_that_is_not_an_event(payload: bytes) -> None:
    header = shapes.signature_header(payload, WEBHOOK_SECRET)

    with pytest.raises(WebhookSignatureInvalid):
        _construct(payload, header)


@pytest.mark.parametrize(
    "changes",
    [
        {"id": None},
        {"id": ""},
        {"type": None},
        {"data": None},
        {"data": {"previous_attributes": {}}},
        {"data": {"object": "sub_123"}},
        {"created": None},
    ],
)
def test_correctly_signed_event_without_id_type_or_object(changes: dict[str, Any]) -> None:
    event = {k: v for k, v in {**_event(), **changes}.items() if v is not None}
    payload = _body(event)

    with pytest.raises(WebhookSignatureInvalid):
        _construct(payload, _stripe_header(payload))


def test_a_tolerance_of_zero_is_refused() -> None:
    # The SDK reads 0 as "never too old": replayed events would be accepted forever.
    payload = _body()

    with pytest.raises(ImproperlyConfigured):
        webhook_event_construct(
            payload, _stripe_header(payload), secret=WEBHOOK_SECRET, tolerance=0
        )
