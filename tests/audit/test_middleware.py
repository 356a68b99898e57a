"""Request ids and client addresses: set per request, echoed back, and written on audit rows."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from audit import context
from audit.middleware import client_ip, client_request_id
from audit.models import AuditEvent
from tests.actors import client_for

pytestmark = pytest.mark.django_db


def read_events():
    return AuditEvent.objects.filter(action="read", object_type="accounts.user")


def assert_minted_by_us(request_id: str) -> None:
    assert len(request_id) == 32
    int(request_id, 16)  # a uuid4 hex


@pytest.mark.parametrize(
    "incoming",
    ["abc.DEF_123-xyz", "has spaces in it", "x" * 65, "short", "ünïcödé-request", ""],
)
def test_the_request_id_is_always_ours(api, incoming):
    """A client choosing the id could make its requests look like someone else's."""
    response = api.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] != incoming
    assert_minted_by_us(response["X-Request-ID"])


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc.DEF_123-xyz", "abc.DEF_123-xyz"),
        ("x" * 80, "x" * 64),
        ("ab\u202ecd\x00ef\u00e9", "abcdef"),
        ("", ""),
    ],
)
def test_client_request_id_is_printable_ascii_and_short(incoming, kept):
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID=incoming)
    assert client_request_id(request) == kept


def test_request_without_id_gets_a_fresh_one_each_time(api):
    first = api.get("/healthz")["X-Request-ID"]
    second = api.get("/healthz")["X-Request-ID"]
    assert len(first) == 32
    assert first != second


def test_audit_row_carries_request_id_ip_and_user_agent(patient):
    response = client_for(patient).get(
        "/api/me",
        HTTP_X_REQUEST_ID="abcdef123456",
        HTTP_USER_AGENT="test-agent/1.0",
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 200
    event = read_events().get()
    assert event.actor == patient
    assert event.request_id == response["X-Request-ID"]
    assert_minted_by_us(event.request_id)
    assert event.client_request_id == "abcdef123456"
    assert event.ip == "203.0.113.7"
    assert event.user_agent == "test-agent/1.0"


def test_audit_row_without_client_id_has_an_empty_one(patient):
    response = client_for(patient).get("/api/me")
    event = read_events().get()
    assert (event.request_id, event.client_request_id) == (response["X-Request-ID"], "")


def test_context_is_reset_after_the_request(patient):
    client_for(patient).get("/api/me", HTTP_X_REQUEST_ID="abcdef123456")
    assert context.current() == context.RequestContext()


def test_audit_row_uses_forwarded_ip_behind_one_proxy(patient, settings):
    settings.NUM_PROXIES = 1
    client_for(patient).get(
        "/api/me", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9", REMOTE_ADDR="10.0.0.2"
    )
    assert read_events().get().ip == "203.0.113.9"


@pytest.mark.parametrize("hop", ["203.0.113.9:443", "unknown"])
def test_request_with_non_ip_forwarded_hop_still_succeeds(patient, settings, hop):
    settings.NUM_PROXIES = 1
    response = client_for(patient).get("/api/me", HTTP_X_FORWARDED_FOR=hop, REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 200


# --- client_ip ----------------------------------------------------------------------------


def _request(**meta):
    return RequestFactory().get("/", **meta)


def test_client_ip_without_proxies_ignores_forwarded_for(settings):
    settings.NUM_PROXIES = 0
    request = _request(HTTP_X_FORWARDED_FOR="198.51.100.1", REMOTE_ADDR="203.0.113.7")
    assert client_ip(request) == "203.0.113.7"


def test_client_ip_with_one_proxy_takes_the_last_hop(settings):
    settings.NUM_PROXIES = 1
    request = _request(
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1, 203.0.113.9", REMOTE_ADDR="10.0.0.2"
    )
    assert client_ip(request) == "203.0.113.9"


def test_client_ip_with_two_proxies_takes_the_second_last_hop(settings):
    settings.NUM_PROXIES = 2
    request = _request(
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9, 10.0.0.1", REMOTE_ADDR="10.0.0.2"
    )
    assert client_ip(request) == "203.0.113.9"


def test_client_ip_with_too_few_hops_falls_back_to_remote_addr(settings):
    settings.NUM_PROXIES = 2
    request = _request(HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "10.0.0.2"


def test_client_ip_with_proxy_but_no_forwarded_for_uses_remote_addr(settings):
    settings.NUM_PROXIES = 1
    assert client_ip(_request(REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"


def test_client_ip_ignores_empty_hops(settings):
    settings.NUM_PROXIES = 1
    request = _request(HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9, ", REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "203.0.113.9"
