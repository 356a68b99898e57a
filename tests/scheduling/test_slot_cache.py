"""The physician side of a slot search is kept for a few seconds (slot_cache): kept only
until a booking, a cancellation or an availability change commits; the patient's own
appointments and the notice are applied afresh to every search; booking never reads it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling.models import Appointment, AvailabilityOverride, OverrideKind
from scheduling.selectors.slot_cache import GENERATION_KEY, slots_changed
from scheduling.selectors.slots import open_slots
from scheduling.services.availability import OverrideRequest, availability_override_add
from scheduling.services.booking import appointment_cancel
from tests.factories import PatientFactory
from tests.scheduling.support import appointment_for
from tests.scheduling.support_book import NOW, SLOT, book, office, ready_for_consultation

pytestmark = pytest.mark.django_db(transaction=True)

DAY = SLOT.date()  # Monday 7 December


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def starts(user, **kwargs) -> set:
    slots = open_slots(
        patient=user.patient, kind="consultation", date_from=DAY, date_to=DAY, kept=True, **kwargs
    )
    return {slot.starts_at for slot in slots}


def physician_side_queries(user) -> int:
    """Queries of a search that read the physicians' side (rules, appointments)."""
    with CaptureQueriesContext(connection) as captured:
        starts(user)
    return sum("scheduling_weeklyavailability" in q["sql"] for q in captured.captured_queries)


def test_a_repeated_search_is_kept_and_gives_the_same_slots(patient, physician):
    office(physician)
    first = starts(patient)
    assert SLOT in first
    assert physician_side_queries(patient) == 0
    assert starts(patient) == first


def test_a_booking_retires_what_was_kept(patient, other_patient, physician):
    office(physician)
    ready_for_consultation(other_patient)
    assert SLOT in starts(patient)
    assert book(other_patient, physician).status_code == 201
    assert SLOT not in starts(patient)


def test_a_cancellation_retires_what_was_kept(patient, other_patient, physician):
    office(physician)
    visit = appointment_for(other_patient, physician, SLOT, kind="consultation")
    assert SLOT not in starts(patient)
    appointment_cancel(appointment=visit, actor=physician.user, reason="Unwell")
    assert SLOT in starts(patient)


def test_time_off_retires_what_was_kept(patient, physician):
    office(physician)
    assert SLOT in starts(patient)
    availability_override_add(
        actor=physician.user,
        physician=physician,
        request=OverrideRequest(date=DAY, kind=OverrideKind.TIME_OFF),
    )
    assert starts(patient) == set()


def test_a_patients_own_appointments_never_reach_another_through_the_cache(
    patient, physician, physician_licensed_elsewhere
):
    """Both patients are in Florida and search the same day: the second is served the
    first's physician side, with none of the first's own appointments taken out."""
    office(physician)
    neighbor = PatientFactory(county="Escambia", state="FL", time_zone="America/Chicago").user
    # The first patient is busy at SLOT with a physician of another state (stored directly).
    Appointment.objects.create(
        patient=patient.patient,
        physician=physician_licensed_elsewhere,
        kind="check_in",
        starts_at=SLOT,
        ends_at=SLOT + timedelta(minutes=20),
        blocked_until=SLOT + timedelta(minutes=30),
        booked_by=patient,
    )
    assert SLOT not in starts(patient)
    assert physician_side_queries(neighbor) == 0
    assert SLOT in starts(neighbor)


def test_the_notice_applies_to_a_kept_search(patient, physician):
    office(physician)
    assert SLOT in starts(patient)
    # Two hours before the slot, it is inside the minimum notice: gone, cache or not.
    with time_machine.travel(SLOT - timedelta(hours=1), tick=False):
        assert physician_side_queries(patient) == 0
        assert SLOT not in starts(patient)


def test_booking_never_trusts_the_cache(patient, other_patient, physician):
    """Time off stored past the services (no bump): the kept search still shows the slot
    for its few seconds, and booking it is refused."""
    office(physician)
    ready_for_consultation(other_patient)
    assert SLOT in starts(other_patient)
    AvailabilityOverride.objects.create(physician=physician, date=DAY, kind=OverrideKind.TIME_OFF)
    assert SLOT in starts(other_patient)
    response = book(other_patient, physician)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "slot_unavailable"


def test_without_a_cache_every_search_reads_the_database(settings, patient, physician):
    settings.SLOT_SEARCH_CACHE_SECONDS = 0
    office(physician)
    starts(patient)
    assert physician_side_queries(patient) == 1


def test_the_generation_counts_through_the_cache_and_after_an_eviction():
    cache.delete(GENERATION_KEY)
    slots_changed()  # outside a transaction: at once
    slots_changed()
    assert cache.get(GENERATION_KEY) == 2  # the cache reads the counter it kept
    cache.delete(GENERATION_KEY)  # evicted: counting starts again, retiring what was kept
    slots_changed()
    assert cache.get(GENERATION_KEY) == 1
