from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from billing.gateways.stripe import StripeGateway
from billing.models import BillingCustomer
from tests.billing.stripe_servers import (
    SECRET_KEY,
    FakeStripe,
    LocalStripe,
    start_fake_stripe,
    start_localstripe,
)
from tests.billing.support import customer_for


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[LocalStripe]:
    """One localstripe per test session (per xdist worker), in memory."""
    server = start_localstripe()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def localstripe(localstripe_server: LocalStripe) -> LocalStripe:
    """The session's localstripe, emptied for this test."""
    localstripe_server.reset()
    return localstripe_server


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = start_fake_stripe()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def stripe_settings(settings: Any) -> Any:
    """Stripe settings for a gateway built in the test; point STRIPE_API_BASE_URL somewhere."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE_URL = ""
    settings.STRIPE_TIMEOUT_SECONDS = 5.0
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return settings


@pytest.fixture
def fake_gateway(stripe_settings: Any, fake_stripe: FakeStripe) -> StripeGateway:
    """A Stripe gateway talking to `fake_stripe`."""
    stripe_settings.STRIPE_API_BASE_URL = fake_stripe.base_url
    return StripeGateway()


@pytest.fixture
def customer(patient: Any) -> BillingCustomer:
    """The patient's gateway customer, cus_test_1 (what the test payloads name)."""
    return customer_for(patient)
