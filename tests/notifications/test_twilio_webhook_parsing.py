"""The Twilio seam's webhook side, no HTTP needed: signatures, TwiML answers, and Twilio's
status callbacks and inbound texts read into our own words."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.http import QueryDict
from twilio.request_validator import RequestValidator  # noqa: TID251

from notifications.sms import twilio as twilio_sms
from notifications.sms.twilio import signature_is_valid, twiml_message

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2
FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://app.example.test"
TO_NUMBER = "+15555550123"
BODY = "You have a new message from your care team. Open the app to read it."


# --- webhook signatures ----------------------------------------------------------------

WEBHOOK_URL = f"{PUBLIC_BASE_URL}/api/notifications/twilio/inbound"
WEBHOOK_PARAMS = {
    "AccountSid": ACCOUNT_SID,
    "MessageSid": "SM" + "c" * 32,
    "From": TO_NUMBER,
    "To": FROM_NUMBER,
    "Body": "STOP",
}


@pytest.fixture
def webhook_settings(settings: Any) -> Any:
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    return settings


def _signature(url: str, params: Any, token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def test_valid_signature(webhook_settings: Any) -> None:
    signature = _signature(WEBHOOK_URL, WEBHOOK_PARAMS)

    assert signature_is_valid(WEBHOOK_URL, WEBHOOK_PARAMS, signature) is True


def test_valid_signature_with_a_query_string_and_a_querydict(webhook_settings: Any) -> None:
    url = f"{PUBLIC_BASE_URL}/api/notifications/twilio/status?m=msg_4f2a9c"
    post = QueryDict(mutable=True)
    post.update({"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered"})
    post.appendlist("Repeated", "b")
    post.appendlist("Repeated", "a")
    signature = _signature(url, post)

    assert signature_is_valid(url, post, signature) is True
    assert signature_is_valid(url.replace("m=msg_4f2a9c", "m=other"), post, signature) is False


def test_tampered_parameter(webhook_settings: Any) -> None:
    signature = _signature(WEBHOOK_URL, WEBHOOK_PARAMS)
    tampered = {**WEBHOOK_PARAMS, "Body": "START"}

    assert signature_is_valid(WEBHOOK_URL, tampered, signature) is False


def test_extra_parameter(webhook_settings: Any) -> None:
    signature = _signature(WEBHOOK_URL, WEBHOOK_PARAMS)

    assert signature_is_valid(WEBHOOK_URL, {**WEBHOOK_PARAMS, "X": "1"}, signature) is False


def test_wrong_path(webhook_settings: Any) -> None:
    signature = _signature(WEBHOOK_URL, WEBHOOK_PARAMS)
    other = f"{PUBLIC_BASE_URL}/api/notifications/twilio/status"

    assert signature_is_valid(other, WEBHOOK_PARAMS, signature) is False


def test_wrong_scheme(webhook_settings: Any) -> None:
    signature = _signature(WEBHOOK_URL, WEBHOOK_PARAMS)
    plain_http = WEBHOOK_URL.replace("https://", "http://", 1)

    assert signature_is_valid(plain_http, WEBHOOK_PARAMS, signature) is False


def test_signed_with_another_token(webhook_settings: Any) -> None:
    signature = _signature(WEBHOOK_URL, WEBHOOK_PARAMS, token="someone-else's-token")

    assert signature_is_valid(WEBHOOK_URL, WEBHOOK_PARAMS, signature) is False


def test_empty_signature(webhook_settings: Any) -> None:
    assert signature_is_valid(WEBHOOK_URL, WEBHOOK_PARAMS, "") is False


def test_no_auth_token_configured_never_validates(webhook_settings: Any) -> None:
    # Signed with the empty token an attacker could also compute.
    signature = _signature(WEBHOOK_URL, WEBHOOK_PARAMS, token="")
    webhook_settings.TWILIO_AUTH_TOKEN = ""

    assert signature_is_valid(WEBHOOK_URL, WEBHOOK_PARAMS, signature) is False


# --- TwiML -----------------------------------------------------------------------------


def test_twiml_with_a_message() -> None:
    xml = twiml_message("Reply & <help>: call +1 800 555 0100")

    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    (message,) = list(root)
    assert message.tag == "Message"
    assert message.text == "Reply & <help>: call +1 800 555 0100"


@pytest.mark.parametrize("text", [None, ""])
def test_twiml_without_a_message_is_an_empty_response(text: str | None) -> None:
    root = ET.fromstring(twiml_message(text))

    assert root.tag == "Response"
    assert list(root) == []


# --- status callbacks and inbound texts in our words -------------------------------------


def _callback(status: str, error_code: str = "") -> dict[str, str]:
    params = {
        "MessageSid": "SM" + "b" * 32,
        "MessageStatus": status,
        "To": TO_NUMBER,
        "From": FROM_NUMBER,
    }
    return params | ({"ErrorCode": error_code} if error_code else {})


@pytest.mark.parametrize(
    ("status", "ours"),
    [
        ("accepted", "sent"),
        ("queued", "sent"),
        ("sending", "sent"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "failed"),
        ("failed", "failed"),
        ("Delivered", "delivered"),
        ("receiving", None),
        ("canceled", None),
        ("teleported", None),
        ("", None),
    ],
)
def test_delivery_report_translates_twilio_statuses(status: str, ours: str | None) -> None:
    report = twilio_sms.delivery_report(_callback(status), query={"m": "abc", "a": "3"})
    assert report.status == ours
    assert (report.message_id, report.attempt) == ("abc", 3)
    assert report.provider_message_id == "SM" + "b" * 32
    assert report.to_phone == TO_NUMBER
    assert (report.error_code, report.number_flag) == ("", None)


@pytest.mark.parametrize(
    ("code", "flag"),
    [
        ("21610", "opted_out"),
        ("21211", "invalid"),
        ("30005", "invalid"),
        ("30003", "unreachable"),
        ("30008", None),
        ("", None),
        ("not-a-code", None),
    ],
)
def test_delivery_report_says_what_an_error_means_for_the_number(
    code: str, flag: str | None
) -> None:
    report = twilio_sms.delivery_report(_callback("undelivered", code))
    assert report.number_flag == flag
    assert report.error_code == (code if code.isdigit() else "")
    assert (report.message_id, report.attempt) == ("", None)


def test_incoming_sms_reads_the_inbound_webhook() -> None:
    incoming = twilio_sms.incoming_sms(
        {"MessageSid": "SM1", "From": TO_NUMBER, "To": FROM_NUMBER, "Body": "STOP"}
    )
    assert (incoming.provider_message_id, incoming.from_phone, incoming.body) == (
        "SM1",
        TO_NUMBER,
        "STOP",
    )
