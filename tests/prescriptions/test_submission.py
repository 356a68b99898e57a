"""The pharmacy hand-off outbox: enqueued on commit with the id only, sent once (twice
run, or raced), retried with the same idempotency key, failed for good with one alert
per ops admin, never sent for a canceled order, reclaimed when a worker died."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from notifications.models import Message
from prescriptions.models import (
    LocalPharmacyReceipt,
    OrderStatus,
    PharmacySubmission,
    SubmissionStatus,
)
from prescriptions.pharmacy.base import PermanentPharmacyError, TransientPharmacyError
from prescriptions.services.submission import (
    MAX_ATTEMPTS,
    retry_delay,
    submission_send,
    submissions_dispatch,
)
from tests.prescriptions.support_pharmacy import (
    RECORDING,
    RecordingPharmacy,
    from_pharmacy,
    new_order,
)

pytestmark = pytest.mark.django_db

S = OrderStatus


@pytest.fixture
def recording(settings):
    settings.PHARMACY_BACKEND = RECORDING
    RecordingPharmacy.sends, RecordingPharmacy.script = [], []
    return RecordingPharmacy


def test_order_create_enqueues_the_submission_id_only_on_commit(
    patient, physician, django_capture_on_commit_callbacks
):
    task = "prescriptions.tasks.send_pharmacy_submission.delay"
    with mock.patch(task) as delay, django_capture_on_commit_callbacks(execute=True):
        order = new_order(patient, physician)
    delay.assert_called_once_with(order.submission.pk)
    assert isinstance(delay.call_args.args[0], int)


def test_the_local_pharmacy_records_a_digest_and_the_order_is_sent(patient, physician):
    order = new_order(patient, physician)
    assert submission_send(submission_id=order.submission.pk) == "sent"
    order.refresh_from_db()
    submission = order.submission
    assert order.status == S.SENT_TO_PHARMACY
    assert order.events.latest("pk").source == "system"
    assert (submission.status, submission.attempts) == (SubmissionStatus.SENT, 1)
    receipt = LocalPharmacyReceipt.objects.get()
    assert receipt.idempotency_key == submission.idempotency_key
    assert len(receipt.payload_sha256) == 64
    assert submission.pharmacy_reference == receipt.reference == f"LOCAL-{order.number}"


def test_run_twice_sends_once(patient, physician, recording):
    order = new_order(patient, physician)
    first = submission_send(submission_id=order.submission.pk)
    second = submission_send(submission_id=order.submission.pk)
    assert (first, second) == ("sent", "not_due")
    assert len(recording.sends) == 1


def test_the_local_pharmacy_drops_a_retry_with_the_same_key(patient, physician):
    order = new_order(patient, physician)
    submission_send(submission_id=order.submission.pk)
    PharmacySubmission.objects.filter(pk=order.submission.pk).update(
        status=SubmissionStatus.PENDING
    )
    submission_send(submission_id=order.submission.pk)  # the order has moved on: skipped
    assert LocalPharmacyReceipt.objects.count() == 1


def test_a_transient_error_retries_later_with_the_same_key(patient, physician, recording):
    recording.script = [TransientPharmacyError("down", code="http_503")]
    order = new_order(patient, physician)
    assert submission_send(submission_id=order.submission.pk) == "retry"
    submission = PharmacySubmission.objects.get(pk=order.submission.pk)
    assert (submission.status, submission.last_error) == (SubmissionStatus.PENDING, "http_503")
    assert submission.next_attempt_at >= timezone.now() + retry_delay(1) - timedelta(seconds=5)
    assert submission_send(submission_id=submission.pk) == "not_due"  # not yet
    PharmacySubmission.objects.filter(pk=submission.pk).update(next_attempt_at=timezone.now())
    assert submissions_dispatch() == 1
    keys = {key for _, key in recording.sends}
    assert len(recording.sends) == 2 and keys == {str(submission.idempotency_key)}
    order.refresh_from_db()
    assert order.status == S.SENT_TO_PHARMACY


def test_retry_delays_grow_and_stop_growing():
    delays = [retry_delay(n).total_seconds() for n in (1, 2, 3, 10, 20)]
    assert delays == [60, 120, 240, 3600, 3600]


def test_a_permanent_error_fails_and_alerts_each_ops_admin_once(
    patient, physician, ops_admin, recording
):
    recording.script = [PermanentPharmacyError("refused", code="http_422")]
    order = new_order(patient, physician)
    assert submission_send(submission_id=order.submission.pk) == "failed"
    submission = PharmacySubmission.objects.get(pk=order.submission.pk)
    assert (submission.status, submission.last_error) == (SubmissionStatus.FAILED, "http_422")
    alerts = Message.objects.filter(template_key="order_handoff_failed")
    assert list(alerts.values_list("recipient", "channel")) == [(ops_admin.pk, "email")]
    assert submissions_dispatch() == 0  # a failed row is final
    assert submission_send(submission_id=submission.pk) == "not_due"
    assert alerts.count() == 1 and len(recording.sends) == 1
    order.refresh_from_db()
    assert order.status == S.CREATED


def test_a_canceled_order_is_not_sent(patient, physician, recording):
    order = new_order(patient, physician, status=S.CANCELED)
    assert submission_send(submission_id=order.submission.pk) == "skipped"
    assert recording.sends == []
    submission = PharmacySubmission.objects.get(pk=order.submission.pk)
    assert (submission.status, submission.last_error) == (SubmissionStatus.FAILED, "order_canceled")


def test_a_row_stuck_in_sending_is_reclaimed_and_resent_with_its_key(
    patient, other_patient, physician, recording
):
    order = new_order(patient, physician)
    long_ago = timezone.now() - timedelta(hours=1)
    PharmacySubmission.objects.filter(pk=order.submission.pk).update(
        status=SubmissionStatus.SENDING, claimed_at=long_ago, attempts=1
    )
    recent = new_order(other_patient, physician)  # another order, claimed a moment ago: left alone
    PharmacySubmission.objects.filter(pk=recent.submission.pk).update(
        status=SubmissionStatus.SENDING, claimed_at=timezone.now()
    )
    assert submissions_dispatch() == 1
    assert recording.sends == [(order.number, str(order.submission.idempotency_key))]
    assert PharmacySubmission.objects.get(pk=recent.submission.pk).status == "sending"


def test_a_pharmacy_report_faster_than_the_hand_off_waits_for_it(patient, physician, recording):
    order = new_order(patient, physician)
    early = timezone.now() - timedelta(seconds=30)
    response = from_pharmacy(order, "p-1", "compounding", early.isoformat())
    assert response.json() == {"outcome": "waiting"}
    submission_send(submission_id=order.submission.pk)
    order.refresh_from_db()
    assert order.status == S.COMPOUNDING


def test_a_row_that_keeps_dying_mid_send_fails_with_an_alert(
    patient, physician, ops_admin, recording
):
    order = new_order(patient, physician)
    PharmacySubmission.objects.filter(pk=order.submission.pk).update(
        status=SubmissionStatus.SENDING,
        claimed_at=timezone.now() - timedelta(hours=1),
        attempts=MAX_ATTEMPTS,
    )
    assert submissions_dispatch() == 0
    submission = PharmacySubmission.objects.get(pk=order.submission.pk)
    assert (submission.status, submission.last_error) == (SubmissionStatus.FAILED, "stuck")
    assert recording.sends == []
    assert Message.objects.filter(template_key="order_handoff_failed").count() == 1
