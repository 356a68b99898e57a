"""A physician's availability through the API: the schedule (zone, buffer, profile, weekly
rules replaced as a set), date overrides, who may manage whose, and the audit trail."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import AvailabilityOverride, PhysicianSchedule, WeeklyAvailability
from tests.actors import client_for
from tests.factories import PhysicianFactory
from tests.scheduling.support import schedule_for

pytestmark = pytest.mark.django_db

MY_SCHEDULE = reverse("scheduling-my-schedule")
MY_OVERRIDES = reverse("scheduling-my-overrides")


def body(**changes):
    base = {
        "time_zone": "America/Chicago",
        "buffer_minutes": 15,
        "profile": {
            "title": "MD, Psychiatrist",
            "board_certification": "ABPN Psychiatry",
            "languages": ["en", "ES"],
            "bio": "Ten years of practice.\nTelehealth since 2020.",
            "photo_url": "https://cdn.example.test/byrd.jpg",
        },
        "weekly": [
            {"weekday": 0, "start_time": "09:00", "end_time": "12:00"},
            {"weekday": 0, "start_time": "13:00", "end_time": "17:00"},
            {"weekday": 2, "start_time": "08:30", "end_time": "16:00"},
        ],
    }
    return base | changes


def window(weekday, start, end):
    return {"weekday": weekday, "start_time": start, "end_time": end}


def days_from_today(days, zone="America/New_York"):
    return timezone.localdate(timezone=ZoneInfo(zone)) + dt.timedelta(days=days)


def test_put_replaces_the_schedule_and_get_returns_it(physician):
    client = client_for(physician.user)
    response = client.put(MY_SCHEDULE, body(), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["time_zone"] == "America/Chicago"
    assert response.json()["profile"]["languages"] == ["en", "es"]
    assert response.json()["weekly"][1] == window(0, "13:00", "17:00")

    again = client.get(MY_SCHEDULE).json()
    assert again == response.json()
    assert again["physician_id"] == str(physician.user.public_id)


def test_put_is_a_whole_set_replacement(physician):
    schedule_for(physician)  # Monday to Friday 9-17
    client = client_for(physician.user)
    payload = body(weekly=[window(5, "10:00", "14:00")])
    del payload["profile"]
    response = client.put(MY_SCHEDULE, payload, format="json")
    assert response.status_code == 200, response.content
    rules = list(WeeklyAvailability.objects.filter(physician=physician).values_list("weekday"))
    assert rules == [(5,)]
    # PUT: a profile left out is emptied.
    assert response.json()["profile"]["title"] == ""


def test_get_before_anything_is_set_shows_the_defaults(physician):
    response = client_for(physician.user).get(MY_SCHEDULE)
    assert response.status_code == 200
    assert response.json()["weekly"] == []
    assert response.json()["time_zone"] == "America/New_York"
    assert not PhysicianSchedule.objects.filter(physician=physician).exists()


MON_9_10 = window(0, "09:00", "10:00")
TUE_9_12 = window(1, "09:00", "12:00")
WED_9_12 = window(2, "09:00", "12:00")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"time_zone": "localtime"}, "time_zone"),
        ({"buffer_minutes": 121}, "buffer_minutes"),
        ({"buffer_minutes": -1}, "buffer_minutes"),
        ({"weekly": [window(7, "09:00", "10:00")]}, "weekly.0.weekday"),
        ({"weekly": [MON_9_10, window(1, "12:00", "11:00")]}, "weekly.1.end_time"),
        ({"weekly": [window(1, "09:00", "09:00")]}, "weekly.0.end_time"),
        ({"weekly": [TUE_9_12, window(1, "11:30", "13:00")]}, "weekly.1.start_time"),
        ({"weekly": [TUE_9_12, WED_9_12, window(1, "08:00", "18:00")]}, "weekly.2.start_time"),
        ({"weekly": [window(1, "09:00:30", "12:00")]}, "weekly.0.start_time"),
        ({"profile": {"photo_url": "http://cdn.example.test/x.jpg"}}, "profile.photo_url"),
        ({"profile": {"languages": ["english"]}}, "profile.languages.0"),
        ({"profile": {"languages": ["e1"]}}, "profile.languages"),
        ({"profile": {"bio": "line\x00"}}, "profile.bio"),
    ],
)  # fmt: skip
def test_invalid_schedules_are_400_naming_the_field(physician, changes, field):
    schedule_for(physician)
    response = client_for(physician.user).put(MY_SCHEDULE, body(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    # Nothing changed: the old rules are still there.
    assert WeeklyAvailability.objects.filter(physician=physician).count() == 5


def test_overlap_names_the_earlier_item(physician):
    weekly = [window(3, "09:00", "12:00"), window(3, "11:00", "13:00")]
    response = client_for(physician.user).put(MY_SCHEDULE, body(weekly=weekly), format="json")
    assert "item 0" in response.json()["error"]["fields"]["weekly.1.start_time"][0]


def test_touching_windows_do_not_overlap(physician):
    weekly = [window(3, "09:00", "12:00"), window(3, "12:00", "13:00")]
    response = client_for(physician.user).put(MY_SCHEDULE, body(weekly=weekly), format="json")
    assert response.status_code == 200, response.content


def test_schedule_writes_are_audited_on_the_schedule_row(physician):
    client = client_for(physician.user)
    client.put(MY_SCHEDULE, body(), format="json")
    client.put(MY_SCHEDULE, body(buffer_minutes=30), format="json")
    schedule = PhysicianSchedule.objects.get(physician=physician)
    events = list(
        AuditEvent.objects.filter(
            object_type="scheduling.physicianschedule", object_id=str(schedule.public_id)
        ).order_by("id")
    )
    assert [(e.action, e.actor_id) for e in events] == [
        ("create", physician.user.pk),
        ("update", physician.user.pk),
    ]
    assert events[1].detail["fields"] == ["buffer_minutes"]
    assert events[0].detail["weekly_rules"] == 3


# Who manages whose.


def test_a_physician_cannot_reach_another_physicians_schedule(physician):
    other = PhysicianFactory()
    schedule_for(other)
    client = client_for(physician.user)
    url = reverse("scheduling-schedule", kwargs={"physician_id": other.user.public_id})
    assert client.get(url).status_code == 404
    assert client.put(url, body(), format="json").status_code == 404
    overrides = reverse("scheduling-overrides", kwargs={"physician_id": other.user.public_id})
    time_off = {"date": str(days_from_today(3)), "kind": "time_off"}
    assert client.post(overrides, time_off, format="json").status_code == 404
    assert WeeklyAvailability.objects.filter(physician=other).count() == 5
    assert not AvailabilityOverride.objects.filter(physician=other).exists()


def test_a_physician_may_use_their_own_id(physician):
    url = reverse("scheduling-schedule", kwargs={"physician_id": physician.user.public_id})
    assert client_for(physician.user).put(url, body(), format="json").status_code == 200


def test_an_ops_admin_manages_any_physicians_schedule(physician, ops_admin):
    client = client_for(ops_admin)
    url = reverse("scheduling-schedule", kwargs={"physician_id": physician.user.public_id})
    response = client.put(url, body(), format="json")
    assert response.status_code == 200, response.content
    assert PhysicianSchedule.objects.get(physician=physician).time_zone == "America/Chicago"
    event = AuditEvent.objects.get(object_type="scheduling.physicianschedule")
    assert event.actor_id == ops_admin.pk
    assert event.detail["physician"] == str(physician.user.public_id)

    overrides = reverse("scheduling-overrides", kwargs={"physician_id": physician.user.public_id})
    time_off = {"date": str(days_from_today(2, "America/Chicago")), "kind": "time_off"}
    created = client.post(overrides, time_off, format="json")
    assert created.status_code == 201, created.content
    one = reverse(
        "scheduling-override",
        kwargs={"physician_id": physician.user.public_id, "override_id": created.json()["id"]},
    )
    assert client.delete(one).status_code == 204
    assert not AvailabilityOverride.objects.exists()


def test_an_unknown_physician_id_is_404_for_ops(ops_admin, patient):
    url = reverse("scheduling-schedule", kwargs={"physician_id": patient.public_id})
    assert client_for(ops_admin).get(url).status_code == 404


# Date overrides.


def test_overrides_add_list_and_delete(physician):
    client = client_for(physician.user)
    day = str(days_from_today(5))
    off = client.post(MY_OVERRIDES, {"date": day, "kind": "time_off"}, format="json")
    extra = client.post(
        MY_OVERRIDES,
        {"date": day, "kind": "extra_hours", "start_time": "18:00", "end_time": "20:00"},
        format="json",
    )
    window_off = client.post(
        MY_OVERRIDES,
        {"date": day, "kind": "time_off", "start_time": "09:00", "end_time": "10:00"},
        format="json",
    )
    assert [r.status_code for r in (off, extra, window_off)] == [201, 201, 201]
    assert extra.json()["start_time"] == "18:00"
    listed = client.get(MY_OVERRIDES).json()
    assert listed["count"] == 3
    assert [row["kind"] for row in listed["results"]] == ["time_off", "time_off", "extra_hours"]

    one = reverse("scheduling-my-override", kwargs={"override_id": off.json()["id"]})
    assert client.delete(one).status_code == 204
    assert client.delete(one).status_code == 404
    assert client.get(MY_OVERRIDES).json()["count"] == 2


def test_override_list_filters_by_date(physician):
    client = client_for(physician.user)
    for days in (1, 10, 20):
        client.post(
            MY_OVERRIDES, {"date": str(days_from_today(days)), "kind": "time_off"}, format="json"
        )
    response = client.get(
        MY_OVERRIDES, {"date_from": str(days_from_today(5)), "date_to": str(days_from_today(15))}
    )
    assert [row["date"] for row in response.json()["results"]] == [str(days_from_today(10))]
    assert client.get(MY_OVERRIDES, {"date_from": "not-a-date"}).status_code == 400


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"date": -1, "kind": "time_off"}, "date"),
        ({"date": 1, "kind": "extra_hours"}, "start_time"),
        ({"date": 1, "kind": "extra_hours", "start_time": "10:00"}, "end_time"),
        ({"date": 1, "kind": "time_off", "start_time": "10:00"}, "end_time"),
        ({"date": 1, "kind": "extra_hours", "start_time": "10:00", "end_time": "9:00"}, "end_time"),
        ({"date": 1, "kind": "vacation"}, "kind"),
        ({"date": 1, "kind": "time_off", "note": "x"}, "note"),
    ],
)  # fmt: skip
def test_invalid_overrides_are_400_naming_the_field(physician, payload, field):
    payload = payload | {"date": str(days_from_today(payload["date"]))}
    response = client_for(physician.user).post(MY_OVERRIDES, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not AvailabilityOverride.objects.exists()


@pytest.mark.parametrize(
    ("zone", "status"), [("America/Chicago", 201), ("Pacific/Kiritimati", 400)]
)
def test_the_past_is_judged_in_the_physicians_zone(physician, zone, status):
    schedule_for(physician, time_zone=zone)
    # 9 March, 21:00 in Chicago; already 10 March, 17:00 in Kiritimati (UTC+14).
    with time_machine.travel(dt.datetime(2027, 3, 10, 3, 0, tzinfo=dt.UTC), tick=False):
        response = client_for(physician.user).post(
            MY_OVERRIDES, {"date": "2027-03-09", "kind": "time_off"}, format="json"
        )
    assert response.status_code == status, response.content


def test_overlapping_extra_hours_on_one_date_are_refused(physician):
    client = client_for(physician.user)
    day = str(days_from_today(3))
    first = {"date": day, "kind": "extra_hours", "start_time": "18:00", "end_time": "20:00"}
    assert client.post(MY_OVERRIDES, first, format="json").status_code == 201
    overlap = first | {"start_time": "19:30", "end_time": "21:00"}
    response = client.post(MY_OVERRIDES, overlap, format="json")
    assert response.status_code == 400
    assert "18:00-20:00" in response.json()["error"]["fields"]["start_time"][0]
    adjacent = first | {"start_time": "20:00", "end_time": "21:00"}
    assert client.post(MY_OVERRIDES, adjacent, format="json").status_code == 201
    other_day = first | {"date": str(days_from_today(4))}
    assert client.post(MY_OVERRIDES, other_day, format="json").status_code == 201


def test_a_past_override_is_kept(physician):
    past = AvailabilityOverride.objects.create(
        physician=physician, date=days_from_today(-2), kind="time_off"
    )
    url = reverse("scheduling-my-override", kwargs={"override_id": past.public_id})
    response = client_for(physician.user).delete(url)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "override_in_past"
    assert AvailabilityOverride.objects.filter(pk=past.pk).exists()


def test_another_physicians_override_is_404(physician):
    other = PhysicianFactory()
    theirs = AvailabilityOverride.objects.create(
        physician=other, date=days_from_today(3), kind="time_off"
    )
    url = reverse("scheduling-my-override", kwargs={"override_id": theirs.public_id})
    assert client_for(physician.user).delete(url).status_code == 404
    assert AvailabilityOverride.objects.filter(pk=theirs.pk).exists()
    assert client_for(physician.user).get(MY_OVERRIDES).json()["count"] == 0


def test_override_writes_are_audited(physician):
    client = client_for(physician.user)
    created = client.post(
        MY_OVERRIDES, {"date": str(days_from_today(3)), "kind": "time_off"}, format="json"
    ).json()
    client.delete(reverse("scheduling-my-override", kwargs={"override_id": created["id"]}))
    events = AuditEvent.objects.filter(
        object_type="scheduling.availabilityoverride", object_id=created["id"]
    ).order_by("id")
    assert [(e.action, e.actor_id) for e in events] == [
        ("create", physician.user.pk),
        ("delete", physician.user.pk),
    ]


def test_refused_writes_leave_no_audit_row(physician):
    client = client_for(physician.user)
    client.put(MY_SCHEDULE, body(time_zone="Nowhere/Land"), format="json")
    client.post(MY_OVERRIDES, {"date": str(days_from_today(-3)), "kind": "time_off"}, format="json")
    assert not AuditEvent.objects.filter(object_type__startswith="scheduling.").exists()


def test_the_demo_physicians_get_weekday_hours_once(ops_admin):
    from demo.management.commands.seed_demo import PHYSICIANS, Command

    doctors = [PhysicianFactory(user__email=row[0]) for row in PHYSICIANS]
    Command()._schedules(ops_admin)
    Command()._schedules(ops_admin)  # again: nothing changes
    zones = [PhysicianSchedule.objects.get(physician=d).time_zone for d in doctors]
    assert zones == ["America/Chicago", "America/New_York"]
    assert WeeklyAvailability.objects.filter(physician=doctors[0], weekday=4).count() == 2
    assert AuditEvent.objects.filter(object_type="scheduling.physicianschedule").count() == 2


def test_the_override_list_costs_the_same_queries_at_any_size(physician, django_assert_num_queries):
    client = client_for(physician.user)
    for days in (1, 2):
        AvailabilityOverride.objects.create(
            physician=physician, date=days_from_today(days), kind="time_off"
        )
    with CaptureQueriesContext(connection) as small:
        assert client.get(MY_OVERRIDES).json()["count"] == 2
    AvailabilityOverride.objects.bulk_create(
        AvailabilityOverride(physician=physician, date=days_from_today(day), kind="time_off")
        for day in range(3, 23)
    )
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(client.get(MY_OVERRIDES).json()["results"]) == 20
