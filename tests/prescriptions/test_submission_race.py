"""Concurrent workers on one hand-off, with real threads on PostgreSQL: one claims it,
one send leaves."""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import pytest

from prescriptions.models import OrderStatus, PharmacySubmission
from prescriptions.services.submission import submission_send, submissions_dispatch
from tests.concurrency import race
from tests.prescriptions.support_pharmacy import RECORDING, RecordingPharmacy, new_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_claims_send_once(patient, physician, settings):
    settings.PHARMACY_BACKEND = RECORDING
    RecordingPharmacy.sends, RecordingPharmacy.script = [], []
    with mock.patch("prescriptions.tasks.send_pharmacy_submission.delay"):  # it commits
        order = new_order(patient, physician)
    submission_id = order.submission.pk
    calls: list[Callable[[], object]] = [lambda: submission_send(submission_id=submission_id)] * 5
    calls += [submissions_dispatch] * 3
    results = race(calls)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(RecordingPharmacy.sends) == 1
    assert PharmacySubmission.objects.get(pk=submission_id).attempts == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT_TO_PHARMACY
    assert order.events.filter(to_status=OrderStatus.SENT_TO_PHARMACY).count() == 1
