"""What every billing gateway offers, in our own types.

Gateways return these dataclasses (never SDK objects) and raise these errors (never SDK
exceptions). Amounts are integer cents; times are aware UTC datetimes. Every call that
creates or changes something takes an idempotency key derived from our own rows, so a
retried request never creates a second customer, session or payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class GatewayError(Exception):
    """The gateway refused or failed. `code` is the provider's error code when it gave one."""

    def __init__(self, message: str = "", *, code: str = "") -> None:
        super().__init__(message or code or self.__class__.__name__)
        self.code = code


class TransientGatewayError(GatewayError):
    """Network trouble, rate limits, provider 5xx: the same call may succeed later."""


class PermanentGatewayError(GatewayError):
    """Invalid request, missing object, authentication: retrying will not help."""


class CardDeclined(PermanentGatewayError):
    """The card was declined (or needs the customer's action)."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True)
class Subscription:
    id: str
    customer_id: str
    status: str  # Stripe's: incomplete, active, past_due, canceled, unpaid, ...
    current_period_end: datetime | None
    cancel_at_period_end: bool
    price_id: str
    amount_cents: int
    currency: str
    latest_invoice_id: str = ""
    ended_at: datetime | None = None  # when a canceled subscription ended


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    subscription_id: str
    number: str
    status: str  # draft, open, paid, uncollectible, void
    amount_due_cents: int
    amount_paid_cents: int
    currency: str
    period_start: datetime | None
    period_end: datetime | None
    hosted_invoice_url: str
    created: datetime
    attempt_count: int = 0  # payment attempts so far (open with attempts: a failed payment)


@dataclass(frozen=True)
class UpcomingInvoice:
    amount_due_cents: int
    currency: str
    next_payment_attempt: datetime | None


class BillingGateway(Protocol):
    def customer_create(self, *, email: str, reference: str, idempotency_key: str) -> str:
        """Create a customer; `reference` is our opaque id for them (never PHI). Returns the
        gateway's customer id."""
        ...

    def checkout_session_create(
        self,
        *,
        customer_id: str,
        price_id: str,
        success_url: str,
        cancel_url: str,
        reference: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        """A hosted checkout in subscription mode for one unit of `price_id`."""
        ...

    def portal_session_create(self, *, customer_id: str, return_url: str) -> str:
        """A billing-portal session for the customer; returns its URL."""
        ...

    def subscription_retrieve(self, subscription_id: str) -> Subscription: ...

    def subscriptions_for_customer(self, customer_id: str) -> list[Subscription]:
        """Every subscription of the customer, canceled ones included, newest first."""
        ...

    def subscription_set_cancel_at_period_end(
        self, subscription_id: str, *, cancel: bool, idempotency_key: str
    ) -> Subscription: ...

    def invoices_for_customer(self, customer_id: str, *, limit: int = 24) -> list[Invoice]:
        """Newest first."""
        ...

    def upcoming_invoice(self, *, customer_id: str, subscription_id: str) -> UpcomingInvoice | None:
        """The next invoice of the subscription, or None when there will be none."""
        ...

    def invoice_pay(self, invoice_id: str, *, idempotency_key: str) -> Invoice:
        """Try to collect an open invoice now with the customer's default payment method.
        Raises CardDeclined when the card is refused."""
        ...

    def webhook_event_construct(
        self, payload: bytes, signature_header: str, *, secret: str, tolerance: int
    ) -> WebhookEvent:
        """Verify a webhook body against its signature header and read the event.

        Raises `WebhookSignatureInvalid` for a missing, malformed, wrong or
        older-than-`tolerance` signature, and for a body that is not an event with an id, a
        type, a creation time and `data.object`; `ImproperlyConfigured` for a tolerance that
        is not positive (it would accept a replayed event forever)."""
        ...


class WebhookSignatureInvalid(Exception):
    """A webhook body whose signature is missing, wrong or too old, or that is not an event."""


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: datetime
    # The event's `data.object`, as plain JSON-compatible data in Stripe's shape.
    object: dict[str, Any]
