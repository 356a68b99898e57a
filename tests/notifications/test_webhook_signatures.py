"""Twilio webhooks refuse what Twilio did not sign: a bad, missing or tampered signature,
the wrong scheme, path or token, and no token configured at all."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator  # noqa: TID251

from accounts.models import User
from notifications.models import (
    Channel,
    Consent,
    InboundSms,
    Message,
    MessageStatus,
    PhoneStatus,
)
from tests.notifications.support import (
    BASE,
    INBOUND,
    STATUS,
    post_form,
    schedule,
    sign,
    sms_params,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_webhook_settings")]


# --- signatures -------------------------------------------------------------------------


def _nothing_changed(user: User, scheduled_sms: Message) -> None:
    assert InboundSms.objects.count() == 0
    assert PhoneStatus.objects.count() == 0
    assert not Consent.objects.filter(user=user).exists()
    scheduled_sms.refresh_from_db()
    assert scheduled_sms.status == MessageStatus.SCHEDULED


def test_inbound_with_a_bad_signature_is_refused_and_nothing_is_stored(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    response = post_form(api, INBOUND, sms_params("STOP"), "bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_without_a_signature_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    response = api.post(
        INBOUND, urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_with_a_tampered_parameter_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("Hello")
    signature = sign(BASE + INBOUND, params)
    response = post_form(api, INBOUND, {**params, "Body": "STOP"}, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_signed_for_http_instead_of_https_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    signature = sign("http://api.example.test" + INBOUND, params)
    response = post_form(api, INBOUND, params, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_signed_for_another_path_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    signature = sign(BASE + STATUS, params)
    response = post_form(api, INBOUND, params, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_signed_with_another_token_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    signature = RequestValidator("another-token").compute_signature(BASE + INBOUND, params)
    response = post_form(api, INBOUND, params, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_is_refused_when_no_auth_token_is_configured(api, settings, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    signature = RequestValidator("").compute_signature(BASE + INBOUND, params)
    settings.TWILIO_AUTH_TOKEN = ""
    response = post_form(api, INBOUND, params, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_the_signed_url_is_the_public_base_url_not_the_host_header(api, texting_patient):
    """A request arriving on an internal host still verifies against PUBLIC_BASE_URL."""
    params = sms_params("HELP")
    response = api.post(
        INBOUND,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=sign(BASE + INBOUND, params),
        HTTP_HOST="localhost",
    )
    assert response.status_code == 200
