"""Booked visits whose physician's license (or DEA/CDS registration) lapses before them:
each ops admin alerted once per visit, on the visit's practice date, in a fixed number of
queries, with no PHI; the daily beat entry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import DeaRegistration, StateLicense
from notifications.models import Message
from notifications.templates import render_email
from scheduling.services.authority_alerts import ALERT_TEMPLATE, visits_without_authority_alert
from scheduling.tasks import alert_visits_without_authority
from tests.factories import PatientFactory, UserFactory
from tests.scheduling.support import appointment_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
# 21:00 in New York on Monday 14 December, already the 15th in UTC: the visit's practice
# date is the 14th.
VISIT = datetime(2026, 12, 15, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock(settings):
    settings.PRACTICE_TIME_ZONE = "America/New_York"
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def admins(ops_admin):
    return [ops_admin, UserFactory(role="ops_admin", is_staff=True)]


def alerts():
    return Message.objects.filter(template_key=ALERT_TEMPLATE)


def license_expires(physician, on: date, state: str = "FL") -> None:
    StateLicense.objects.filter(physician=physician, state=state).update(expires_on=on)


def test_a_license_lapsing_before_the_visit_alerts_each_admin_once(admins, patient, physician):
    visit = appointment_for(patient, physician, VISIT)
    license_expires(physician, date(2026, 12, 13))

    assert alert_visits_without_authority() == 1
    assert alert_visits_without_authority() == 1  # flagged again, alerted once

    assert sorted(alerts().values_list("recipient_id", flat=True)) == sorted(a.pk for a in admins)
    message = alerts().first()
    assert message is not None
    assert message.channel == "email"
    assert message.context == {"path": f"/appointments/{visit.public_id}"}
    subject, body = render_email(ALERT_TEMPLATE, message.context)
    assert str(visit.public_id) in body
    profile = patient.patient
    for personal in (profile.legal_first_name, profile.legal_last_name, physician.last_name):
        assert personal not in subject + body


def test_a_license_valid_on_the_visits_date_alerts_nobody(admins, patient, physician):
    appointment_for(patient, physician, VISIT)
    license_expires(physician, date(2026, 12, 14))  # the practice calendar's visit day

    assert visits_without_authority_alert() == 0
    assert not alerts().exists()


def test_a_lapsed_dea_registration_alerts(admins, patient, physician):
    appointment_for(patient, physician, VISIT)
    DeaRegistration.objects.filter(physician=physician, state="FL").update(
        expires_on=date(2026, 12, 10)
    )

    assert visits_without_authority_alert() == 1
    assert alerts().count() == len(admins)


def test_only_booked_visits_to_come_and_the_patients_state_count(admins, patient, physician):
    license_expires(physician, date(2026, 12, 1))  # lapsed in Florida only
    appointment_for(patient, physician, VISIT, status="canceled")
    appointment_for(patient, physician, NOW - timedelta(days=2))
    new_jersey = PatientFactory(county="Bergen", state="NJ", time_zone="America/New_York")
    appointment_for(new_jersey.user, physician, VISIT + timedelta(days=1))

    assert visits_without_authority_alert() == 0
    assert not alerts().exists()


def test_the_queries_are_fixed_whatever_the_visits(
    admins, patient, physician, unlicensed_physician
):
    appointment_for(patient, physician, VISIT)
    license_expires(physician, date(2026, 12, 13))
    with CaptureQueriesContext(connection) as one:
        assert visits_without_authority_alert() == 1
    Message.objects.all().delete()

    for days in (1, 2, 3):
        other = PatientFactory()
        appointment_for(other.user, unlicensed_physician, VISIT + timedelta(days=days))
    with CaptureQueriesContext(connection) as four:
        assert visits_without_authority_alert() == 4
    assert len(four.captured_queries) == len(one.captured_queries)
    assert alerts().count() == 4 * len(admins)


def test_the_beat_runs_it_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["scheduling-visits-without-authority"]
    assert entry["task"] == "scheduling.tasks.alert_visits_without_authority"
    assert entry["schedule"] == 86400.0
