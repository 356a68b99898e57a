"""The patient record: validation, time zones, encryption at rest, who sees what, audit."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.utils.encoders import JSONEncoder

from audit.models import AuditEvent
from core.clock import practice_today
from patients.models import Patient
from tests.actors import client_for
from tests.factories import LicenseFactory, PatientFactory, PhysicianFactory, UserFactory
from tests.patients.support import PROFILE

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_patient():
    return UserFactory(role="patient")


def put_profile(user, **changes):
    return client_for(user).put("/api/patients/me", {**PROFILE, **changes}, format="json")


def test_patient_creates_their_record_with_normalized_phones(new_patient):
    response = put_profile(new_patient)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["phone"] == "+13055550142"
    assert body["sitter_phone"] == "+13055550144"
    assert body["time_zone"] == "America/New_York"
    assert Patient.objects.get().user == new_patient
    assert AuditEvent.objects.filter(action="create", object_type="patients.patient").count() == 1


@pytest.mark.parametrize(
    ("state", "county", "zip_code", "zone"),
    [
        ("FL", "Escambia", "32502", "America/Chicago"),
        ("FL", "Bay", "32401", "America/Chicago"),
        ("FL", "Leon", "32301", "America/New_York"),
        ("NJ", "Bergen", "07601", "America/New_York"),
        ("NJ", "Union", "07083", "America/New_York"),
    ],
)
def test_time_zone_comes_from_the_county(new_patient, state, county, zip_code, zone):
    body = put_profile(new_patient, state=state, county=county, zip_code=zip_code).json()
    assert body["time_zone"] == zone


def test_gulf_county_asks_the_patient(new_patient):
    missing = put_profile(new_patient, county="Gulf", zip_code="32456")
    assert missing.status_code == 400
    assert "time_zone" in missing.json()["error"]["fields"]
    chosen = put_profile(new_patient, county="Gulf", zip_code="32465", time_zone="America/Chicago")
    assert chosen.json()["time_zone"] == "America/Chicago"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"county": "Bergen"}, "county"),  # a New Jersey county in Florida
        ({"county": "Miami Dade"}, "county"),
        ({"state": "NY"}, "state"),
        ({"zip_code": "07601"}, "zip_code"),  # New Jersey ZIP for Florida
        ({"zip_code": "3314"}, "zip_code"),
        ({"zip_code": "abcde"}, "zip_code"),
        ({"phone": "555-0142"}, "phone"),
        ({"phone": "+44 20 7946 0958"}, "phone"),
        ({"phone": "(305) 055-0142"}, "phone"),
        ({"sitter_phone": ""}, "sitter_phone"),
        ({"date_of_birth": "14/02/1990"}, "date_of_birth"),
        ({"sex_at_birth": "unknown"}, "sex_at_birth"),
        ({"legal_first_name": ""}, "legal_first_name"),
        ({"legal_first_name": "x" * 101}, "legal_first_name"),
        ({"favorite_color": "teal"}, "favorite_color"),
        ({"legal_last_name": ["a"]}, "legal_last_name"),
    ],
)
def test_bad_values_are_field_errors_and_write_nothing(new_patient, changes, field):
    response = put_profile(new_patient, **changes)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Patient.objects.exists()


def test_age_boundary_is_the_eighteenth_birthday(new_patient):
    today = practice_today()
    eighteen_today = today.replace(year=today.year - 18)
    too_young = eighteen_today + dt.timedelta(days=1)
    young = put_profile(new_patient, date_of_birth=too_young.isoformat())
    assert young.status_code == 400
    assert "date_of_birth" in young.json()["error"]["fields"]
    assert put_profile(new_patient, date_of_birth=eighteen_today.isoformat()).status_code == 200


def test_a_failed_update_keeps_what_was_stored(new_patient):
    put_profile(new_patient)
    assert put_profile(new_patient, county="Nowhere", city="Elsewhere").status_code == 400
    assert Patient.objects.get().city == "Coral Gables"


def test_update_replaces_the_record(new_patient):
    put_profile(new_patient)
    body = put_profile(new_patient, city="Hialeah", zip_code="33010").json()
    assert body["city"] == "Hialeah"
    assert Patient.objects.count() == 1


def _raw_row() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM patients_patient")
        return " ".join(str(value) for value in cursor.fetchone())


def test_contact_and_personal_fields_are_encrypted_at_rest(new_patient):
    put_profile(new_patient)
    raw = _raw_row()
    for plaintext in [
        "Avery",
        "Quintana",
        "1990-02-14",
        "3055550142",
        "742 Coral Way",
        "Coral Gables",
        "33145",
        "Rowan",
        "Blake",
    ]:
        assert plaintext not in raw
    assert Patient.objects.get().legal_last_name == "Quintana"


def test_phone_lookup_uses_a_keyed_hash(new_patient):
    from notifications.directory import user_ids_for_phone

    put_profile(new_patient)
    assert user_ids_for_phone("+13055550142") == [new_patient.pk]
    assert "3055550142" not in Patient.objects.values_list("phone_hash", flat=True).get()


def test_rotate_phi_keys_reencrypts_with_the_new_key(new_patient, settings):
    put_profile(new_patient)
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    try:
        call_command("rotate_phi_keys")
        settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is retired
        patient = Patient.objects.get()
        assert (patient.legal_first_name, patient.date_of_birth) == ("Avery", dt.date(1990, 2, 14))
    finally:
        settings.FIELD_ENCRYPTION_KEYS = [old_key]


# --- who sees what ---------------------------------------------------------------------


def test_patient_reads_their_own_record_and_the_read_is_audited(patient):
    client = client_for(patient)
    assert client.get("/api/patients/me").json()["id"] == str(patient.patient.public_id)
    assert client.get(f"/api/patients/{patient.patient.public_id}").status_code == 200
    reads = AuditEvent.objects.filter(action="read", object_type="patients.patient")
    assert reads.count() == 2
    assert set(reads.values_list("patient_id", flat=True)) == {patient.patient.public_id}


def test_patient_without_a_record_gets_404_on_me(new_patient):
    response = client_for(new_patient).get("/api/patients/me")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_record"


def test_another_patients_record_is_404(patient, other_patient):
    response = client_for(patient).get(f"/api/patients/{other_patient.patient.public_id}")
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="read").exists()


def test_physician_sees_patients_in_licensed_states_only(patient, other_patient):
    florida_only = PhysicianFactory()
    LicenseFactory(physician=florida_only, state="FL")
    client = client_for(florida_only.user)
    fl = client.get(f"/api/patients/{patient.patient.public_id}")
    assert fl.status_code == 200
    assert fl.json()["date_of_birth"] == "1985-06-01"
    assert client.get(f"/api/patients/{other_patient.patient.public_id}").status_code == 404


def test_expired_license_shows_nothing(patient):
    lapsed = PhysicianFactory()
    LicenseFactory(physician=lapsed, state="FL", expires_on=practice_today() - dt.timedelta(1))
    assert (
        client_for(lapsed.user).get(f"/api/patients/{patient.patient.public_id}").status_code == 404
    )


def test_unlicensed_physician_sees_no_one(unlicensed_physician, patient):
    client = client_for(unlicensed_physician.user)
    assert client.get(f"/api/patients/{patient.patient.public_id}").status_code == 404
    assert client.get("/api/patients").json()["results"] == []


def test_ops_admin_sees_contact_and_address_but_nothing_personal_or_clinical(ops_admin, patient):
    body = client_for(ops_admin).get(f"/api/patients/{patient.patient.public_id}").json()
    assert body["phone"] == patient.patient.phone
    assert body["address_line1"] == "1 Main St"
    for hidden in ("date_of_birth", "sex_at_birth", "sitter_name", "emergency_contact_name"):
        assert hidden not in body


def test_list_is_for_staff_only(patient, api):
    assert client_for(patient).get("/api/patients").status_code == 403
    assert api.get("/api/patients").status_code == 401
    assert api.get(f"/api/patients/{patient.patient.public_id}").status_code == 401


def test_list_audits_each_patient_and_runs_fixed_queries(ops_admin):
    PatientFactory.create_batch(3)
    client = client_for(ops_admin)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get("/api/patients").json()["results"]) == 3
    PatientFactory.create_batch(20)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/patients?page_size=20").json()["results"]) == 20
    assert len(many) == len(few)
    assert AuditEvent.objects.filter(action="read", object_type="patients.patient").count() == 23


def test_list_filters_by_state(physician, patient, other_patient):
    body = client_for(physician.user).get("/api/patients?state=NJ").json()
    assert [p["id"] for p in body["results"]] == [str(other_patient.patient.public_id)]


@pytest.mark.django_db(transaction=True)
def test_double_submission_creates_one_record(new_patient):
    start = threading.Barrier(2)
    codes: list[int] = []

    def submit() -> None:
        try:
            start.wait()
            codes.append(put_profile(new_patient).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert codes == [200, 200]
    assert Patient.objects.count() == 1


def test_record_answers_exactly_the_documented_fields(patient, ops_admin):
    from patients.api.record import ContactOut, PatientOut

    own = client_for(patient).get("/api/patients/me").json()
    assert set(own) == set(PatientOut().fields)
    seen_by_ops = client_for(ops_admin).get(f"/api/patients/{patient.patient.public_id}").json()
    assert set(seen_by_ops) == set(ContactOut().fields)
    assert own["updated_at"].endswith("Z")


def test_own_record_answers_what_the_serializer_would(patient):
    """GET /api/patients/me reads the record with hand-written SQL and builds a plain dict;
    PatientOut over the ORM instance is the reference."""
    from patients.api.record import PatientOut

    patient.patient.address_line2 = "Apt 4"
    patient.patient.save()
    own = client_for(patient).get("/api/patients/me").json()
    reference = PatientOut(Patient.objects.select_related("user").get(user=patient)).data
    assert own == json.loads(json.dumps(reference, cls=JSONEncoder))
    assert (own["legal_first_name"], own["date_of_birth"]) == ("Jordan", "1985-06-01")


def test_own_record_is_read_and_audited_in_one_statement(patient):
    client = client_for(patient)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/patients/me").status_code == 200
    [record] = [q["sql"] for q in queries.captured_queries if "patients_patient" in q["sql"]]
    assert "INSERT INTO audit_auditevent" in record
    assert len(queries) == 2  # the session, then the record with its audit event
    event = AuditEvent.objects.get(action="read")
    assert (event.object_type, event.object_id, event.patient_id, event.actor_id) == (
        "patients.patient",
        str(patient.patient.public_id),
        patient.patient.public_id,
        patient.pk,
    )
