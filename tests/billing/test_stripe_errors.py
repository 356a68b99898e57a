"""The Stripe gateway's errors: SDK exceptions translated to transient, permanent or
declined, network trouble, retries with the same idempotency key, and nothing of the
customer's (email, Stripe's message) in what we raise or log.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from billing.gateways.base import (
    CardDeclined,
    PermanentGatewayError,
    TransientGatewayError,
)
from billing.gateways.stripe import StripeGateway
from tests.billing.stripe_servers import (
    FakeStripe,
)
from tests.billing.support import EMAIL, checkout_session, unused_port


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
        checkout_session(fake_gateway)

    assert caught.value.code == "502"


def test_unreadable_success_answer_is_transient(
    fake_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    # We cannot tell whether Stripe acted; the idempotency key makes the retry safe.
    fake_stripe.then(200, "this is not json", content_type="text/plain")

    with pytest.raises(TransientGatewayError):
        checkout_session(fake_gateway)


def test_connection_refused_is_transient(stripe_settings: Any) -> None:
    stripe_settings.STRIPE_API_BASE_URL = f"http://127.0.0.1:{unused_port()}"

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

    session = checkout_session(StripeGateway(), key="checkout-pat_7f3a-9")

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
