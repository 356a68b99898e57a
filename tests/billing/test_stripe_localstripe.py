"""The Stripe gateway with the official SDK against localstripe: customers, plan
subscriptions, cancellation at the period end, invoices, the upcoming invoice, payments.

No database is needed: the adapter only reads settings and talks HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe  # noqa: TID251

from billing.gateways.base import (
    CardDeclined,
    Invoice,
    PermanentGatewayError,
    Subscription,
    UpcomingInvoice,
)
from billing.gateways.stripe import StripeGateway, translate_error
from tests.billing.stripe_servers import (
    SECRET_KEY,
    LocalStripe,
)
from tests.billing.support import EMAIL, when

VISA = "4242424242424242"
DECLINED_ON_ATTACH = "4000000000000002"
DECLINED_ON_CHARGE = "4000000000000341"  # attaches, but every charge fails


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
        current_period_end=when(raw["current_period_end"]),
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

    canceling = gateway.subscription_set_cancel_at_period_end(
        member.subscription_id, cancel=True, idempotency_key="cancel-1"
    )
    stored = gateway.subscription_retrieve(member.subscription_id)
    resumed = gateway.subscription_set_cancel_at_period_end(
        member.subscription_id, cancel=False, idempotency_key="resume-1"
    )

    assert (canceling.cancel_at_period_end, canceling.status) == (True, "active")
    assert canceling.current_period_end == before.current_period_end
    assert stored.cancel_at_period_end is True
    assert (resumed.cancel_at_period_end, resumed.status) == (False, "active")
    assert sdk.v1.subscriptions.retrieve(member.subscription_id).cancel_at_period_end is False


def test_subscriptions_for_customer_include_canceled_ones_and_no_one_elses(
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
    assert invoice.period_start == when(raw["current_period_start"])
    assert invoice.period_end == subscription.current_period_end
    assert invoice.created.utcoffset() == timedelta(0)
    # localstripe numbers no invoice and hosts no page; Stripe does both (see the fake below).
    assert (invoice.number, invoice.hosted_invoice_url) == ("", "")


def test_invoices_for_customer_honors_the_limit(
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
    customer_id = gateway.customer_create(email=EMAIL, reference="m", idempotency_key="c-m")
    with pytest.raises(stripe.CardError) as refused:
        _default_card(sdk, customer_id, DECLINED_ON_ATTACH)

    error = translate_error(refused.value)

    assert isinstance(error, CardDeclined)
    assert error.code == "card_declined"
    assert DECLINED_ON_ATTACH not in str(error)
