"""Booking's gate facts, compiled once (scheduling.selectors.booking_facts), read the same
row as the queryset the rules' selectors build, and decide as `patient_clearance` and
`membership_gate` do, in every state those rules tell apart: nothing done, cleared, a
member, an unsigned consent, an open safety flag, a questionnaire overdue, a membership
past due and canceled, another patient's data. A booking reads the gates in one query."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import PhysicianProfile
from billing.selectors import membership_gate, membership_gate_of
from core.errors import NotFound
from patients.clearance import clearance_of, patient_clearance
from patients.models import ConsentSignature, Patient, SafetyFlag
from patients.services.measurement import questionnaire_submit
from scheduling.api.slots import physician_by_public_id
from scheduling.selectors.booking_facts import (
    booking_facts,
    booking_facts_of_user,
    booking_facts_queryset,
)
from scheduling.selectors.physicians import bookable_physician
from scheduling.services.booking import booking_refusals
from tests.scheduling.support_book import NOW, cleared, office, ready_for_check_in

pytestmark = pytest.mark.django_db


def assert_same(user):
    now = timezone.now()
    # Fresh: setting `compiled.user` below makes the compiled row the user's `patient`.
    record = Patient.objects.get(user=user)
    built = booking_facts_queryset(Patient.objects.filter(pk=record.pk), now).get()
    names = ["pk", "public_id", "user_id", "state", "time_zone", *built.query_annotations]
    for compiled in (booking_facts(record.pk, now), booking_facts_of_user(user.pk, now)):
        assert compiled is not None
        assert {n: getattr(compiled, n) for n in names} == {n: getattr(built, n) for n in names}
        assert clearance_of(compiled, now=now) == patient_clearance(record)
        assert membership_gate_of(compiled, now) == membership_gate(record)
        compiled.user = user
        assert booking_refusals(compiled, "check_in") == booking_refusals(record, "check_in")


@pytest.fixture(autouse=True)
def _annotation_names(monkeypatch):
    # The names the queryset annotates, read off the queryset itself.
    names = list(booking_facts_queryset(Patient.objects.all(), NOW).query.annotations)
    monkeypatch.setattr(Patient, "query_annotations", names, raising=False)


def test_the_compiled_statement_reads_what_the_queryset_reads(patient, other_patient):
    with time_machine.travel(NOW, tick=False):
        assert_same(patient)  # nothing done yet
        cleared(patient)
        assert_same(patient)  # cleared, not a member
        ready_for_check_in(patient)
        assert_same(patient)
        ConsentSignature.objects.filter(patient=patient.patient).first().delete()
        assert_same(patient)  # a consent of care unsigned
        cleared(patient)
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
        with time_machine.travel(NOW + timedelta(days=120), tick=False):
            assert_same(patient)  # questionnaires overdue past the grace
        patient.patient.subscriptions.update(status="canceled")
        ready_for_check_in(other_patient)  # another patient's data never counts
        assert_same(patient)
        assert_same(other_patient)


def test_no_record_reads_none(physician):
    assert booking_facts_of_user(physician.user.pk, NOW) is None


def test_the_gates_are_one_query(patient):
    with time_machine.travel(NOW, tick=False):
        ready_for_check_in(patient)
        facts = booking_facts_of_user(patient.pk, timezone.now())
        assert facts is not None
        facts.user = patient
        with CaptureQueriesContext(connection) as read:
            assert booking_refusals(facts, "check_in") == []
        assert len(read) == 0  # decided on what the patient's read carried
        record = Patient.objects.select_related("user").get(user=patient)
        with CaptureQueriesContext(connection) as read:
            assert booking_refusals(record, "check_in") == []
        assert len(read) == 1


def test_the_compiled_physician_read_is_the_api_read(physician, django_assert_num_queries):
    def same(public_id):
        try:
            expected = physician_by_public_id(public_id)
        except NotFound:
            with pytest.raises(NotFound):
                bookable_physician(public_id)
            return
        with django_assert_num_queries(1):
            found = bookable_physician(public_id)
            fields = [f.attname for f in PhysicianProfile._meta.concrete_fields]
            assert [getattr(found, f) for f in fields] == [getattr(expected, f) for f in fields]
            assert found.user == expected.user and found.user.email == expected.user.email
            assert getattr(found, "schedule", None) == getattr(expected, "schedule", None)

    same(physician.user.public_id)  # no schedule yet
    office(physician)
    same(physician.user.public_id)
    same(uuid.uuid4())
    physician.user.is_active = False
    physician.user.save()
    same(physician.user.public_id)
