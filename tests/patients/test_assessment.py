"""The free assessment: outcomes, crisis resources, throttling, lead capture and the claim."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.crypto import keyed_hash
from audit.models import AuditEvent
from notifications.models import Message
from patients.api.assessment import DEFAULT_ASSESSMENT_RATE, AssessmentThrottle
from patients.models import Assessment, Lead, SafetyFlag
from patients.screening import CONDITIONS, CRISIS_RESOURCES, HARD_STOP
from patients.services.assessment import (
    HARD_STOP_CONDITIONS,
    LEAD_CONSENT_WORDING,
    NOT_SERVED_MESSAGE,
)
from tests.actors import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/assessments"
CLAIM_URL = "/api/assessments/claim"

PHQ9_MODERATE = [2, 2, 2, 1, 1, 1, 1, 1, 0]  # 11, item 9 = 0
PHQ9_MILD = [1, 1, 1, 1, 1, 0, 0, 0, 0]  # 5
GAD7_MINIMAL = [1, 1, 1, 0, 0, 0, 0]  # 3
GAD7_MODERATE = [2, 2, 2, 2, 1, 1, 0]  # 10


def answers(**changes):
    base = {
        "state": "FL",
        "date_of_birth": "1988-04-02",
        "conditions": {code: False for code in HARD_STOP_CONDITIONS},
        "pregnant_or_breastfeeding": False,
        "suicidal_intent_or_plan": False,
        "phq9": PHQ9_MODERATE,
        "gad7": GAD7_MINIMAL,
    }
    return {**base, **changes}


def submit(api, **changes):
    return api.post(URL, answers(**changes), format="json")


def error_fields(response):
    assert 400 <= response.status_code < 500, response.content
    return response.json()["error"]["fields"]


def _raw(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return [" ".join(str(v) for v in row) for row in cursor.fetchall()]


# --- outcomes ------------------------------------------------------------------------------


def test_likely_eligible_is_stored_anonymously_with_a_claim_token_shown_once(api):
    response = submit(api)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["outcome"] == "likely_eligible"
    assert body["reasons"] == []
    assert body["next_steps"]
    assert body["crisis_resources"] is None
    assert body["lead_saved"] is False
    assert response["Cache-Control"] == "no-store"
    token = body["claim_token"]
    assert len(token) >= 40

    assessment = Assessment.objects.get()
    assert assessment.outcome == "likely_eligible"
    assert assessment.state == "FL"
    assert assessment.ruleset_version == "2026-11-1"
    assert assessment.reason_codes == []
    assert assessment.claim_token_hash == keyed_hash(token, purpose="assessment-claim")
    assert assessment.claimed_by is None
    # The age is kept, never the date of birth; the answers are encrypted at rest.
    assert assessment.answers["age"] >= 18
    assert "date_of_birth" not in assessment.answers
    assert assessment.answers["phq9"] == PHQ9_MODERATE
    raw = " ".join(_raw("patients_assessment"))
    assert token not in raw
    assert "phq9" not in raw
    assert "1988" not in raw
    assert not Lead.objects.exists()


@pytest.mark.parametrize("code", sorted(HARD_STOP_CONDITIONS))
def test_each_hard_stop_condition_is_not_eligible(api, code):
    conditions = {c: c == code for c in HARD_STOP_CONDITIONS}
    body = submit(api, conditions=conditions).json()
    assert body["outcome"] == "not_eligible"
    assert body["reasons"] == [
        "A condition in your medical history means at-home ketamine treatment would not be "
        "safe for you."
    ]
    assert body["crisis_resources"] is None
    assert f"condition.{code}" in Assessment.objects.get().reason_codes


def test_the_questions_are_every_hard_stop_of_the_catalog():
    hard_stops = {code for code, entry in CONDITIONS.items() if entry.kind == HARD_STOP}
    assert set(HARD_STOP_CONDITIONS) == hard_stops
    assert "uncontrolled_hypertension" in hard_stops
    assert "ketamine_misuse_history" in hard_stops


def test_pregnancy_or_breastfeeding_is_not_eligible(api):
    body = submit(api, pregnant_or_breastfeeding=True).json()
    assert body["outcome"] == "not_eligible"
    assert any("pregnancy" in reason for reason in body["reasons"])


def test_under_18_is_not_eligible(api):
    body = submit(api, date_of_birth="2015-01-01").json()
    assert body["outcome"] == "not_eligible"
    assert body["reasons"] == [
        "At-home ketamine treatment is only available to adults aged 18 or over."
    ]


def test_suicidal_intent_is_not_eligible_with_crisis_resources(api):
    body = submit(api, suicidal_intent_or_plan=True).json()
    assert body["outcome"] == "not_eligible"
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert "988" in body["crisis_resources"]
    assert "suicidal_intent_or_plan" in Assessment.objects.get().reason_codes


def test_item_9_above_zero_needs_review_with_crisis_resources(api):
    phq9 = [*PHQ9_MODERATE[:8], 1]
    body = submit(api, phq9=phq9).json()
    assert body["outcome"] == "needs_review"
    assert body["reasons"] == [
        "Your answers about your safety need a physician's review before treatment."
    ]
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert set(Assessment.objects.get().reason_codes) >= {"self_harm_thoughts", "urgent_safety"}


def test_crisis_resources_come_whatever_else_the_outcome(api):
    conditions = {c: c == "schizophrenia" for c in HARD_STOP_CONDITIONS}
    body = submit(api, conditions=conditions, phq9=[0, 0, 0, 0, 0, 0, 0, 0, 2]).json()
    assert body["outcome"] == "not_eligible"
    assert body["crisis_resources"] == CRISIS_RESOURCES
    texas = submit(api, state="TX", phq9=[*PHQ9_MODERATE[:8], 3]).json()
    assert texas["outcome"] == "not_served"
    assert texas["crisis_resources"] == CRISIS_RESOURCES


def test_no_crisis_resources_without_self_harm(api):
    assert submit(api, phq9=PHQ9_MILD).json()["crisis_resources"] is None


def test_below_threshold_is_not_eligible(api):
    body = submit(api, phq9=PHQ9_MILD, gad7=GAD7_MINIMAL).json()
    assert body["outcome"] == "not_eligible"
    assert body["reasons"] == [
        "Your answers do not show the level of depression or anxiety symptoms this "
        "treatment is meant for."
    ]


def test_anxiety_alone_at_threshold_is_likely_eligible(api):
    assert submit(api, phq9=PHQ9_MILD, gad7=GAD7_MODERATE).json()["outcome"] == "likely_eligible"


def test_negative_short_forms_are_below_threshold(api):
    payload = answers(phq2=[1, 1], gad2=[0, 2])
    del payload["phq9"], payload["gad7"]
    response = api.post(URL, payload, format="json")
    assert response.status_code == 201
    assert response.json()["outcome"] == "not_eligible"
    assert "symptoms_below_threshold" in Assessment.objects.get().reason_codes


def test_negative_short_form_with_the_other_full_form_above_threshold(api):
    payload = answers(phq2=[0, 1], gad7=GAD7_MODERATE)
    del payload["phq9"]
    assert api.post(URL, payload, format="json").json()["outcome"] == "likely_eligible"


def test_not_served_outside_florida_and_new_jersey(api):
    response = submit(api, state="tx")
    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "not_served"
    assert body["reasons"] == [NOT_SERVED_MESSAGE]
    assert any("not yet serving" in step for step in body["next_steps"])
    assessment = Assessment.objects.get()
    assert (assessment.state, assessment.outcome) == ("TX", "not_served")


def test_new_jersey_is_served(api):
    assert submit(api, state="NJ").json()["outcome"] == "likely_eligible"


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        ({"phq2": [2, 1], "gad7": GAD7_MINIMAL}, ["phq9"]),
        ({"phq2": [3, 3], "gad2": [2, 2]}, ["phq9", "gad7"]),
        ({"phq9": PHQ9_MODERATE, "gad2": [1, 2]}, ["gad7"]),
    ],
)
def test_positive_short_form_asks_for_the_full_form_and_keeps_nothing(api, short, expected):
    payload = answers()
    del payload["phq9"], payload["gad7"]
    response = api.post(URL, {**payload, **short}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "needs_full_form"
    assert body["full_forms_needed"] == expected
    assert body["claim_token"] is None
    assert body["crisis_resources"] is None
    assert not Assessment.objects.exists()


def test_positive_short_form_with_intent_still_gives_crisis_resources(api):
    payload = answers(phq2=[3, 3], suicidal_intent_or_plan=True)
    del payload["phq9"]
    body = api.post(URL, payload, format="json").json()
    # Intent is a hard stop the full form cannot change: a decision, not another form.
    assert body["outcome"] == "not_eligible"
    assert body["crisis_resources"] == CRISIS_RESOURCES


def test_positive_short_form_with_a_hard_stop_is_decided_now(api):
    payload = answers(phq2=[3, 3], pregnant_or_breastfeeding=True)
    del payload["phq9"]
    response = api.post(URL, payload, format="json")
    assert response.status_code == 201
    assert response.json()["outcome"] == "not_eligible"


def test_full_form_answers_the_positive_short_form(api):
    body = submit(api, phq2=[2, 2], phq9=PHQ9_MODERATE).json()
    assert body["outcome"] == "likely_eligible"


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"state": "ZZ"}, "state"),
        ({"state": 12}, "state"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"date_of_birth": "yesterday"}, "date_of_birth"),
        ({"phq9": [1, 1, 1]}, "phq9"),
        ({"phq9": [0, 0, 0, 4, 0, 0, 0, 0, 0]}, "phq9.3"),
        ({"phq9": "lots"}, "phq9"),
        ({"gad7": [True, 0, 0, 0, 0, 0, 0]}, "gad7.0"),
        ({"phq2": [0, 0], "phq9": PHQ9_MODERATE}, "phq9"),
        ({"pregnant_or_breastfeeding": "yes"}, "pregnant_or_breastfeeding"),
        ({"suicidal_intent_or_plan": None}, "suicidal_intent_or_plan"),
        ({"conditions": {"schizophrenia": True}}, "conditions.psychosis"),
        (
            {"conditions": {**{c: False for c in HARD_STOP_CONDITIONS}, "flu": True}},
            "conditions.flu",
        ),
        (
            {"conditions": {**{c: False for c in HARD_STOP_CONDITIONS}, "mania": 1}},
            "conditions.mania",
        ),
        ({"conditions": ["mania"]}, "conditions.non_field_errors"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_bad_input_names_the_field(api, changes, field):
    fields = error_fields(submit(api, **changes))
    assert field in fields, fields
    assert not Assessment.objects.exists()


def test_each_questionnaire_needs_a_short_or_full_form(api):
    payload = answers()
    del payload["phq9"], payload["gad7"]
    fields = error_fields(api.post(URL, payload, format="json"))
    assert set(fields) == {"phq2", "gad2"}


@pytest.mark.parametrize("body", [[], "text", None, {"state": "FL"}])
def test_malformed_bodies_are_400(api, body):
    assert api.post(URL, body, format="json").status_code == 400


# --- throttling ----------------------------------------------------------------------------


def test_throttled_per_ip_at_the_configured_rate(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "assessment": "2/min",
        },
    }
    assert submit(api).status_code == 201
    assert submit(api).status_code == 201
    third = submit(api)
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "throttled"
    assert int(third["Retry-After"]) > 0
    other_ip = api.post(URL, answers(), format="json", REMOTE_ADDR="10.1.2.3")
    assert other_ip.status_code == 201
    assert Assessment.objects.count() == 3


def test_throttle_rate_falls_back_without_a_setting(settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates.pop("assessment", None)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert AssessmentThrottle().get_rate() == DEFAULT_ASSESSMENT_RATE == "20/hour"


# --- lead capture --------------------------------------------------------------------------


def test_lead_with_marketing_consent_is_kept_with_time_source_and_wording(api):
    lead = {"email": "Sam@Example.test", "phone": "(305) 555-0199", "marketing_consent": True}
    response = submit(api, state="GA", stay_informed=lead)
    assert response.status_code == 201, response.json()
    assert response.json()["lead_saved"] is True
    saved = Lead.objects.select_related("assessment").get()
    assert saved.assessment.outcome == "not_served"
    assert saved.email == "sam@example.test"
    assert saved.phone == "+13055550199"
    assert saved.phone_hash
    assert saved.consent_at is not None
    assert saved.consent_source == "assessment"
    assert saved.consent_wording == LEAD_CONSENT_WORDING
    raw = " ".join(_raw("patients_lead"))
    assert "sam@example.test" not in raw
    assert "5550199" not in raw
    assert AuditEvent.objects.filter(action="create", object_type="patients.lead").count() == 1


def test_lead_with_only_an_email_is_enough(api):
    lead = {"email": "only@example.test", "marketing_consent": True}
    assert submit(api, stay_informed=lead).status_code == 201
    assert Lead.objects.get().phone == ""


@pytest.mark.parametrize(
    "lead",
    [
        {"email": "sam@example.test", "phone": "3055550199", "marketing_consent": False},
        {"email": "sam@example.test"},
        {"phone": "3055550199", "marketing_consent": "yes"},
    ],
)
def test_contact_details_without_consent_are_refused_and_nothing_is_kept(api, lead):
    fields = error_fields(submit(api, stay_informed=lead))
    assert "stay_informed.marketing_consent" in fields
    assert _raw("patients_lead") == []
    assert _raw("patients_assessment") == []


def test_consent_without_contact_details_is_refused(api):
    fields = error_fields(submit(api, stay_informed={"marketing_consent": True}))
    assert "stay_informed.email" in fields
    assert not Assessment.objects.exists()


@pytest.mark.parametrize(
    ("lead", "field"),
    [
        ({"email": "not-an-email", "marketing_consent": True}, "stay_informed.email"),
        ({"phone": "555", "marketing_consent": True}, "stay_informed.phone"),
        ({"fax": "555", "marketing_consent": True}, "stay_informed.fax"),
    ],
)
def test_bad_contact_details_name_the_field(api, lead, field):
    assert field in error_fields(submit(api, stay_informed=lead))


def test_questions_list_every_condition_and_the_consent_wording(api):
    body = api.get("/api/assessments/questions").json()
    assert [c["code"] for c in body["conditions"]] == list(HARD_STOP_CONDITIONS)
    assert {i["code"] for i in body["instruments"]} == {"phq2", "phq9", "gad2", "gad7"}
    assert body["stay_informed_consent_wording"] == LEAD_CONSENT_WORDING
    assert {q["code"] for q in body["questions"]} == {
        "pregnant_or_breastfeeding",
        "suicidal_intent_or_plan",
    }


# --- claim ---------------------------------------------------------------------------------


@pytest.fixture
def token(api):
    return submit(api).json()["claim_token"]


def claim(user, token):
    return client_for(user).post(CLAIM_URL, {"claim_token": token}, format="json")


def test_patient_claims_their_assessment_once(patient, token):
    response = claim(patient, token)
    assert response.status_code == 200, response.json()
    body = response.json()
    assessment = Assessment.objects.get()
    assert body["id"] == str(assessment.public_id)
    assert body["outcome"] == "likely_eligible"
    assert assessment.claimed_by == patient.patient
    assert assessment.claimed_at is not None
    event = AuditEvent.objects.get(object_type="patients.assessment", outcome="success")
    assert (event.action, event.actor, event.patient_id) == (
        "update",
        patient,
        patient.patient.public_id,
    )

    again = claim(patient, token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "assessment_already_claimed"
    assert Assessment.objects.get().claimed_at == assessment.claimed_at


def test_someone_elses_claimed_token_is_refused(patient, other_patient, token):
    assert claim(patient, token).status_code == 200
    response = claim(other_patient, token)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "assessment_claimed"
    assert Assessment.objects.get().claimed_by == patient.patient
    denied = AuditEvent.objects.get(object_type="patients.assessment", outcome="denied")
    assert denied.actor == other_patient
    assert denied.detail == {"claimed": False, "reason": "assessment_claimed"}


def test_wrong_token_is_404(patient, token):
    response = claim(patient, token + "x")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "assessment_not_found"
    assert Assessment.objects.get().claimed_by is None
    assert AuditEvent.objects.filter(
        object_type="patients.assessment", outcome="denied", actor=patient
    ).exists()


def test_claim_needs_a_patient_record(token):
    user = UserFactory(role="patient")
    response = claim(user, token)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_record"


def test_claim_input_is_checked(patient):
    client = client_for(patient)
    assert "claim_token" in error_fields(client.post(CLAIM_URL, {}, format="json"))
    long = client.post(CLAIM_URL, {"claim_token": "x" * 500}, format="json")
    assert "claim_token" in error_fields(long)


def test_claiming_an_answer_of_self_harm_opens_a_safety_flag(api, patient, physician):
    token = submit(api, phq9=[*PHQ9_MODERATE[:8], 2]).json()["claim_token"]
    assert not SafetyFlag.objects.exists()  # anonymous: nobody to flag yet
    assert claim(patient, token).status_code == 200
    flag = SafetyFlag.objects.get()
    assessment = Assessment.objects.get()
    assert (flag.patient, flag.kind, flag.source, flag.source_id) == (
        patient.patient,
        "self_harm_thoughts",
        "assessment",
        assessment.public_id,
    )
    assert flag.resolved_at is None
    alert = Message.objects.get(recipient=physician.user)
    assert alert.template_key == "review_alert"
    assert alert.urgent
    assert AuditEvent.objects.filter(action="create", object_type="patients.safetyflag").exists()


def test_claiming_a_calm_assessment_opens_no_flag(patient, token):
    assert claim(patient, token).status_code == 200
    assert not SafetyFlag.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_link_the_assessment_once(api, patient, other_patient):
    token = submit(api).json()["claim_token"]
    start = threading.Barrier(2)
    codes: list[int] = []

    def attempt(user) -> None:
        try:
            start.wait()
            codes.append(claim(user, token).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in (patient, other_patient)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(codes) == [200, 409]
    assert Assessment.objects.filter(claimed_by__isnull=False).count() == 1


# --- who may call what ---------------------------------------------------------------------


def test_anyone_may_take_the_assessment(api, patient, physician, ops_admin):
    assert submit(api).status_code == 201
    for user in (patient, physician.user, ops_admin):
        assert client_for(user).post(URL, answers(), format="json").status_code == 201
    assert api.get("/api/assessments/questions").status_code == 200


def test_only_patients_claim(api, physician, ops_admin, token):
    assert api.post(CLAIM_URL, {"claim_token": token}, format="json").status_code == 401
    assert claim(physician.user, token).status_code == 403
    assert claim(ops_admin, token).status_code == 403
    assert Assessment.objects.get().claimed_by is None
