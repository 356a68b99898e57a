"""Responses and logs: API answers are never cached, forged webhooks leave a security
event, signed-in callers have a per-user rate limit (stricter where Stripe is called),
and the membership page does not call the gateway on every load."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditEvent
from billing.gateways.registry import gateway
from tests.actors import client_for
from tests.billing.support import (
    become_member,
    customer_for,
    post_signed,
    subscription_created_event,
)

pytestmark = pytest.mark.django_db


# --- Cache-Control ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("patient", "/api/me", 200),
        ("anonymous", "/api/me", 401),
        ("patient", "/api/no-such-endpoint", 404),
        ("anonymous", "/api/schema/", 200),
    ],
)
def test_every_api_response_says_no_store(request, api, who, path, status):
    client = api if who == "anonymous" else client_for(request.getfixturevalue(who))
    response = client.get(path)
    assert response.status_code == status
    assert response["Cache-Control"] == "no-store, private"


def test_non_api_paths_keep_their_own_caching(api):
    assert "Cache-Control" not in api.get("/healthz")


# --- rejected webhook signatures ------------------------------------------------------------


def rejected_webhooks() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="webhook_rejected"))


def test_a_forged_stripe_webhook_is_a_security_event_with_the_ip(patient):
    customer_for(patient)
    response = post_signed(
        Client(REMOTE_ADDR="198.51.100.23"),
        subscription_created_event(),
        secret="whsec_someone_else",
    )
    assert response.status_code == 400
    [event] = rejected_webhooks()
    assert (event.outcome, event.object_type, event.ip) == (
        "denied",
        "billing.webhook",
        "198.51.100.23",
    )
    assert event.actor is None


def test_a_correctly_signed_stripe_webhook_is_no_security_event(patient):
    customer_for(patient)
    assert post_signed(Client(), subscription_created_event()).status_code == 200
    assert rejected_webhooks() == []


@pytest.mark.parametrize("path", ["inbound", "status"])
def test_a_forged_twilio_webhook_is_a_security_event_with_the_ip(settings, path):
    settings.TWILIO_AUTH_TOKEN = "twilio-token"
    response = Client(REMOTE_ADDR="198.51.100.24").post(
        f"/api/notifications/twilio/{path}",
        urlencode({"From": "+13055550123", "Body": "STOP", "MessageSid": "SM1"}),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE="forged",
    )
    assert response.status_code == 403
    [event] = rejected_webhooks()
    assert (event.outcome, event.object_type, event.ip) == (
        "denied",
        "notifications.twilio_webhook",
        "198.51.100.24",
    )


# --- per-user rate limits -------------------------------------------------------------------


@pytest.fixture
def rates(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """DRF reads the rates once, at import: tests lower them on the class."""
    lowered = dict(SimpleRateThrottle.THROTTLE_RATES)
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", lowered)
    return lowered


def test_the_configured_rates_are_the_documented_defaults():
    assert SimpleRateThrottle.THROTTLE_RATES["user"] == "600/min"
    assert SimpleRateThrottle.THROTTLE_RATES["payments"] == "30/min"


def test_a_signed_in_user_is_limited_per_user(rates, patient, other_patient):
    rates["user"] = "3/min"
    client = client_for(patient)
    # One instant, so the four requests fall in one counting window.
    with time_machine.travel(time.time(), tick=False):
        assert [client.get("/api/me").status_code for _ in range(4)] == [200, 200, 200, 429]
        throttled = client.get("/api/me")
    assert throttled.json()["error"]["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60
    # Per user, not per address: someone else behind the same NAT is unaffected.
    assert client_for(other_patient).get("/api/me").status_code == 200


def test_endpoints_that_call_stripe_have_a_stricter_shared_limit(rates, patient):
    rates["payments"] = "2/min"
    client = client_for(patient)
    assert client.get("/api/billing/membership").status_code == 200
    assert client.post("/api/billing/portal").status_code in (200, 409)
    assert client.get("/api/billing/membership").status_code == 429
    assert client.get("/api/me").status_code == 200  # the general limit is not spent


# --- the next-invoice preview is cached -----------------------------------------------------


def test_the_membership_page_reuses_the_gateway_preview(patient, monkeypatch):
    subscription = become_member(patient)
    calls: list[str] = []
    real = type(gateway()).upcoming_invoice

    def counting(self: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["subscription_id"])
        return real(self, **kwargs)

    monkeypatch.setattr(type(gateway()), "upcoming_invoice", counting)
    client = client_for(patient)
    first = client.get("/api/billing/membership").json()
    second = client.get("/api/billing/membership").json()
    assert first == second
    assert first["next_invoice"] is not None
    assert calls == [subscription.gateway_subscription_id]


def test_a_change_to_the_subscription_is_never_answered_from_the_cache(patient):
    become_member(patient)
    client = client_for(patient)
    assert client.get("/api/billing/membership").json()["next_invoice"] is not None
    assert client.post("/api/billing/membership/cancel").status_code == 200
    assert client.get("/api/billing/membership").json()["next_invoice"] is None
