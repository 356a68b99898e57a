"""Stripe: the only module in the project that imports the `stripe` SDK.

Everything Stripe-specific stays behind this seam:

* `StripeGateway` implements `BillingGateway` with one `stripe.StripeClient` per instance
  (the instance is cached by `billing.gateways.registry.gateway()`). It returns our
  dataclasses, parsed from the SDK objects' plain-dict form by `shapes`, and raises only our
  `GatewayError` subclasses: transient (network, rate limit, 409, 5xx) or permanent (invalid
  request, authentication, permission, other 4xx), `CardDeclined` for a card error.
* Its `webhook_event_construct` verifies a webhook's Stripe-Signature with the SDK.

Every call that creates or changes something sends the caller's idempotency key, so the
SDK's own network retries and our callers' retries never create a second object or payment.

No email, card detail or Stripe error message (which may quote either) goes into the errors
we raise or the lines we log, and no SDK exception rides along as `__cause__`/`__context__`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

import stripe  # noqa: TID251
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from billing.gateways import shapes
from billing.gateways.base import (
    BillingGateway,
    CardDeclined,
    CheckoutSession,
    GatewayError,
    Invoice,
    PermanentGatewayError,
    Subscription,
    TransientGatewayError,
    UpcomingInvoice,
    WebhookEvent,
    WebhookSignatureInvalid,
)

logger = logging.getLogger(__name__)

# The SDK logs every request at INFO, Stripe's error messages (which can quote an email) at
# INFO and request/response bodies at DEBUG. Unless LOGGING configures the "stripe" logger
# itself, keep it to warnings.
_sdk_logger = logging.getLogger("stripe")
if _sdk_logger.level == logging.NOTSET:
    _sdk_logger.setLevel(logging.WARNING)

# Stripe's answer to an upcoming-invoice preview when nothing will be billed (canceled or
# ending subscription).
NO_UPCOMING_INVOICE = "invoice_upcoming_none"

_T = TypeVar("_T")


def translate_error(exc: stripe.StripeError) -> GatewayError:
    """Map an SDK exception to ours. Never quotes Stripe's message."""
    status = exc.http_status
    # Only some SDK exceptions copy the error's code onto themselves; the body always has it.
    code = str(exc.code or (getattr(exc.error, "code", None) if exc.error else None) or "")
    label = f"Stripe {type(exc).__name__} (HTTP {status or '-'})"
    if exc.request_id:
        label += f" request {exc.request_id}"
    if isinstance(exc, stripe.CardError):
        decline_code = getattr(exc.error, "decline_code", None) if exc.error else None
        if decline_code:
            label += f" decline_code {decline_code}"
        return CardDeclined(label, code=code or "card_declined")
    if isinstance(exc, stripe.APIConnectionError):
        return TransientGatewayError(label, code=code or "network")
    reported = code or str(status or "unknown")
    if isinstance(exc, stripe.RateLimitError):
        return TransientGatewayError(label, code=reported)
    if isinstance(
        exc,
        stripe.InvalidRequestError
        | stripe.AuthenticationError
        | stripe.PermissionError
        | stripe.IdempotencyError,
    ):
        return PermanentGatewayError(label, code=reported)
    # APIError and anything else: decided by the status. 409 is a lock on the object or the
    # idempotency key (Stripe asks for a retry); no status at all, or a 2xx the SDK could not
    # read, leaves the outcome unknown, which the idempotency key makes safe to retry.
    if status is not None and 400 <= status < 500 and status not in (409, 429):
        return PermanentGatewayError(label, code=reported)
    return TransientGatewayError(label, code=reported)


def _newest_first(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    # Stripe lists newest first already; a stable sort keeps its order for equal `created`
    # and holds stand-ins (localstripe lists subscriptions oldest first) to the contract.
    return sorted(rows, key=lambda row: int(row.get("created") or 0), reverse=True)


def _upcoming(data: dict[str, Any]) -> UpcomingInvoice:
    return UpcomingInvoice(
        amount_due_cents=int(data.get("amount_due") or 0),
        currency=str(data.get("currency") or ""),
        # A preview is created at the renewal (its period_end) when Stripe gives no attempt.
        next_payment_attempt=shapes.from_timestamp(
            data.get("next_payment_attempt") or data.get("period_end")
        ),
    )


class StripeGateway(BillingGateway):
    """`BillingGateway` on Stripe Billing (subclassed explicitly so mypy checks every
    signature against the protocol). Settings are read once, at construction."""

    def __init__(self) -> None:
        secret_key: str = settings.STRIPE_SECRET_KEY
        base_url: str = settings.STRIPE_API_BASE_URL
        timeout = float(settings.STRIPE_TIMEOUT_SECONDS)
        retries = int(settings.STRIPE_MAX_NETWORK_RETRIES)
        if not secret_key:
            raise ImproperlyConfigured("StripeGateway needs STRIPE_SECRET_KEY.")
        if timeout <= 0:
            raise ImproperlyConfigured("STRIPE_TIMEOUT_SECONDS must be positive.")
        if retries < 0:
            raise ImproperlyConfigured("STRIPE_MAX_NETWORK_RETRIES must not be negative.")
        self._client = stripe.StripeClient(
            secret_key,
            # Tests and local stand-ins only; production talks to the SDK's own host.
            base_addresses={"api": base_url.rstrip("/")} if base_url else None,
            http_client=stripe.RequestsClient(timeout=timeout),
            max_network_retries=retries,
        )

    # --- customers and hosted pages ----------------------------------------------------

    def customer_create(self, *, email: str, reference: str, idempotency_key: str) -> str:
        customer = self._call(
            "customer_create",
            lambda: self._client.v1.customers.create(
                {"email": email, "metadata": {"reference": reference}},
                {"idempotency_key": idempotency_key},
            ),
        )
        logger.info("stripe customer created reference=%s customer=%s", reference, customer.id)
        return str(customer.id)

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
        session = self._call(
            "checkout_session_create",
            lambda: self._client.v1.checkout.sessions.create(
                {
                    "mode": "subscription",
                    "customer": customer_id,
                    "line_items": [{"price": price_id, "quantity": 1}],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "client_reference_id": reference,
                    "metadata": {"reference": reference},
                    "subscription_data": {"metadata": {"reference": reference}},
                },
                {"idempotency_key": idempotency_key},
            ),
        )
        if not session.url:
            # Only embedded/custom UI modes come back without one; we always ask for hosted.
            self._fail(
                "checkout_session_create",
                PermanentGatewayError("Stripe returned a session without a URL", code="no_url"),
            )
        return CheckoutSession(id=str(session.id), url=str(session.url))

    def portal_session_create(self, *, customer_id: str, return_url: str) -> str:
        session = self._call(
            "portal_session_create",
            lambda: self._client.v1.billing_portal.sessions.create(
                {"customer": customer_id, "return_url": return_url}
            ),
        )
        return str(session.url)

    # --- subscriptions -----------------------------------------------------------------

    def subscription_retrieve(self, subscription_id: str) -> Subscription:
        subscription = self._call(
            "subscription_retrieve",
            lambda: self._client.v1.subscriptions.retrieve(subscription_id),
        )
        return shapes.subscription_from_dict(subscription.to_dict(for_json=True))

    def subscriptions_for_customer(self, customer_id: str) -> list[Subscription]:
        rows = self._call(
            "subscriptions_for_customer",
            lambda: [
                subscription.to_dict(for_json=True)
                for subscription in self._client.v1.subscriptions.list(
                    {"customer": customer_id, "status": "all", "limit": 100}
                ).auto_paging_iter()
            ],
        )
        return [shapes.subscription_from_dict(row) for row in _newest_first(rows)]

    def subscription_set_cancel_at_period_end(
        self, subscription_id: str, *, cancel: bool, idempotency_key: str
    ) -> Subscription:
        subscription = self._call(
            "subscription_set_cancel_at_period_end",
            lambda: self._client.v1.subscriptions.update(
                subscription_id,
                {"cancel_at_period_end": cancel},
                {"idempotency_key": idempotency_key},
            ),
        )
        return shapes.subscription_from_dict(subscription.to_dict(for_json=True))

    # --- invoices ----------------------------------------------------------------------

    def invoices_for_customer(self, customer_id: str, *, limit: int = 24) -> list[Invoice]:
        page = self._call(
            "invoices_for_customer",
            lambda: self._client.v1.invoices.list(
                {"customer": customer_id, "limit": max(1, min(limit, 100))}
            ),
        )
        rows = _newest_first(invoice.to_dict(for_json=True) for invoice in page.data)
        return [shapes.invoice_from_dict(row) for row in rows]

    def upcoming_invoice(self, *, customer_id: str, subscription_id: str) -> UpcomingInvoice | None:
        error: GatewayError
        try:
            preview = self._client.v1.invoices.create_preview(
                {"customer": customer_id, "subscription": subscription_id}
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == NO_UPCOMING_INVOICE:
                return None
            error = translate_error(exc)
        except stripe.StripeError as exc:
            error = translate_error(exc)
        else:
            return _upcoming(preview.to_dict(for_json=True))
        self._fail("upcoming_invoice", error)

    def invoice_pay(self, invoice_id: str, *, idempotency_key: str) -> Invoice:
        # A refused card is a 402 card_error (CardDeclined). A 200 is returned as it stands:
        # "paid", or "open" while an asynchronous payment is still processing.
        invoice = self._call(
            "invoice_pay",
            lambda: self._client.v1.invoices.pay(
                invoice_id, None, {"idempotency_key": idempotency_key}
            ),
        )
        return shapes.invoice_from_dict(invoice.to_dict(for_json=True))

    def webhook_event_construct(
        self, payload: bytes, signature_header: str, *, secret: str, tolerance: int
    ) -> WebhookEvent:
        """Verified by the SDK itself (see `BillingGateway.webhook_event_construct`)."""
        if tolerance <= 0:
            # The SDK skips the age check for 0: a replayed event would be accepted forever.
            raise ImproperlyConfigured(
                "The webhook tolerance must be a positive number of seconds."
            )
        if not signature_header:
            raise WebhookSignatureInvalid("No Stripe-Signature header")
        if not secret:
            raise WebhookSignatureInvalid("No webhook secret configured")
        reason = ""
        try:
            stripe.Webhook.construct_event(payload, signature_header, secret, tolerance=tolerance)
        except stripe.SignatureVerificationError:
            reason = "Signature verification failed"
        except (ValueError, TypeError, AttributeError, KeyError):
            # Not UTF-8, not JSON, not an object, or a v2 "thin" event.
            reason = "The body is not a Stripe event"
        if reason:
            raise WebhookSignatureInvalid(reason)
        # The event's own JSON, not the SDK object's: that one turns *_decimal strings into
        # Decimals and int64 strings into ints, and the handler expects Stripe's JSON.
        return shapes.webhook_event_from_json(payload)

    # --- plumbing ----------------------------------------------------------------------

    def _call(self, operation: str, request: Callable[[], _T]) -> _T:
        error: GatewayError
        try:
            return request()
        except stripe.StripeError as exc:
            error = translate_error(exc)
        # Raised outside the except block: nothing of the SDK exception (whose body may quote
        # an email) rides along as __context__.
        self._fail(operation, error)

    @staticmethod
    def _fail(operation: str, error: GatewayError) -> NoReturn:
        logger.warning(
            "stripe %s failed error=%s code=%s detail=%s",
            operation,
            type(error).__name__,
            error.code,
            error,
        )
        raise error
