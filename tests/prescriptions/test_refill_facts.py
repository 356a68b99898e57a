"""The refill facts' statement, compiled once, reads the same row as the queryset the
rules' selectors build, in every state those rules tell apart: nothing done, cleared, a
member, a check-in completed and one booked, an open safety flag, a membership past due
and canceled, a questionnaire answered, a cadence set, another patient's data."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from billing.selectors import membership_gate, membership_gate_of
from patients.clearance import clearance_of, patient_clearance
from patients.models import SafetyFlag
from patients.services.measurement import questionnaire_submit
from prescriptions.selectors.refill_facts import refill_facts, refill_facts_queryset
from scheduling.models import Appointment, AppointmentKind, CheckInCadence
from scheduling.selectors.cadence import check_in_status, check_in_status_of
from tests.prescriptions.support_refill import NOW, member, ready_for_refill

pytestmark = pytest.mark.django_db


def assert_same(user):
    now = timezone.now()
    record = user.patient
    compiled = refill_facts(record.pk, now)
    built = refill_facts_queryset(record.pk, now).get()
    names = ["pk", "time_zone", *refill_facts_queryset(record.pk, now).query.annotations]
    assert {n: getattr(compiled, n) for n in names} == {n: getattr(built, n) for n in names}
    assert check_in_status_of(compiled, now) == check_in_status(record, now=now)
    assert clearance_of(compiled, now=now) == patient_clearance(record)
    assert membership_gate_of(compiled, now) == membership_gate(record)


def check_in(user, physician, *, starts_at, status):
    return Appointment.objects.create(
        patient=user.patient,
        physician=physician,
        kind=AppointmentKind.CHECK_IN,
        status=status,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        blocked_until=starts_at + timedelta(minutes=40),
        booked_by=user,
    )


def test_the_compiled_statement_reads_what_the_queryset_reads(patient, other_patient, physician):
    with time_machine.travel(NOW, tick=False):
        assert_same(patient)  # nothing done yet
        ready_for_refill(patient)
        assert_same(patient)
        check_in(patient, physician, starts_at=NOW - timedelta(days=3), status="completed")
        check_in(patient, physician, starts_at=NOW + timedelta(days=2), status="booked")
        assert_same(patient)
        CheckInCadence.objects.create(
            patient=patient.patient, interval_days=14, set_by=physician.user
        )
        flag = SafetyFlag.objects.create(
            patient=patient.patient, kind="phq9_item9", source="questionnaire"
        )
        assert_same(patient)
        flag.resolved_at = timezone.now()
        flag.save()
        questionnaire_submit(patient=patient.patient, instrument="gad7", answers=[1] * 7)
        patient.patient.subscriptions.update(
            status="past_due", past_due_since=NOW - timedelta(days=3)
        )
        assert_same(patient)
        with time_machine.travel(NOW + timedelta(days=30), tick=False):
            assert_same(patient)  # past the grace, the check-in overdue
        patient.patient.subscriptions.update(status="canceled")
        member(other_patient)  # another patient's data never counts
        check_in(other_patient, physician, starts_at=NOW + timedelta(days=1), status="booked")
        assert_same(patient)
        assert_same(other_patient)
