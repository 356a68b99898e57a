"""Twilio delivery status callbacks end to end, including the limited retry of texts to an
unreachable handset.

Every scenario runs twice through the `twilio` fixture: once as a signed form POST to the
webhook, once straight into the service the webhook calls."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from notifications.dispatch import dispatch_due
from notifications.models import (
    Channel,
    Message,
    MessageStatus,
    PhoneStatus,
)
from notifications.services import (
    ConsentChange,
    consents_set,
    message_schedule,
)
from tests.notifications.support import (
    BASE,
    STATUS,
    make_message,
    phone_status,
    post_form,
    post_signed,
    sign,
    snapshot,
    status_params,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_webhook_settings")]


# --- status callbacks -------------------------------------------------------------------


@pytest.mark.parametrize("status", [MessageStatus.CLAIMED, MessageStatus.SENT])
def test_delivered_moves_a_claimed_or_sent_message_to_delivered(twilio, texting_patient, status):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, status, provider_message_id=sid)

    twilio.report(str(message.public_id), "delivered", sid=sid)

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at is not None
    assert message.provider_message_id == sid


def test_a_repeated_delivered_report_is_harmless(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    twilio.report(str(message.public_id), "delivered", sid=sid)
    first = snapshot(message)

    twilio.report(str(message.public_id), "delivered", sid=sid)

    assert snapshot(message) == first
    assert first["status"] == MessageStatus.DELIVERED


def test_a_late_sent_report_does_not_move_a_delivered_message_back(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    twilio.report(str(message.public_id), "delivered", sid=sid)
    delivered = snapshot(message)

    twilio.report(str(message.public_id), "sent", sid=sid)
    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003")

    assert snapshot(message) == delivered


def test_undelivered_to_an_unknown_number_fails_the_message_and_flags_the_phone(
    twilio, texting_patient
):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)

    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30005")

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.failed_at is not None
    assert message.provider_error_code == "30005"
    status = phone_status()
    assert status is not None
    assert status.invalid_at is not None
    assert status.invalid_code == "30005"
    assert status.opted_out_at is None


@pytest.mark.parametrize("provider_status", ["delivered", "sent"])
def test_a_report_revives_a_message_whose_outcome_was_unknown(
    twilio, texting_patient, provider_status
):
    message = make_message(
        texting_patient,
        MessageStatus.FAILED,
        status_reason="outcome_unknown",
        failed_at=timezone.now(),
    )
    sid = "SM" + uuid.uuid4().hex

    twilio.report(str(message.public_id), provider_status, sid=sid)

    message.refresh_from_db()
    assert message.status == (
        MessageStatus.DELIVERED if provider_status == "delivered" else MessageStatus.SENT
    )
    assert message.status_reason == ""
    assert message.provider_message_id == sid


def test_a_report_does_not_revive_a_message_that_failed_for_a_known_reason(twilio, texting_patient):
    message = make_message(texting_patient, MessageStatus.FAILED, status_reason="permanent_error")
    before = snapshot(message)
    twilio.report(str(message.public_id), "delivered", sid="SM" + uuid.uuid4().hex)
    assert snapshot(message) == before


@pytest.mark.parametrize("message_id", ["", "not-a-uuid"])
def test_without_our_id_the_report_is_matched_by_provider_sid(twilio, texting_patient, message_id):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    twilio.report(message_id, "delivered", sid=sid)
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_a_report_for_an_unknown_message_answers_204_and_changes_nothing(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    before = snapshot(message)

    twilio.report(str(uuid.uuid4()), "delivered", sid=sid)
    twilio.report("not-a-uuid", "delivered", sid="SM" + uuid.uuid4().hex)

    assert snapshot(message) == before
    assert PhoneStatus.objects.count() == 0


def test_a_report_with_an_unknown_status_changes_nothing(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    before = snapshot(message)
    twilio.report(str(message.public_id), "teleported", sid=sid)
    assert snapshot(message) == before


def test_a_status_report_with_a_bad_signature_is_refused_and_changes_nothing(api, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    before = snapshot(message)
    path = f"{STATUS}?m={message.public_id}"
    params = status_params("undelivered", sid=sid, error_code="30005")

    bad = post_form(api, path, params, "bm90IGEgc2lnbmF0dXJl")
    # Signed without the query string: the message id is part of what Twilio signs.
    no_query = post_form(api, path, params, sign(BASE + STATUS, params))
    # Signed for another message's id.
    other_id = post_form(api, path, params, sign(f"{BASE}{STATUS}?m={uuid.uuid4()}", params))

    assert [bad.status_code, no_query.status_code, other_id.status_code] == [403, 403, 403]
    assert snapshot(message) == before
    assert PhoneStatus.objects.count() == 0


def test_a_late_failure_report_does_not_flag_the_patients_new_number(api, texting_patient):
    new_phone = "+13055550999"
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    # The text went to PHONE; the patient then corrects their number.
    texting_patient.patient.set_phone(new_phone)
    texting_patient.patient.save()

    path = f"{STATUS}?m={message.public_id}"
    params = status_params("undelivered", sid=sid, error_code="30005")  # To = PHONE
    assert post_signed(api, path, params).status_code == 204

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    flagged = phone_status(new_phone)
    assert flagged is None or flagged.invalid_at is None


# --- unreachable handsets (30003): a limited retry ----------------------------------------


def test_unreachable_is_retried_with_backoff_while_attempts_remain(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid, attempts=1)
    message.sent_at = timezone.now()
    message.save(update_fields=["sent_at"])
    before = timezone.now()

    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003", attempt=1)

    message.refresh_from_db()
    assert message.status == MessageStatus.SCHEDULED
    assert (message.status_reason, message.provider_error_code) == ("unreachable_retry", "30003")
    assert (
        before + timedelta(seconds=60) <= message.send_at <= timezone.now() + timedelta(seconds=60)
    )
    assert (message.sent_at, message.failed_at, message.provider_message_id) == (None, None, "")
    assert PhoneStatus.objects.count() == 0  # unreachable says nothing lasting about the number

    # Twilio repeating the same report changes nothing.
    retried = snapshot(message)
    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003", attempt=1)
    twilio.report(str(message.public_id), "failed", sid=sid, error_code="30003")
    assert snapshot(message) == retried


def test_the_backoff_doubles_with_each_attempt(twilio, texting_patient, settings):
    settings.NOTIFY_UNREACHABLE_MAX_ATTEMPTS = 5
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid, attempts=3)
    before = timezone.now()
    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003")
    message.refresh_from_db()
    assert message.status == MessageStatus.SCHEDULED
    assert message.send_at >= before + timedelta(seconds=240)


@pytest.mark.parametrize("limit", [1, 3])
def test_unreachable_fails_once_the_attempts_are_spent(twilio, texting_patient, settings, limit):
    settings.NOTIFY_UNREACHABLE_MAX_ATTEMPTS = limit
    sid = "SM" + uuid.uuid4().hex
    message = make_message(
        texting_patient, MessageStatus.SENT, provider_message_id=sid, attempts=limit
    )

    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003")

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert (message.status_reason, message.provider_error_code) == ("unreachable", "30003")
    assert message.failed_at is not None
    assert PhoneStatus.objects.count() == 0


def test_a_report_about_another_attempt_changes_nothing(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid, attempts=2)
    before = snapshot(message)
    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003", attempt=1)
    twilio.report(str(message.public_id), "delivered", sid=sid, attempt=1)
    assert snapshot(message) == before


def test_an_unreachable_text_is_sent_again_and_a_late_report_of_the_first_try_is_ignored(
    twilio, texting_patient, sms_outbox
):
    consents_set(user=texting_patient, source="app", changes=[ConsentChange("care", "sms", True)])
    message = message_schedule(
        recipient=texting_patient,
        template_key="appointment_reminder",
        category="care",
        channel=Channel.SMS,
        dedupe_key="unreachable",
        send_at=timezone.now() + timedelta(days=1),
        urgent=True,  # no quiet hours: this test runs at any hour
    )
    Message.objects.filter(pk=message.pk).update(send_at=timezone.now())
    dispatch_due()
    message.refresh_from_db()
    first_sid = message.provider_message_id
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert sms_outbox[0].attempt == 1

    twilio.report(
        str(message.public_id), "undelivered", sid=first_sid, error_code="30003", attempt=1
    )
    Message.objects.filter(pk=message.pk).update(send_at=timezone.now())  # backoff is over
    dispatch_due()

    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert message.provider_message_id not in ("", first_sid)
    assert [sms.attempt for sms in sms_outbox] == [1, 2]
    second = snapshot(message)
    # Twilio repeats its report on the first try, late: the second try is not touched.
    twilio.report(
        str(message.public_id), "undelivered", sid=first_sid, error_code="30003", attempt=1
    )
    assert snapshot(message) == second
    dispatch_due()
    assert len(sms_outbox) == 2


def test_the_service_speaks_no_twilio():
    """Twilio's statuses and error codes live in notifications/sms/ (twilio.py) only."""
    import notifications

    root = Path(notifications.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        for word in ("21610", "21211", "30005", "30003", '"queued"', '"accepted"'):
            assert word not in text, f"notifications/{path.name} mentions {word}"
