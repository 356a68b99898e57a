"""Phone ownership: a 6-digit SMS code proves the patient holds the number on file, and
no care text goes to a number until it is proven."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from notifications import services
from notifications.dispatch import dispatch_due
from notifications.models import Message, MessageStatus
from patients.models import Patient, PhoneVerification
from tests.actors import client_for
from tests.factories import PatientFactory
from tests.patients.support import PROFILE

pytestmark = pytest.mark.django_db

PHONE = "+13055550142"
SEND = "/api/patients/me/phone/verify/send"
VERIFY = "/api/patients/me/phone/verify"


@pytest.fixture
def unverified():
    """A patient with a phone on file that was never proven, who consents to care texts."""
    patient = PatientFactory(phone_verified_at=None)
    patient.set_phone(PHONE)
    patient.save()
    services.consents_set(
        user=patient.user,
        source="intake",
        changes=[services.ConsentChange("care", "sms", True)],
    )
    return patient


def _care_text(user, key="care-1"):
    return services.message_schedule(
        recipient=user,
        template_key="appointment_reminder",
        category="care",
        channel="sms",
        dedupe_key=key,
        context={"path": "/appointments"},
        urgent=True,  # past quiet hours and the daily cap, whatever the clock says
    )


def _code_from(sms_outbox) -> str:
    assert len(sms_outbox) == 1
    assert sms_outbox[0].to == PHONE
    match = re.search(r"\b(\d{6})\b", sms_outbox[0].body)
    assert match, sms_outbox[0].body
    return match.group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_an_unverified_number_gets_no_care_text(unverified, sms_outbox):
    message = _care_text(unverified.user)
    dispatch_due()
    message.refresh_from_db()
    assert sms_outbox == []
    assert (message.status, message.status_reason) == (
        MessageStatus.SUPPRESSED,
        "phone_unverified",
    )


def test_a_verified_number_gets_care_texts(unverified, sms_outbox):
    unverified.phone_verified_at = timezone.now()
    unverified.save()
    message = _care_text(unverified.user)
    dispatch_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert [sms.to for sms in sms_outbox] == [PHONE]


def test_no_phone_at_all_ends_the_text_as_no_phone(sms_outbox):
    patient = PatientFactory()  # verified, but nothing on file
    services.consents_set(
        user=patient.user,
        source="intake",
        changes=[services.ConsentChange("care", "sms", True)],
    )
    message = _care_text(patient.user)
    dispatch_due()
    message.refresh_from_db()
    assert (message.status, message.status_reason) == (MessageStatus.SUPPRESSED, "no_phone")
    assert sms_outbox == []


def test_the_code_reaches_the_unverified_number_and_verifies_it(unverified, sms_outbox):
    client = client_for(unverified.user)
    assert client.post(SEND).status_code == 204
    dispatch_due()
    code = _code_from(sms_outbox)
    # Only a keyed hash is kept; neither the row nor the outbox holds the code readable.
    pending = PhoneVerification.objects.get(patient=unverified)
    assert code not in pending.code_hash
    assert code not in str(Message.objects.get(template_key="phone_verification").context)

    response = client.post(VERIFY, {"code": code}, format="json")
    assert response.status_code == 200, response.content
    unverified.refresh_from_db()
    assert unverified.phone_verified_at is not None
    assert response.json()["phone_verified_at"]
    assert AuditEvent.objects.filter(
        action="update", outcome="success", detail__phone_verification="verified"
    ).exists()
    # Care texts now go out.
    sms_outbox.clear()
    _care_text(unverified.user)
    dispatch_due()
    assert [sms.to for sms in sms_outbox] == [PHONE]


def test_five_wrong_codes_lock_that_code(unverified, sms_outbox):
    client = client_for(unverified.user)
    client.post(SEND)
    dispatch_due()
    code = _code_from(sms_outbox)
    for _ in range(5):
        response = client.post(VERIFY, {"code": _wrong(code)}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_code"
    response = client.post(VERIFY, {"code": code}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_attempts"
    unverified.refresh_from_db()
    assert unverified.phone_verified_at is None
    assert (
        AuditEvent.objects.filter(
            outcome="failure", detail__phone_verification="wrong_code"
        ).count()
        == 5
    )

    # A new code starts a new count.
    sms_outbox.clear()
    client.post(SEND)
    dispatch_due()
    fresh = _code_from(sms_outbox)
    assert client.post(VERIFY, {"code": fresh}, format="json").status_code == 200


def test_an_expired_code_is_refused(unverified, sms_outbox):
    client = client_for(unverified.user)
    client.post(SEND)
    dispatch_due()
    code = _code_from(sms_outbox)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = client_for(unverified.user).post(VERIFY, {"code": code}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_code"


def test_a_code_sent_to_an_earlier_number_proves_nothing(unverified, sms_outbox):
    client = client_for(unverified.user)
    client.post(SEND)
    dispatch_due()
    code = _code_from(sms_outbox)
    Patient.objects.filter(pk=unverified.pk).update(phone_hash="another")
    assert client.post(VERIFY, {"code": code}, format="json").status_code == 400


def test_changing_the_phone_clears_verification(patient):
    client = client_for(patient)
    record = Patient.objects.get(user=patient)
    assert client.put("/api/patients/me", PROFILE, format="json").status_code == 200
    record.refresh_from_db()
    assert record.phone_verified_at is None  # the factory had no number: this one is new
    record.phone_verified_at = timezone.now()
    record.save()
    # The same number again (however written) keeps the proof; a different one drops it.
    same = {**PROFILE, "phone": "305-555-0142"}
    assert client.put("/api/patients/me", same, format="json").status_code == 200
    record.refresh_from_db()
    assert record.phone_verified_at is not None
    changed = {**PROFILE, "phone": "+13055550199"}
    assert client.put("/api/patients/me", changed, format="json").status_code == 200
    record.refresh_from_db()
    assert record.phone_verified_at is None


def test_sending_is_throttled_per_user(unverified):
    client = client_for(unverified.user)
    assert [client.post(SEND).status_code for _ in range(6)] == [204] * 5 + [429]


def test_a_verified_phone_needs_no_code(patient):
    record = Patient.objects.get(user=patient)
    record.set_phone(PHONE)
    record.save()
    response = client_for(patient).post(SEND)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "phone_already_verified"
