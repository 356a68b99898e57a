"""Slot search: hours in the physician's zone, shown in the patient's, across both 2026
DST changes; licenses day by day; notice, horizon, buffers, time off and bookings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import LicenseStatus
from scheduling.api.slots import SlotOut, physician_brief
from scheduling.models import AppointmentStatus, AvailabilityOverride, OverrideKind
from scheduling.selectors.slots import open_slots, slot_offered
from tests.actors import client_for
from tests.factories import DeaFactory, LicenseFactory, PatientFactory, PhysicianFactory
from tests.scheduling.support import appointment_for, schedule_for

pytestmark = pytest.mark.django_db

EASTERN = "America/New_York"
CENTRAL = "America/Chicago"
DAY = date(2026, 12, 7)  # a Monday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(slots, day: date | None = None, zone: str = "UTC") -> list[str]:
    return [
        slot.starts_at.astimezone(ZoneInfo(zone)).strftime("%H:%M")
        for slot in slots
        if day is None or slot.starts_at.astimezone(ZoneInfo(zone)).date() == day
    ]


def search(patient, day_from: date, day_to: date | None = None, *, now: datetime, **kwargs):
    return open_slots(
        patient=patient.patient,
        kind=kwargs.pop("kind", "check_in"),
        date_from=day_from,
        date_to=day_to or day_from,
        now=now,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # Spring forward, Sunday 2026-03-08: 9:00 local moves an hour earlier in UTC.
        (EASTERN, (date(2026, 3, 6), "14:00"), (date(2026, 3, 9), "13:00")),
        (CENTRAL, (date(2026, 3, 6), "15:00"), (date(2026, 3, 9), "14:00")),
        # Fall back, Sunday 2026-11-01: an hour later in UTC.
        (EASTERN, (date(2026, 10, 30), "13:00"), (date(2026, 11, 2), "14:00")),
        (CENTRAL, (date(2026, 10, 30), "14:00"), (date(2026, 11, 2), "15:00")),
    ],
)
def test_office_hours_keep_their_wall_clock_across_dst(patient, physician, zone, before, after):
    schedule_for(physician, time_zone=zone)
    now = utc(2026, 2, 1) if before[0].month == 3 else utc(2026, 10, 1)
    for day, first_utc in (before, after):
        slots = search(patient, day, now=now)
        assert starts(slots, zone="UTC")[0] == first_utc
        assert starts(slots, zone=zone)[0] == "09:00"
        assert starts(slots, zone=zone)[-1] == "16:30"  # 20 minutes fit before 17:00


def test_a_window_across_the_spring_change_has_its_true_length(patient, physician):
    # Sunday 01:00-04:00 Eastern on 2026-03-08 lasts two real hours (02:00 never happens).
    schedule_for(physician, time_zone=EASTERN, weekdays=(6,), start=time(1), end=time(4))
    slots = search(patient, date(2026, 3, 7), date(2026, 3, 8), now=utc(2026, 2, 1))
    assert starts(slots, zone=EASTERN) == [
        *("01:00", "01:15", "01:30", "01:45"),
        *("03:00", "03:15", "03:30"),
    ]
    assert all(slot.ends_at - slot.starts_at == timedelta(minutes=20) for slot in slots)


def test_times_are_shown_in_the_patients_zone(physician):
    schedule_for(physician, time_zone=EASTERN)
    panhandle = PatientFactory(state="FL", county="Escambia", time_zone=CENTRAL).user
    slots = search(panhandle, date(2026, 12, 7), now=utc(2026, 12, 1))
    # 9:00 Eastern is 8:00 in Pensacola; the search covers the patient's own day.
    assert starts(slots, zone=CENTRAL)[0] == "08:00"
    assert {s.starts_at.astimezone(ZoneInfo(CENTRAL)).date() for s in slots} == {date(2026, 12, 7)}


def test_only_physicians_licensed_in_the_patients_state(
    patient, other_patient, physician, physician_licensed_elsewhere, unlicensed_physician
):
    for doctor in (physician, physician_licensed_elsewhere, unlicensed_physician):
        schedule_for(doctor)
    now = utc(2026, 12, 1)
    florida = {s.physician for s in search(patient, date(2026, 12, 7), now=now)}
    jersey = {s.physician for s in search(other_patient, date(2026, 12, 7), now=now)}
    assert florida == {physician}
    assert jersey == {physician, physician_licensed_elsewhere}


def test_a_license_that_lapses_inside_the_range_stops_the_slots_after_it(patient):
    doctor = PhysicianFactory()
    LicenseFactory(physician=doctor, state="FL", expires_on=date(2026, 12, 8))
    DeaFactory(physician=doctor, state="FL")
    schedule_for(doctor)
    slots = search(patient, date(2026, 12, 7), date(2026, 12, 11), now=utc(2026, 12, 1))
    # Valid through its expiry date on the practice calendar, not a day after.
    assert {s.starts_at.date() for s in slots} == {date(2026, 12, 7), date(2026, 12, 8)}


def test_a_suspended_license_offers_nothing(patient, physician):
    schedule_for(physician)
    physician.licenses.filter(state="FL").update(status=LicenseStatus.SUSPENDED)
    assert list(search(patient, date(2026, 12, 7), now=utc(2026, 12, 1))) == []


def test_minimum_notice_and_horizon(patient, physician):
    schedule_for(physician, time_zone=EASTERN, weekdays=tuple(range(7)))
    now = datetime(2026, 12, 7, 10, 5, tzinfo=ZoneInfo(EASTERN))
    today = starts(search(patient, date(2026, 12, 7), now=now), zone=EASTERN)
    assert today[0] == "12:15"  # 12:05 is two hours away; the grid steps by 15 minutes
    last_day = (now + timedelta(days=60)).date()
    horizon = starts(search(patient, last_day, last_day + timedelta(days=1), now=now), zone=EASTERN)
    assert horizon[-1] == "10:00"  # nothing after now + 60 days
    assert list(search(patient, date(2026, 12, 1), date(2026, 12, 6), now=now)) == []  # the past


def test_bookings_and_their_buffer_are_excluded(patient, other_patient, physician):
    schedule_for(physician, time_zone=EASTERN, buffer_minutes=10)
    booked = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo(EASTERN))
    appointment_for(other_patient, physician, booked)  # 10:00-10:20, blocks until 10:30
    appointment_for(
        other_patient,
        physician,
        booked + timedelta(hours=3),
        kind="follow_up",
        status=AppointmentStatus.CANCELED,
    )
    day = starts(search(patient, date(2026, 12, 7), now=utc(2026, 12, 1)), zone=EASTERN)
    # 9:30 would end at 9:50 and its buffer at 10:00: it fits; 9:45 + 20 + 10 does not.
    assert "09:30" in day and "09:45" not in day
    assert not {"10:00", "10:15"} & set(day)
    assert "10:30" in day
    assert "13:00" in day  # a canceled visit frees its time


def test_a_slot_that_fits_exactly_between_two_bookings(patient, other_patient, physician):
    schedule_for(physician, time_zone=EASTERN, buffer_minutes=10)
    ten = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo(EASTERN))
    appointment_for(other_patient, physician, ten)  # blocks 10:00-10:30
    appointment_for(other_patient, physician, ten + timedelta(hours=1), kind="follow_up")
    day = starts(search(patient, date(2026, 12, 7), now=utc(2026, 12, 1)), zone=EASTERN)
    # The follow-up from 11:00: 10:30 + 20 minutes + 10 of buffer ends exactly then.
    assert "10:30" in day
    assert not {"10:15", "10:45", "11:00", "11:15"} & set(day)


def test_a_booking_across_the_start_of_the_hours(patient, other_patient, physician):
    schedule_for(physician, time_zone=EASTERN, buffer_minutes=10)
    # Booked in extra hours since removed: 8:35-8:55, its buffer until 9:05.
    appointment_for(
        other_patient, physician, datetime(2026, 12, 7, 8, 35, tzinfo=ZoneInfo(EASTERN))
    )
    day = starts(search(patient, date(2026, 12, 7), now=utc(2026, 12, 1)), zone=EASTERN)
    assert day[0] == "09:15"


def test_the_patients_own_bookings_are_excluded(patient, physician):
    other_doctor = PhysicianFactory()
    LicenseFactory(physician=other_doctor, state="FL")
    DeaFactory(physician=other_doctor, state="FL")
    schedule_for(physician, time_zone=EASTERN)
    schedule_for(other_doctor, time_zone=EASTERN)
    appointment_for(patient, other_doctor, datetime(2026, 12, 7, 11, 0, tzinfo=ZoneInfo(EASTERN)))
    slots = search(patient, date(2026, 12, 7), now=utc(2026, 12, 1), physician=physician)
    assert not {"10:45", "11:00", "11:15"} & set(starts(slots, zone=EASTERN))
    assert "11:30" in starts(slots, zone=EASTERN)


def test_time_off_and_extra_hours(patient, physician):
    schedule_for(physician, time_zone=EASTERN)
    AvailabilityOverride.objects.create(
        physician=physician, date=date(2026, 12, 7), kind=OverrideKind.TIME_OFF
    )
    AvailabilityOverride.objects.create(
        physician=physician,
        date=date(2026, 12, 8),
        kind=OverrideKind.TIME_OFF,
        start_time=time(12),
        end_time=time(14),
    )
    AvailabilityOverride.objects.create(
        physician=physician,
        date=date(2026, 12, 12),  # a Saturday
        kind=OverrideKind.EXTRA_HOURS,
        start_time=time(10),
        end_time=time(11),
    )
    now = utc(2026, 12, 1)
    assert list(search(patient, date(2026, 12, 7), now=now)) == []
    tuesday = starts(search(patient, date(2026, 12, 8), now=now), zone=EASTERN)
    assert "11:30" in tuesday and "11:45" not in tuesday and "14:00" in tuesday
    assert not [t for t in tuesday if "12:00" <= t < "14:00"]
    saturday = starts(search(patient, date(2026, 12, 12), now=now), zone=EASTERN)
    assert saturday == ["10:00", "10:15", "10:30"]


def test_appointment_kinds_have_their_own_lengths(patient, physician):
    schedule_for(physician, time_zone=EASTERN, start=time(9), end=time(10))
    now = utc(2026, 12, 1)
    lengths = {
        kind: [s.ends_at - s.starts_at for s in search(patient, DAY, now=now, kind=kind)]
        for kind in ("consultation", "check_in", "follow_up")
    }
    assert lengths["consultation"] == [timedelta(minutes=30)] * 3  # 9:00, 9:15, 9:30
    assert lengths["check_in"] == [timedelta(minutes=20)] * 3
    assert lengths["follow_up"] == [timedelta(minutes=15)] * 4


def test_slot_offered_is_the_search_for_one_start(patient, physician):
    schedule_for(physician, time_zone=EASTERN)
    now = utc(2026, 12, 1)
    nine = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo(EASTERN))
    offered = {
        "on the grid": nine,
        "off the grid": nine + timedelta(minutes=5),
        "before hours": nine - timedelta(minutes=15),
        "too late to fit": nine.replace(hour=16, minute=45),
        "weekend": nine + timedelta(days=5),
    }
    answers = {
        name: slot_offered(
            patient=patient.patient, physician=physician, kind="check_in", starts_at=at, now=now
        )
        for name, at in offered.items()
    }
    assert answers == {
        "on the grid": True,
        "off the grid": False,
        "before hours": False,
        "too late to fit": False,
        "weekend": False,
    }


def _extra_physicians(count: int) -> None:
    for _ in range(count):
        doctor = PhysicianFactory()
        LicenseFactory(physician=doctor, state="FL")
        DeaFactory(physician=doctor, state="FL")
        schedule_for(doctor)
        AvailabilityOverride.objects.create(
            physician=doctor, date=date(2026, 12, 9), kind=OverrideKind.TIME_OFF
        )


def test_a_search_runs_a_fixed_number_of_queries(patient, other_patient, physician):
    schedule_for(physician)
    appointment_for(other_patient, physician, utc(2026, 12, 7, 15))
    now = utc(2026, 12, 1)

    def queries(day_to: date) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert search(patient, date(2026, 12, 7), day_to, now=now)
        return len(captured)

    small = queries(date(2026, 12, 7))
    _extra_physicians(4)
    assert queries(date(2026, 12, 31)) == small


def test_slot_search_api(patient, physician):
    schedule_for(physician, time_zone=EASTERN)
    client = client_for(patient)
    with time_machine.travel(utc(2026, 12, 1, 12), tick=False):
        response = client.get(
            "/api/scheduling/slots",
            {"kind": "check_in", "date_from": "2026-12-07", "date_to": "2026-12-07"},
        )
        assert response.status_code == 200, response.content
        first = response.json()["results"][0]
        assert first["starts_at"] == "2026-12-07T14:00:00Z"
        assert first["local_starts_at"] == "2026-12-07T08:00:00-06:00"
        assert first["time_zone"] == CENTRAL
        assert first["physician"]["id"] == str(physician.user.public_id)
        assert response.json()["count"] == 31
        paged = client.get(
            "/api/scheduling/slots",
            {"kind": "check_in", "date_from": "2026-12-07", "date_to": "2026-12-07"}
            | {"page": 2, "page_size": 30},
        )
        assert paged.status_code == 200, paged.content
        assert [row["starts_at"] for row in paged.json()["results"]] == ["2026-12-07T21:30:00Z"]

        for params, field in (
            ({"date_to": "2026-12-06"}, "date_to"),
            ({"date_to": "2027-01-07"}, "date_to"),
            ({"kind": "massage"}, "kind"),
            ({"physician": "not-a-uuid"}, "physician"),
        ):
            query = {"kind": "check_in", "date_from": "2026-12-07", "date_to": "2026-12-07"}
            bad = client.get("/api/scheduling/slots", {**query, **params})
            assert bad.status_code == 400
            assert field in bad.json()["error"]["fields"]


def test_slot_rows_are_the_documented_shape(patient, physician, other_patient):
    """The view writes its rows by hand; SlotOut is their documented shape."""
    schedule_for(physician, time_zone=EASTERN)
    second = PhysicianFactory()
    LicenseFactory(physician=second, state="FL")
    DeaFactory(physician=second, state="FL")
    schedule_for(second, time_zone=CENTRAL)
    appointment_for(other_patient, physician, utc(2026, 12, 7, 15))
    query = {"kind": "consultation", "date_from": "2026-12-07", "date_to": "2026-12-08"}
    with time_machine.travel(utc(2026, 12, 1, 12), tick=False):
        response = client_for(patient).get("/api/scheduling/slots", {**query, "page_size": 100})
        slots = search(
            patient,
            date(2026, 12, 7),
            date(2026, 12, 8),
            now=utc(2026, 12, 1, 12),
            kind="consultation",
        )
    zone = ZoneInfo(patient.patient.time_zone)
    documented = SlotOut(
        [
            {
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "local_starts_at": slot.starts_at.astimezone(zone).isoformat(),
                "local_date": slot.starts_at.astimezone(zone).date(),
                "time_zone": zone.key,
                "physician": physician_brief(slot.physician),
            }
            for slot in slots[:100]
        ],
        many=True,
    ).data
    rows = response.json()["results"]
    assert len(rows) == 100 and {row["physician"]["id"] for row in rows} == {
        str(physician.user.public_id),
        str(second.user.public_id),
    }
    assert rows == [{**row, "physician": dict(row["physician"])} for row in documented]
    assert all(set(row) == set(SlotOut().fields) for row in rows)


def test_staff_search_for_a_patient_they_may_see(
    patient, other_patient, physician_licensed_elsewhere, ops_admin
):
    schedule_for(physician_licensed_elsewhere)
    query = {"kind": "check_in", "date_from": "2026-12-07", "date_to": "2026-12-07"}
    doctor = client_for(physician_licensed_elsewhere.user)
    with time_machine.travel(utc(2026, 12, 1, 12), tick=False):
        missing = doctor.get("/api/scheduling/slots", query)
        assert missing.status_code == 400 and "patient" in missing.json()["error"]["fields"]
        # The Florida patient is outside this New Jersey physician's states: 404.
        florida = doctor.get(
            "/api/scheduling/slots", {**query, "patient": patient.patient.public_id}
        )
        assert florida.status_code == 404
        jersey = doctor.get(
            "/api/scheduling/slots", {**query, "patient": other_patient.patient.public_id}
        )
        assert jersey.status_code == 200 and jersey.json()["count"] == 31
        admin = client_for(ops_admin).get(
            "/api/scheduling/slots", {**query, "patient": other_patient.patient.public_id}
        )
        assert admin.json()["count"] == 31
