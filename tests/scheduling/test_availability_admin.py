"""Availability in the Django admin: ops admins only, the API's rules, every write audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import AvailabilityOverride, PhysicianSchedule, WeeklyAvailability
from tests.accounts.support import enrolled_staff

pytestmark = pytest.mark.django_db


def page(physician):
    return f"/admin/scheduling/physicianavailability/{physician.pk}/change/"


def form(*, zone="America/Chicago", weekly=(), overrides=()):
    data = {
        "schedule-TOTAL_FORMS": "1",
        "schedule-INITIAL_FORMS": "0",
        "schedule-0-time_zone": zone,
        "schedule-0-buffer_minutes": "10",
        "schedule-0-title": "MD",
        "schedule-0-board_certification": "",
        "schedule-0-languages": "en,es",
        "schedule-0-bio": "",
        "schedule-0-photo_url": "",
        "weekly_availability-TOTAL_FORMS": str(len(weekly)),
        "weekly_availability-INITIAL_FORMS": "0",
        "availability_overrides-TOTAL_FORMS": str(len(overrides)),
        "availability_overrides-INITIAL_FORMS": "0",
    }
    for index, (weekday, start, end) in enumerate(weekly):
        prefix = f"weekly_availability-{index}-"
        data |= {
            prefix + "weekday": weekday,
            prefix + "start_time": start,
            prefix + "end_time": end,
        }
    for index, (date, kind) in enumerate(overrides):
        prefix = f"availability_overrides-{index}-"
        data |= {prefix + "date": str(date), prefix + "kind": kind}
    return data


def test_an_ops_admin_sets_a_schedule_and_it_is_audited(physician):
    admin, browser = enrolled_staff("ops_admin")
    soon = timezone.localdate() + dt.timedelta(days=5)
    data = form(
        weekly=[(0, "09:00", "12:00"), (0, "13:00", "17:00")], overrides=[(soon, "time_off")]
    )
    response = browser.post(page(physician), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = PhysicianSchedule.objects.get(physician=physician)
    assert schedule.languages == ["en", "es"]
    assert WeeklyAvailability.objects.filter(physician=physician).count() == 2
    override = AvailabilityOverride.objects.get(physician=physician)
    created = set(
        AuditEvent.objects.filter(actor=admin, action="create").values_list(
            "object_type", "object_id"
        )
    )
    assert ("scheduling.physicianschedule", str(schedule.public_id)) in created
    assert ("scheduling.availabilityoverride", str(override.public_id)) in created
    assert sum(1 for kind, _ in created if kind == "scheduling.weeklyavailability") == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"zone": "Mars/Base"}, "Unknown time zone"),
        ({"weekly": [(0, "09:00", "12:00"), (0, "11:00", "13:00")]}, "Overlaps item 0"),
        ({"overrides": [(dt.date(2020, 1, 1), "time_off")]}, "in the past"),
    ],
)
def test_the_admin_refuses_what_the_api_refuses(physician, changes, message):
    _, browser = enrolled_staff("ops_admin")
    response = browser.post(page(physician), form(**changes))
    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    assert not PhysicianSchedule.objects.exists()
    assert not WeeklyAvailability.objects.exists()


def test_only_ops_admins_reach_it(physician):
    _, browser = enrolled_staff("privacy_officer")
    assert browser.get(page(physician)).status_code in (302, 403)
    _, ops = enrolled_staff("ops_admin")
    assert ops.get(page(physician)).status_code == 200
