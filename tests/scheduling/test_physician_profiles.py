"""Physicians as patients see them: public profiles, licensed states today, the New Jersey
disclosure, filters, and a fixed number of queries whatever the page size."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from core.clock import practice_today
from scheduling.models import PhysicianSchedule
from scheduling.selectors.availability import (
    Disclosure,
    physician_disclosure,
    physician_disclosures,
    public_physician,
)
from tests.actors import client_for
from tests.factories import LicenseFactory, PhysicianFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("scheduling-physicians")


def profile_of(physician, **fields):
    values = {
        "title": "MD, Psychiatrist",
        "board_certification": "ABPN Psychiatry",
        "languages": ["en", "es"],
        "bio": "Ten years of practice.",
        "photo_url": "https://cdn.example.test/p.jpg",
    }
    PhysicianSchedule.objects.create(physician=physician, **(values | fields))
    return physician


def detail(physician):
    return reverse("scheduling-physician", kwargs={"physician_id": physician.user.public_id})


def test_a_patient_sees_a_physicians_public_profile(patient, physician):
    profile_of(physician)
    response = client_for(patient).get(detail(physician))
    assert response.status_code == 200
    numbers = {lic.state: lic.number for lic in physician.licenses.all()}
    assert response.json() == {
        "id": str(physician.user.public_id),
        "name": "Ada Byrd",
        "title": "MD, Psychiatrist",
        "board_certification": "ABPN Psychiatry",
        "licensed_states": ["FL", "NJ"],
        "disclosures": [
            {
                "state": state,
                "name": "Ada Byrd",
                "title": "MD, Psychiatrist",
                "license_number": numbers[state],
                "board_certification": "ABPN Psychiatry",
            }
            for state in ("FL", "NJ")
        ],
        "languages": ["en", "es"],
        "bio": "Ten years of practice.",
        "photo_url": "https://cdn.example.test/p.jpg",
    }


def test_the_profile_shows_only_states_licensed_today(patient):
    today = practice_today()
    doctor = profile_of(PhysicianFactory(last_name="Lapsed"))
    LicenseFactory(physician=doctor, state="FL", expires_on=today)  # still good today
    LicenseFactory(physician=doctor, state="NJ", expires_on=today - dt.timedelta(days=1))
    body = client_for(patient).get(detail(doctor)).json()
    assert body["licensed_states"] == ["FL"]
    assert [d["state"] for d in body["disclosures"]] == ["FL"]

    suspended = profile_of(PhysicianFactory(last_name="Suspended"))
    LicenseFactory(physician=suspended, state="NJ", status="suspended")
    assert client_for(patient).get(detail(suspended)).json()["licensed_states"] == []


def test_a_physician_without_a_schedule_has_a_blank_profile(patient, physician):
    body = client_for(patient).get(detail(physician)).json()
    assert body["title"] == "" and body["languages"] == []
    assert body["licensed_states"] == ["FL", "NJ"]


def test_inactive_accounts_and_other_users_are_not_physicians_here(patient, physician):
    physician.user.is_active = False
    physician.user.save()
    client = client_for(patient)
    assert client.get(detail(physician)).status_code == 404
    assert client.get(LIST).json()["count"] == 0
    someone = reverse("scheduling-physician", kwargs={"physician_id": patient.public_id})
    assert client.get(someone).status_code == 404


def test_the_list_filters_by_state_and_language(patient, physician, physician_licensed_elsewhere):
    profile_of(physician, languages=["en"])
    profile_of(physician_licensed_elsewhere, languages=["en", "es"])
    lapsed = profile_of(PhysicianFactory(last_name="Lapsed"), languages=["es"])
    LicenseFactory(physician=lapsed, state="FL", expires_on=practice_today() - dt.timedelta(days=1))
    client = client_for(patient)

    def names(**query):
        response = client.get(LIST, query)
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert names() == ["Ada Byrd", "Ada Elsewhere", "Ada Lapsed"]
    assert names(state="FL") == ["Ada Byrd"]
    assert names(state="NJ") == ["Ada Byrd", "Ada Elsewhere"]
    assert names(language="es") == ["Ada Elsewhere", "Ada Lapsed"]
    assert names(language="ES", state="NJ") == ["Ada Elsewhere"]
    assert client.get(LIST, {"state": "TX"}).status_code == 400


def test_anonymous_is_401(api, physician):
    assert api.get(LIST).status_code == 401
    assert api.get(detail(physician)).status_code == 401


def _physicians(count):
    for index in range(count):
        doctor = profile_of(PhysicianFactory(last_name=f"Doc{index:02d}"))
        LicenseFactory(physician=doctor, state="FL")
        LicenseFactory(physician=doctor, state="NJ")


def test_a_page_costs_the_same_queries_at_any_size(patient, django_assert_num_queries):
    client = client_for(patient)
    _physicians(2)
    with CaptureQueriesContext(connection) as small:
        assert len(client.get(LIST, {"page_size": 2}).json()["results"]) == 2
    _physicians(10)
    # Authentication, count, page, licenses, DEA and CDS registrations.
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(client.get(LIST, {"page_size": 12}).json()["results"]) == 12
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(LIST, {"page_size": 12, "state": "NJ", "language": "es"})


def test_physician_disclosure_is_what_booking_shows(physician, physician_licensed_elsewhere):
    profile_of(physician, title="DO", board_certification="AOBNP")
    loaded = public_physician(physician.user.public_id)
    nj = next(lic for lic in physician.licenses.all() if lic.state == "NJ")
    assert physician_disclosure(loaded, "NJ") == Disclosure(
        state="NJ",
        name="Ada Byrd",
        title="DO",
        license_number=nj.number,
        board_certification="AOBNP",
    )
    elsewhere = public_physician(physician_licensed_elsewhere.user.public_id)
    assert physician_disclosure(elsewhere, "FL").license_number == ""
    assert [item.state for item in physician_disclosures(elsewhere)] == ["NJ"]


def test_staff_see_profiles_too(ops_admin, physician):
    assert client_for(ops_admin).get(detail(physician)).status_code == 200
    privacy = UserFactory(role=Role.PRIVACY_OFFICER, is_staff=True)
    assert client_for(privacy).get(LIST).status_code == 200
