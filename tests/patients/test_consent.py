"""Consent documents: the published texts, signing, stale versions, re-consent, SMS
categories, consent_required, audit and who may call what."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import threading

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from core.errors import Conflict, ValidationFailed
from notifications.models import Consent
from notifications.services import CONSENT_WORDING
from patients.models import ConsentDocument, ConsentSignature
from patients.selectors.consent import consent_documents_current, consents_outstanding
from patients.services.consent import (
    ConsentRequired,
    consent_document_publish,
    consent_required,
    consent_sign,
)
from tests.actors import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VERSION = "2026-11"
KINDS = ["treatment", "telehealth", "sms", "privacy", "compounded_medication"]
_migration = importlib.import_module("patients.migrations.0003_consent_documents")
_acknowledgement = importlib.import_module(
    "patients.migrations.0009_compounded_medication_acknowledgement"
)
VERSIONS = {"compounded_medication": _acknowledgement.VERSION}


@pytest.fixture(autouse=True)
def published():
    """The documents the data migration publishes (a transactional test elsewhere may
    have flushed them; publishing is idempotent)."""
    _migration.publish(apps, None)
    _acknowledgement.publish(apps, None)
    return {d.kind: d for d in consent_documents_current()}


def full_name(user) -> str:
    return f"{user.patient.legal_first_name} {user.patient.legal_last_name}"


def sign(user, kind, *, version=None, typed_name=None, **extra):
    version = version or VERSIONS.get(kind, VERSION)
    payload = {"version": version, "typed_name": typed_name or full_name(user), **extra}
    if kind == "sms" and "sms_categories" not in extra:
        payload["sms_categories"] = ["care"]
    return client_for(user).post(
        f"/api/consents/{kind}/sign", payload, format="json", HTTP_USER_AGENT="TestBrowser/1.0"
    )


def sign_all(user):
    for kind in KINDS:
        assert sign(user, kind).status_code == 200


def publish(kind, version, *, at=None, body="A newer text."):
    return ConsentDocument.objects.create(
        kind=kind,
        version=version,
        title=f"{kind} {version}",
        body=body,
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        published_at=at or timezone.now(),
    )


# --- the published documents ---------------------------------------------------------------


def test_version_2026_11_of_each_kind_is_published_with_its_hash(published):
    assert sorted(published) == sorted(KINDS)
    for document in published.values():
        assert document.body_sha256 == hashlib.sha256(document.body.encode()).hexdigest()
        assert "By typing my full legal name" in document.body
    assert [d.kind for d in consent_documents_current()] == KINDS


def test_treatment_consent_states_the_fda_position_and_warnings(published):
    body = published["treatment"].body
    assert "Compounded ketamine is not approved by the U.S. Food and Drug Administration" in body
    for warning in (
        "Sedation",
        "Dissociation",
        "Increased blood pressure",
        "Abuse and misuse",
        "suicidal thoughts",
        "monitored",
        "988",
    ):
        assert warning in body, warning


def test_sms_consent_shows_the_wording_each_category_records(published):
    for wording in CONSENT_WORDING.values():
        assert wording in published["sms"].body


# --- listing -------------------------------------------------------------------------------


def test_patient_lists_current_documents_all_outstanding(patient):
    response = client_for(patient).get("/api/consents")
    assert response.status_code == 200
    body = response.json()
    assert [d["kind"] for d in body["documents"]] == KINDS
    assert body["outstanding"] == KINDS
    first = body["documents"][0]
    assert first["version"] == VERSION
    assert first["signed"] is False and first["outstanding"] is True
    assert first["signed_at"] is None
    assert first["sms_categories"] is None
    sms = body["documents"][2]
    assert [c["category"] for c in sms["sms_categories"]] == ["care", "billing", "marketing"]
    assert sms["sms_categories"][0]["wording"] == CONSENT_WORDING["care"]


def test_listing_shows_signed_state_and_audits_each_signature_read(patient):
    assert sign(patient, "treatment").status_code == 200
    assert sign(patient, "privacy").status_code == 200
    body = client_for(patient).get("/api/consents").json()
    assert body["outstanding"] == ["telehealth", "sms", "compounded_medication"]
    treatment = body["documents"][0]
    assert treatment["signed"] is True and treatment["signed_at"]
    read = AuditEvent.objects.get(action="read", object_type="patients.consentsignature")
    assert read.detail == {"signatures": [f"privacy:{VERSION}", f"treatment:{VERSION}"]}
    assert (read.actor, read.patient_id) == (patient, patient.patient.public_id)


def test_listing_runs_a_fixed_number_of_queries(patient):
    client = client_for(patient)
    sign(patient, "privacy")
    with CaptureQueriesContext(connection) as one_signed:
        assert client.get("/api/consents").status_code == 200
    sign_all(patient)
    with CaptureQueriesContext(connection) as all_signed:
        assert client.get("/api/consents").status_code == 200
    assert len(all_signed) == len(one_signed) <= 8


def test_listing_without_a_patient_record_shows_everything_outstanding():
    user = UserFactory(role="patient")
    body = client_for(user).get("/api/consents").json()
    assert body["outstanding"] == KINDS


# --- signing -------------------------------------------------------------------------------


def test_signing_records_name_time_ip_user_agent_and_hash(patient, published):
    response = sign(
        patient, "treatment", typed_name="  jordan   " + patient.patient.legal_last_name.upper()
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["kind"] == "treatment"
    assert body["version"] == VERSION
    assert body["document_sha256"] == published["treatment"].body_sha256
    signature = ConsentSignature.objects.get()
    assert signature.patient == patient.patient
    assert signature.document == published["treatment"]
    assert signature.typed_name.lower().split() == [
        "jordan",
        patient.patient.legal_last_name.lower(),
    ]
    assert signature.signed_at is not None
    assert signature.ip == "127.0.0.1"
    assert signature.user_agent == "TestBrowser/1.0"
    assert signature.document_sha256 == published["treatment"].body_sha256
    with connection.cursor() as cursor:
        cursor.execute("SELECT typed_name FROM patients_consentsignature")
        assert "Jordan" not in cursor.fetchone()[0]
    event = AuditEvent.objects.get(action="create", object_type="patients.consentsignature")
    assert (event.actor, event.patient_id) == (patient, patient.patient.public_id)
    assert event.detail == {"kind": "treatment", "version": VERSION}


@pytest.mark.parametrize("typed_name", ["Jordan", "Jordan Smith", "Rivers Jordan", "", "   "])
def test_name_that_is_not_the_legal_name_is_a_field_error(patient, typed_name):
    response = sign(patient, "treatment", typed_name=typed_name or " ")
    assert response.status_code == 400
    assert "typed_name" in response.json()["error"]["fields"]
    assert not ConsentSignature.objects.exists()


def test_signing_twice_is_idempotent(patient):
    first = sign(patient, "telehealth").json()
    second = sign(patient, "telehealth").json()
    assert first == second
    assert ConsentSignature.objects.count() == 1
    events = AuditEvent.objects.filter(object_type="patients.consentsignature")
    assert list(events.order_by("id").values_list("action", flat=True)) == ["create", "read"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_signatures_of_one_version_make_one(patient):
    _migration.publish(apps, None)  # a transactional test starts from an emptied database
    start = threading.Barrier(2)
    codes: list[int] = []

    def attempt() -> None:
        try:
            start.wait()
            codes.append(sign(patient, "privacy").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert codes == [200, 200]
    assert ConsentSignature.objects.count() == 1


def test_stale_version_is_409(patient):
    publish("treatment", "2027-01")
    response = sign(patient, "treatment", version=VERSION)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "consent_version_stale"
    assert "2027-01" in error["message"]
    assert not ConsentSignature.objects.exists()
    assert sign(patient, "treatment", version="2027-01").status_code == 200


def test_unknown_version_is_stale_and_unknown_kind_is_404(patient):
    assert sign(patient, "privacy", version="1999-01").json()["error"]["code"] == (
        "consent_version_stale"
    )
    response = sign(patient, "waiver")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "consent_not_found"


def test_a_version_published_in_the_future_is_not_current_yet(patient):
    publish("privacy", "2027-06", at=timezone.now() + dt.timedelta(days=3))
    assert [d.version for d in consent_documents_current() if d.kind == "privacy"] == [VERSION]
    assert sign(patient, "privacy", version="2027-06").status_code == 409
    assert sign(patient, "privacy").status_code == 200


def test_service_refuses_a_stale_document_and_an_altered_text(patient, published):
    publish("telehealth", "2027-01")
    with pytest.raises(Exception) as stale:
        consent_sign(
            patient=patient.patient,
            document=published["telehealth"],
            typed_name=full_name(patient),
        )
    assert stale.value.code == "consent_version_stale"
    altered = published["privacy"]
    altered.body += " (edited)"
    with pytest.raises(Exception) as edited:
        consent_sign(patient=patient.patient, document=altered, typed_name=full_name(patient))
    assert edited.value.code == "consent_document_altered"


@pytest.mark.parametrize(
    "payload",
    [
        {"typed_name": "Jordan Rivers"},
        {"version": VERSION},
        {"version": VERSION, "typed_name": "x", "role": "admin"},
        {"version": ["2026-11"], "typed_name": "x"},
    ],
)
def test_bad_sign_input_names_the_field(patient, payload):
    response = client_for(patient).post("/api/consents/privacy/sign", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]


def test_signing_needs_a_patient_record():
    user = UserFactory(role="patient")
    response = client_for(user).post(
        "/api/consents/privacy/sign", {"version": VERSION, "typed_name": "A B"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_record"


# --- re-consent ----------------------------------------------------------------------------


def test_a_new_version_makes_its_kind_outstanding_again(patient):
    record = patient.patient
    assert consents_outstanding(record) == KINDS
    sign_all(patient)
    assert consents_outstanding(record) == []
    consent_required(record)  # nothing outstanding: no error

    publish("treatment", "2027-01", body="Treatment consent, revised.")
    assert consents_outstanding(record) == ["treatment"]
    listing = client_for(patient).get("/api/consents").json()
    assert listing["outstanding"] == ["treatment"]
    assert listing["documents"][0]["version"] == "2027-01"
    with pytest.raises(ConsentRequired) as required:
        consent_required(record)
    assert required.value.kinds == ["treatment"]

    assert sign(patient, "treatment", version="2027-01").status_code == 200
    assert consents_outstanding(record) == []


def test_consent_required_is_a_409_listing_the_clinical_kinds(patient):
    sign(patient, "privacy")
    with pytest.raises(ConsentRequired) as required:
        consent_required(patient.patient)
    error = required.value
    assert (error.status_code, error.code) == (409, "consent_required")
    assert error.kinds == ["treatment", "telehealth"]
    assert error.fields == {"consents": ["treatment", "telehealth"]}
    assert "treatment, telehealth." in error.message


def test_sms_and_privacy_are_prompted_but_never_required(patient):
    sign(patient, "treatment")
    sign(patient, "telehealth")
    assert consents_outstanding(patient.patient) == ["sms", "privacy", "compounded_medication"]
    consent_required(patient.patient)  # no error: not conditions of treatment
    publish("privacy", "2027-01", body="Privacy notice, revised.")
    publish("sms", "2027-01", body="SMS consent, revised.")
    consent_required(patient.patient)
    publish("telehealth", "2027-01", body="Telehealth consent, revised.")
    with pytest.raises(ConsentRequired) as required:
        consent_required(patient.patient)
    assert required.value.kinds == ["telehealth"]


# --- publishing ----------------------------------------------------------------------------


def test_publishing_a_version_makes_its_kind_outstanding_again(patient):
    sign_all(patient)
    assert consents_outstanding(patient.patient) == []
    body = "Treatment consent, version 2027-02."
    document = consent_document_publish(
        kind="treatment", version="2027-02", title="Consent to treatment", body=body
    )
    assert document.body_sha256 == hashlib.sha256(body.encode()).hexdigest()
    assert document.published_at is not None
    assert consents_outstanding(patient.patient) == ["treatment"]
    with pytest.raises(ConsentRequired):
        consent_required(patient.patient)
    assert sign(patient, "treatment", version="2027-02").status_code == 200
    assert consents_outstanding(patient.patient) == []


def test_publishing_an_existing_kind_and_version_is_refused():
    before = ConsentDocument.objects.get(kind="treatment", version=VERSION)
    with pytest.raises(Conflict) as refused:
        consent_document_publish(kind="treatment", version=VERSION, title="T", body="Other text.")
    assert refused.value.code == "consent_version_exists"
    after = ConsentDocument.objects.get(kind="treatment", version=VERSION)
    assert (after.body, after.body_sha256) == (before.body, before.body_sha256)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"kind": "marketing"}, "kind"), ({"version": " "}, "version"), ({"body": ""}, "body")],
)
def test_publishing_checks_its_input(changes, field):
    args = {"kind": "privacy", "version": "2099-01", "title": "Notice", "body": "Text.", **changes}
    with pytest.raises(ValidationFailed) as invalid:
        consent_document_publish(**args)
    assert field in invalid.value.fields


def test_a_future_publication_becomes_outstanding_when_it_takes_effect(patient):
    sign_all(patient)
    later = timezone.now() + dt.timedelta(days=1)
    consent_document_publish(
        kind="telehealth", version="2099-01", title="T", body="Later.", published_at=later
    )
    assert consents_outstanding(patient.patient) == []


def test_outstanding_is_per_patient(patient, other_patient):
    sign_all(patient)
    assert consents_outstanding(other_patient.patient) == KINDS


# --- SMS categories ------------------------------------------------------------------------


def test_sms_signature_records_the_chosen_categories(patient):
    response = sign(patient, "sms", sms_categories=["care", "marketing"])
    assert response.status_code == 200, response.json()
    consents = {c.category: c for c in Consent.objects.filter(user=patient, channel="sms")}
    assert {k: c.granted for k, c in consents.items()} == {
        "care": True,
        "billing": False,
        "marketing": True,
    }
    assert {c.source for c in consents.values()} == {"intake"}
    assert consents["care"].wording == CONSENT_WORDING["care"]


def test_signing_the_same_sms_version_again_changes_no_choice(patient):
    assert sign(patient, "sms", sms_categories=["care"]).status_code == 200
    assert sign(patient, "sms", sms_categories=["care", "marketing"]).status_code == 200
    granted = Consent.objects.filter(user=patient, granted=True)
    assert list(granted.values_list("category", flat=True)) == ["care"]


def test_sms_signature_with_no_categories_grants_none(patient):
    assert sign(patient, "sms", sms_categories=[]).status_code == 200
    assert not Consent.objects.filter(user=patient, granted=True).exists()
    assert consents_outstanding(patient.patient) == [
        "treatment",
        "telehealth",
        "privacy",
        "compounded_medication",
    ]


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("sms", {"sms_categories": ["care", "pizza"]}),
        ("sms", {"sms_categories": "care"}),
        ("treatment", {"sms_categories": ["care"]}),
    ],
)
def test_bad_sms_categories_are_field_errors(patient, kind, extra):
    response = sign(patient, kind, **extra)
    assert response.status_code == 400
    assert any(f.startswith("sms_categories") for f in response.json()["error"]["fields"])
    assert not ConsentSignature.objects.exists()
    assert not Consent.objects.exists()


def test_sms_document_needs_a_choice_of_categories(patient):
    response = client_for(patient).post(
        "/api/consents/sms/sign",
        {"version": VERSION, "typed_name": full_name(patient)},
        format="json",
    )
    assert response.status_code == 400
    assert "sms_categories" in response.json()["error"]["fields"]


# --- who may call what ---------------------------------------------------------------------


def test_anonymous_is_401(api):
    assert api.get("/api/consents").status_code == 401
    response = api.post("/api/consents/privacy/sign", {"version": VERSION}, format="json")
    assert response.status_code == 401


def test_staff_are_403(physician, ops_admin):
    for user in (physician.user, ops_admin):
        client = client_for(user)
        assert client.get("/api/consents").status_code == 403
        payload = {"version": VERSION, "typed_name": "Ada Byrd"}
        assert client.post("/api/consents/privacy/sign", payload, format="json").status_code == 403
    assert not ConsentSignature.objects.exists()
