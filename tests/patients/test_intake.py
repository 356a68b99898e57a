"""Intake: the questionnaire as data, drafts, field-named errors, submission with scoring and
screening (every outcome), urgent safety handling, double submits, re-screening an old
intake against its own rule set, encryption at rest, who may see what, audit."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import io
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from audit.models import AuditEvent
from core import crypto
from notifications.models import Message
from patients import scoring, screening
from patients.intake_screening import intake_rescreen
from patients.models import Intake, IntakeStatus, SafetyFlag
from patients.questionnaire import QUESTIONNAIRE_VERSION
from patients.screening import CONDITIONS, CRISIS_RESOURCES, MEDICATION_CLASSES
from patients.selectors.intake import intake_answers, intake_screening
from patients.services.intake import intake_save_draft
from tests.actors import client_for
from tests.factories import LicenseFactory, PatientFactory, PhysicianFactory, UserFactory
from tests.patients.support import complete_intake_answers, submitted_intake, with_condition

pytestmark = pytest.mark.django_db

_outcome_migration = importlib.import_module("patients.migrations.0005_intake_screening_outcome")


def put(user: Any, answers: Any) -> Any:
    return client_for(user).put("/api/intake", {"answers": answers}, format="json")


def submit(user: Any) -> Any:
    return client_for(user).post("/api/intake/submit", {}, format="json")


@pytest.fixture
def fl_only_physician() -> Any:
    doctor = PhysicianFactory(last_name="Florida")
    LicenseFactory(physician=doctor, state="FL")
    return doctor


@pytest.fixture
def nj_only_physician() -> Any:
    doctor = PhysicianFactory(last_name="Jersey")
    LicenseFactory(physician=doctor, state="NJ")
    return doctor


# --- the questionnaire -----------------------------------------------------------------


def test_questionnaire_is_versioned_data_with_every_condition_and_medication(patient):
    body = client_for(patient).get("/api/intake/questionnaire").json()
    assert body["version"] == QUESTIONNAIRE_VERSION
    sections = {s["code"]: s for s in body["sections"]}
    assert list(sections) == [
        "medical_history",
        "medications",
        "allergies",
        "pregnant_or_breastfeeding",
        "audit_c",
        "dast10",
        "vitals",
        "phq9",
        "gad7",
        "cssrs",
    ]
    assert [i["code"] for i in sections["medical_history"]["items"]] == list(CONDITIONS)
    classes = sections["medications"]["fields"][0]
    assert [i["code"] for i in classes["items"]] == list(MEDICATION_CLASSES)
    assert len(sections["phq9"]["items"]) == 9
    assert sections["phq9"]["items"][8]["options"][0] == "Not at all"
    assert [f["code"] for f in sections["vitals"]["fields"]] == [
        "systolic",
        "diastolic",
        "height_cm",
        "weight_kg",
    ]


# --- drafts ------------------------------------------------------------------------------


def test_no_intake_yet_is_404(patient):
    response = client_for(patient).get("/api/intake")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_intake"


def test_draft_is_saved_and_resumed_section_by_section(patient):
    first = put(patient, {"medical_history": {"mania": False}, "phq9": [1, 2, None]})
    assert first.status_code == 200, first.json()
    body = first.json()
    assert body["status"] == "draft"
    assert body["editable"] is True
    assert body["questionnaire_version"] == QUESTIONNAIRE_VERSION

    assert put(patient, {"gad7": [0, 1]}).status_code == 200
    resumed = client_for(patient).get("/api/intake").json()
    assert resumed["id"] == body["id"]
    assert resumed["answers"] == {
        "medical_history": {"mania": False},
        "phq9": [1, 2, None],
        "gad7": [0, 1],
    }
    cleared = put(patient, {"phq9": None}).json()
    assert "phq9" not in cleared["answers"]
    assert Intake.objects.count() == 1
    events = AuditEvent.objects.filter(object_type="patients.intake").order_by("id")
    assert list(events.values_list("action", flat=True)) == ["create", "update", "read", "update"]


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"phq9": [0, 0, 0, 4]}, "answers.phq9.3"),
        ({"phq9": [0, 0, 0, True]}, "answers.phq9.3"),
        ({"phq9": [0, 0, 0, 1.5]}, "answers.phq9.3"),
        ({"phq9": "0,0,0"}, "answers.phq9"),
        ({"phq9": [0] * 10}, "answers.phq9"),
        ({"gad7": [0, -1]}, "answers.gad7.1"),
        ({"audit_c": [0, 5]}, "answers.audit_c.1"),
        ({"dast10": [1]}, "answers.dast10.0"),
        ({"medical_history": {"gout": True}}, "answers.medical_history.gout"),
        ({"medical_history": {"mania": "no"}}, "answers.medical_history.mania"),
        ({"medical_history": ["mania"]}, "answers.medical_history"),
        ({"medications": {"classes": {"opioids": 1}}}, "answers.medications.classes.opioids"),
        ({"medications": {"other": ["ok", "  "]}}, "answers.medications.other.1"),
        ({"medications": {"brand": "x"}}, "answers.medications.brand"),
        ({"allergies": "none"}, "answers.allergies"),
        ({"allergies": ["x" * 201]}, "answers.allergies.0"),
        ({"pregnant_or_breastfeeding": "no"}, "answers.pregnant_or_breastfeeding"),
        ({"vitals": {"systolic": 400}}, "answers.vitals.systolic"),
        ({"vitals": {"systolic": 120.5}}, "answers.vitals.systolic"),
        ({"vitals": {"height_cm": "tall"}}, "answers.vitals.height_cm"),
        ({"vitals": {"systolic": 90, "diastolic": 95}}, "answers.vitals.diastolic"),
        ({"cssrs": {"items": [False, 1]}}, "answers.cssrs.items.1"),
        ({"cssrs": {"lifetime_behavior": "no"}}, "answers.cssrs.lifetime_behavior"),
        ({"favorite_color": "teal"}, "answers.favorite_color"),
        ([1, 2], "answers"),
    ],
)
def test_bad_answers_are_field_errors_and_save_nothing(patient, answers, field):
    response = put(patient, answers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["fields"], error
    assert not Intake.objects.exists()


def test_unknown_top_level_field_is_refused(patient):
    response = client_for(patient).put("/api/intake", {"answers": {}, "x": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"x": ["Unknown field."]}


def test_a_record_is_needed_first():
    newcomer = UserFactory(role="patient")
    response = put(newcomer, {"phq9": [0]})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_record"


# --- submitting --------------------------------------------------------------------------


def test_submit_names_every_missing_and_invalid_answer(patient):
    partial = complete_intake_answers(phq9=[1, 1, 1], medical_history={"mania": False})
    del partial["gad7"]
    put(patient, partial)
    response = submit(patient)
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields["answers.gad7"] == ["This section is required."]
    assert {f"answers.phq9.{i}" for i in range(3, 9)} <= set(fields)
    assert "answers.phq9.0" not in fields
    missing_conditions = {f"answers.medical_history.{c}" for c in CONDITIONS if c != "mania"}
    assert missing_conditions <= set(fields)
    intake = Intake.objects.get()
    assert intake.status == IntakeStatus.DRAFT
    assert intake.screening is None


def test_submit_without_an_intake_is_404(patient):
    response = submit(patient)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_intake"


def test_eligible_intake_is_scored_screened_and_waits_for_review(patient):
    put(patient, complete_intake_answers())
    response = submit(patient)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "submitted"
    assert body["editable"] is False
    assert body["submitted_at"]
    assert body["crisis_resources"] is None
    assert body["screening"]["outcome"] == "eligible_pending_review"
    assert body["screening"]["reasons"] == []

    intake = Intake.objects.get()
    assert intake.ruleset_version == screening.CURRENT_RULESET
    stored = intake.screening
    assert stored["ruleset_version"] == screening.CURRENT_RULESET
    assert stored["outcome"] == "eligible_pending_review"
    assert stored["urgent_safety"] is False
    scores = stored["scores"]
    assert (scores["phq9"]["total"], scores["phq9"]["band"]) == (12, "moderate")
    assert (scores["gad7"]["total"], scores["gad7"]["band"]) == (6, "mild")
    assert scores["dast10"]["total"] == 0
    assert scores["audit_c"] == {
        "total": 1,
        "threshold": 3,
        "positive": False,
        "version": "2026-11-1",
    }
    assert scores["cssrs"]["risk"] == "low"
    assert scores["bmi"] == 23.7
    assert stored["input"] == {
        "age": intake.screening["input"]["age"],
        "state": "FL",
        "sex_at_birth": "female",
    }
    assert not SafetyFlag.objects.exists()
    assert not Message.objects.exists()


def test_review_reasons_give_needs_review(patient):
    answers = complete_intake_answers(
        medications={
            "classes": dict.fromkeys(MEDICATION_CLASSES, False) | {"lamotrigine": True},
            "other": [],
        },
        vitals={"systolic": 142, "diastolic": 80, "height_cm": 165, "weight_kg": 60},
    )
    put(patient, answers)
    body = submit(patient).json()
    assert body["status"] == "submitted"
    assert body["screening"]["outcome"] == "needs_review"
    codes = [r["code"] for r in body["screening"]["reasons"]]
    assert codes == ["blood_pressure_raised", "medication.lamotrigine"]
    assert {r["kind"] for r in body["screening"]["reasons"]} == {"review"}


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        (with_condition("bipolar_i"), "condition.bipolar_i"),
        (complete_intake_answers(pregnant_or_breastfeeding=True), "pregnant_or_breastfeeding"),
        (
            complete_intake_answers(
                vitals={"systolic": 165, "diastolic": 85, "height_cm": 170, "weight_kg": 70}
            ),
            "blood_pressure_uncontrolled",
        ),
        (complete_intake_answers(phq9=[1] * 8 + [0], gad7=[1] * 7), "symptoms_below_threshold"),
    ],
)
def test_hard_stop_is_not_eligible_but_still_goes_to_a_physician(patient, answers, code):
    put(patient, answers)
    body = submit(patient).json()
    assert body["screening"]["outcome"] == "not_eligible"
    assert code in [r["code"] for r in body["screening"]["reasons"] if r["kind"] == "hard_stop"]
    assert Intake.objects.get().status == IntakeStatus.SUBMITTED  # the physician declines


def test_alcohol_threshold_uses_sex_at_birth_from_the_record(patient):
    patient.patient.sex_at_birth = "male"
    patient.patient.save()
    put(patient, complete_intake_answers(audit_c=[1, 1, 1]))  # 3: positive for women, not men
    body = submit(patient).json()
    assert body["screening"]["outcome"] == "eligible_pending_review"
    assert Intake.objects.get().screening["scores"]["audit_c"]["threshold"] == 4


def test_self_harm_answer_raises_a_flag_alerts_physicians_and_returns_crisis_resources(
    patient, physician, fl_only_physician, nj_only_physician
):
    put(patient, complete_intake_answers(phq9=[2, 2, 1, 1, 1, 2, 1, 2, 1]))
    response = submit(patient)
    assert response.status_code == 200
    body = response.json()
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert body["status"] == "submitted"
    intake = Intake.objects.get()
    assert intake.screening["urgent_safety"] is True

    flag = SafetyFlag.objects.get()
    assert (flag.kind, flag.source, flag.source_id) == (
        "self_harm_thoughts",
        "intake",
        intake.public_id,
    )
    assert flag.patient == patient.patient
    assert flag.resolved_at is None

    alerts = Message.objects.filter(template_key="review_alert")
    assert {m.recipient_id for m in alerts} == {physician.user_id, fl_only_physician.user_id}
    for message in alerts:
        assert (message.channel, message.category, message.urgent) == ("email", "care", True)
        assert message.dedupe_key == f"safety:{flag.public_id}:{message.recipient_id}"
        assert message.context == {"path": f"/review/safety-flags/{flag.public_id}"}
    assert AuditEvent.objects.filter(object_type="patients.safetyflag", action="create").exists()

    # The patient sees the crisis resources again when they come back.
    assert client_for(patient).get("/api/intake").json()["crisis_resources"] == CRISIS_RESOURCES


def test_cssrs_intent_is_a_hard_stop_and_an_urgent_flag(patient, physician):
    put(
        patient,
        complete_intake_answers(
            cssrs={"items": [True, True, False, True, False, False], "lifetime_behavior": False}
        ),
    )
    body = submit(patient).json()
    assert body["screening"]["outcome"] == "not_eligible"
    assert body["crisis_resources"] == CRISIS_RESOURCES
    kinds = set(SafetyFlag.objects.values_list("kind", flat=True))
    assert kinds == {"suicidal_intent_or_plan", "suicidal_thoughts"}
    assert Message.objects.filter(template_key="review_alert").count() == 2  # one per flag


@pytest.mark.parametrize(
    "answers",
    [
        {"phq9": [0, 0, 0, 0, 0, 0, 0, 0, 1]},  # item 9 alone, nothing else answered yet
        {"phq9": [None] * 8 + [3]},
        {"cssrs": {"items": [False, False, False, True]}},  # intent
        {"cssrs": {"items": [False, False, False, False, True]}},  # plan
        {"cssrs": {"items": [False] * 5 + [True], "lifetime_behavior": False}},  # behavior
        {"cssrs": {"items": [True]}},  # wish to be dead: urgent at submission too
    ],
)
def test_a_draft_showing_self_harm_risk_returns_crisis_resources_at_once(
    patient, physician, answers
):
    response = put(patient, answers)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "draft"
    assert response.json()["crisis_resources"] == CRISIS_RESOURCES
    assert client_for(patient).get("/api/intake").json()["crisis_resources"] == CRISIS_RESOURCES
    # No flag, no alert until submission.
    assert not SafetyFlag.objects.exists()
    assert not Message.objects.filter(template_key="review_alert").exists()


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"phq9": [3, 3, 3, 3, 3, 3, 3, 3, 0]},
        {"phq9": [3, 3, 3, None]},
        {"cssrs": {"items": [False, False, True, False, False, False]}},  # method alone
        {"cssrs": {"lifetime_behavior": True}},  # longer ago: review, not urgent
    ],
)
def test_a_draft_without_self_harm_answers_has_no_crisis_resources(patient, answers):
    response = put(patient, answers)
    assert response.status_code == 200, response.json()
    assert response.json()["crisis_resources"] is None


def test_past_behavior_alone_is_review_without_a_flag(patient, physician):
    put(patient, complete_intake_answers(cssrs={"items": [False] * 6, "lifetime_behavior": True}))
    body = submit(patient).json()
    assert body["screening"]["outcome"] == "needs_review"
    assert body["crisis_resources"] is None
    assert not SafetyFlag.objects.exists()


def test_second_submit_is_409_and_changes_nothing(patient):
    put(patient, complete_intake_answers())
    assert submit(patient).status_code == 200
    before = Intake.objects.values().get()
    events = AuditEvent.objects.count()
    again = submit(patient)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "intake_not_editable"
    assert Intake.objects.values().get() == before
    assert AuditEvent.objects.count() == events


def test_submitted_answers_cannot_be_edited(patient):
    put(patient, complete_intake_answers())
    submit(patient)
    response = put(patient, {"phq9": [0] * 9})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "intake_not_editable"
    assert Intake.objects.get().answers["phq9"] == complete_intake_answers()["phq9"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_submit_once(patient):
    put(patient, complete_intake_answers(phq9=[2, 2, 1, 1, 1, 2, 1, 2, 1]))
    clients = [client_for(patient) for _ in range(2)]
    start = threading.Barrier(2)
    codes: list[int] = []

    def go(client: Any) -> None:
        try:
            start.wait()
            codes.append(client.post("/api/intake/submit", {}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(codes) == [200, 409]
    assert SafetyFlag.objects.count() == 1


# --- the old spelling of lifetime_behavior ------------------------------------------------

PAST_BEHAVIOR = {"items": [False] * 6, "lifetime_behavior": True}
PAST_BEHAVIOUR_OLD_KEY = {"items": [False] * 6, "lifetime_behaviour": True}


def test_the_old_key_lifetime_behaviour_is_accepted_and_stored_as_lifetime_behavior(patient):
    response = put(patient, {"cssrs": PAST_BEHAVIOUR_OLD_KEY})
    assert response.status_code == 200, response.json()
    assert response.json()["answers"]["cssrs"] == PAST_BEHAVIOR
    assert Intake.objects.get().answers["cssrs"] == PAST_BEHAVIOR


def test_a_draft_stored_with_the_old_key_submits_and_is_frozen_with_the_new_one(patient):
    intake_save_draft(patient=patient.patient, answers=complete_intake_answers())
    intake = Intake.objects.get()
    intake.answers = {**intake.answers, "cssrs": PAST_BEHAVIOUR_OLD_KEY}
    intake.save()
    assert submit(patient).status_code == 200
    intake = Intake.objects.get()
    assert intake.answers["cssrs"] == PAST_BEHAVIOR
    assert "past_suicidal_behavior" in [r["code"] for r in intake.screening["reasons"]]


def test_a_screening_stored_with_the_old_keys_reads_and_rescreens_the_same(patient):
    intake = submitted_intake(patient, complete_intake_answers(cssrs=PAST_BEHAVIOR))
    expected = intake_rescreen(intake)
    assert expected["outcome"] == "needs_review"  # past behavior: for a physician
    document = copy.deepcopy(intake.screening)
    cssrs = document["scores"]["cssrs"]
    cssrs["lifetime_behaviour"] = cssrs.pop("lifetime_behavior")
    cssrs["recent_behaviour"] = cssrs.pop("recent_behavior")
    intake.screening = document
    intake.answers = {**intake.answers, "cssrs": PAST_BEHAVIOUR_OLD_KEY}
    intake.save()

    stored = Intake.objects.get(pk=intake.pk)
    assert intake_rescreen(stored) == expected
    assert intake_answers(stored)["cssrs"] == PAST_BEHAVIOR
    document = intake_screening(stored)
    assert document is not None
    cssrs_scores = document["scores"]["cssrs"]
    assert (cssrs_scores["lifetime_behavior"], cssrs_scores["recent_behavior"]) == (True, False)


# --- re-screening ------------------------------------------------------------------------


def test_rescreen_gives_the_stored_answer_even_after_a_new_rule_set(patient, monkeypatch):
    intake = submitted_intake(patient, complete_intake_answers(phq9=[1] * 8 + [0], gad7=[2] * 7))
    stored = {k: intake.screening[k] for k in ("ruleset_version", "outcome", "reasons")}
    assert stored["outcome"] == "eligible_pending_review"
    assert intake_rescreen(Intake.objects.get(pk=intake.pk)) == stored

    def stricter(inp: screening.ScreeningInput) -> screening.ScreeningDecision:
        reasons = [screening.Reason("symptoms_below_threshold", "hard_stop", "stricter")]
        return screening.ScreeningDecision("not_eligible", "2099-1-1", tuple(reasons))

    monkeypatch.setattr(screening, "RULESETS", {**screening.RULESETS, "2099-1-1": stricter})
    monkeypatch.setattr(screening, "CURRENT_RULESET", "2099-1-1")
    # The old intake still answers with its own version...
    assert intake_rescreen(Intake.objects.get(pk=intake.pk)) == stored
    # ...while a new submission uses the new one.
    newcomer = PatientFactory().user
    fresh = submitted_intake(newcomer, complete_intake_answers())
    assert (fresh.ruleset_version, fresh.screening["outcome"]) == ("2099-1-1", "not_eligible")


def test_rescreen_uses_the_stored_scores_not_todays_scorers(patient, monkeypatch):
    intake = submitted_intake(patient, complete_intake_answers(phq9=[2, 2, 1, 1, 1, 2, 1, 2, 0]))
    stored = {k: intake.screening[k] for k in ("ruleset_version", "outcome", "reasons")}
    assert stored["outcome"] == "eligible_pending_review"  # PHQ-9 12, GAD-7 6
    real = scoring.score_phq9

    def rescaled(answers: Any) -> scoring.Phq9Result:  # a changed scorer: totals halve
        result = real(answers)
        return dataclasses.replace(result, total=result.total // 2, version="2099")

    monkeypatch.setattr(scoring, "score_phq9", rescaled)
    assert intake_rescreen(Intake.objects.get(pk=intake.pk)) == stored
    # The changed scorer would have given another answer had the answers been re-scored.
    fresh = submitted_intake(PatientFactory().user, complete_intake_answers())
    assert fresh.screening["outcome"] == "not_eligible"


def test_rescreen_keeps_the_age_and_state_of_the_submission(patient):
    intake = submitted_intake(patient)
    stored = intake_rescreen(intake)
    record = patient.patient
    record.state, record.county, record.date_of_birth = (
        "NJ",
        "Bergen",
        record.date_of_birth.replace(year=2015),
    )
    record.save()
    assert intake_rescreen(Intake.objects.get(pk=intake.pk)) == stored


# --- storage, access and audit -----------------------------------------------------------


def test_answers_and_screening_are_encrypted_at_rest(patient):
    submitted_intake(patient)
    with connection.cursor() as cursor:
        cursor.execute("SELECT answers, screening, screening_outcome FROM patients_intake")
        answers, document, outcome = cursor.fetchone()
    raw = " ".join((answers, document, outcome))
    for plaintext in ("sertraline", "penicillin", "eligible", "pending_review", "phq9"):
        assert plaintext not in raw
    assert crypto.decrypt(outcome) == "eligible_pending_review"


def test_submit_writes_the_outcome_column_with_the_document(patient):
    """The queue reads the outcome from its own column: every submission writes it, equal
    to the screening document's outcome, whatever that is."""
    put(patient, complete_intake_answers())
    assert Intake.objects.get().screening_outcome is None  # a draft: not screened
    assert submit(patient).status_code == 200
    intake = Intake.objects.get()
    assert intake.screening_outcome == intake.screening["outcome"] == "eligible_pending_review"
    for answers, outcome in [
        (with_condition("seizure_disorder"), "needs_review"),
        (with_condition("schizophrenia"), "not_eligible"),
        (
            complete_intake_answers(**{"phq9": [2, 2, 1, 1, 1, 2, 1, 2, 1]}),
            "needs_review",
        ),  # urgent
    ]:
        submitted = submitted_intake(PatientFactory().user, answers)
        stored = Intake.objects.get(pk=submitted.pk)
        assert stored.screening_outcome == stored.screening["outcome"] == outcome


def test_rotate_phi_keys_reencrypts_the_outcome_column(patient, settings):
    submitted_intake(patient)
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    try:
        call_command("rotate_phi_keys", stdout=io.StringIO())
        settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is retired
        intake = Intake.objects.get()
        assert intake.screening_outcome == intake.screening["outcome"] == "eligible_pending_review"
    finally:
        settings.FIELD_ENCRYPTION_KEYS = [old_key]


def _raw_outcomes() -> dict[int, str | None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, screening_outcome FROM patients_intake")
        return dict(cursor.fetchall())


def test_migration_backfills_the_outcome_column_from_the_document(monkeypatch):
    """patients/migrations/0005: intakes screened before the column existed get their
    document's outcome, encrypted; drafts stay empty; running it again changes nothing."""
    eligible = submitted_intake(PatientFactory().user)
    review = submitted_intake(PatientFactory().user, with_condition("seizure_disorder"))
    hard_stop = submitted_intake(PatientFactory().user, with_condition("schizophrenia"))
    draft = intake_save_draft(patient=PatientFactory(), answers={"phq9": [0]})
    Intake.objects.update(screening_outcome=None)  # as AddField leaves the existing rows
    monkeypatch.setattr(_outcome_migration, "BATCH_SIZE", 2)  # more than one batch
    schema_editor = SimpleNamespace(connection=connection)

    _outcome_migration.backfill_screening_outcomes(apps, schema_editor)

    assert dict(Intake.objects.values_list("pk", "screening_outcome")) == {
        eligible.pk: "eligible_pending_review",
        review.pk: "needs_review",
        hard_stop.pk: "not_eligible",
        draft.pk: None,
    }
    raw = _raw_outcomes()
    assert not any(
        plaintext in (token or "")
        for token in raw.values()
        for plaintext in ("eligible", "needs_review")
    )
    _outcome_migration.backfill_screening_outcomes(apps, schema_editor)
    assert _raw_outcomes() == raw  # filled rows are not rewritten


def test_reading_my_intake_is_audited(patient):
    intake = submitted_intake(patient)
    client_for(patient).get("/api/intake")
    read = AuditEvent.objects.get(action="read", object_type="patients.intake")
    assert (read.object_id, read.patient_id, read.actor_id) == (
        str(intake.public_id),
        patient.patient.public_id,
        patient.pk,
    )


def test_other_patient_never_sees_my_intake(patient, other_patient):
    submitted_intake(patient)
    response = client_for(other_patient).get("/api/intake")
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="read").exists()


def test_staff_and_anonymous_cannot_use_the_patient_intake(api, physician, ops_admin):
    assert api.get("/api/intake").status_code == 401
    assert api.put("/api/intake", {"answers": {}}, format="json").status_code == 401
    assert api.post("/api/intake/submit", {}, format="json").status_code == 401
    for user in (physician.user, ops_admin):
        client = client_for(user)
        assert client.get("/api/intake").status_code == 403
        assert client.put("/api/intake", {"answers": {}}, format="json").status_code == 403
        assert client.post("/api/intake/submit", {}, format="json").status_code == 403
        assert client.post("/api/intake/answer", {}, format="json").status_code == 403
