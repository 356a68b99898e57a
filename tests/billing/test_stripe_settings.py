"""The Stripe gateway's configuration: read once at construction, refused when
nonsensical, chosen by dotted path."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from billing.gateways.registry import gateway, gateway_for
from billing.gateways.stripe import StripeGateway
from tests.billing.stripe_servers import (
    SECRET_KEY,
    FakeStripe,
)
from tests.billing.support import unused_port


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
    stripe_settings.STRIPE_API_BASE_URL = f"http://127.0.0.1:{unused_port()}"
    stripe_settings.STRIPE_SECRET_KEY = "sk_test_changed"

    fake_gateway.portal_session_create(customer_id="cus_member", return_url="https://x.test")

    assert fake_stripe.requests[0].header("Authorization") == f"Bearer {SECRET_KEY}"


def test_chosen_by_dotted_path(stripe_settings: Any) -> None:
    stripe_settings.BILLING_GATEWAY = "billing.gateways.stripe.StripeGateway"
    gateway_for.cache_clear()
    try:
        chosen = gateway()
        assert isinstance(chosen, StripeGateway)
        assert gateway() is chosen
    finally:
        gateway_for.cache_clear()
