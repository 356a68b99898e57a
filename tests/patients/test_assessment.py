"""The free assessment: outcomes, crisis resources, bad input, throttling, lead capture, who
may call what."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.models import AuditEvent
from core.crypto import keyed_hash
from patients.api.assessment import AssessmentThrottle
from patients.assessment_questions import (
    HARD_STOP_CONDITIONS,
    LEAD_CONSENT_WORDING,
    NOT_SERVED_MESSAGE,
)
from patients.models import Assessment, Lead
from patients.screening import CRISIS_RESOURCES
from tests.actors import client_for
from tests.patients.support import (
    ASSESSMENTS_URL,
    GAD7_MINIMAL,
    PHQ9_MODERATE,
    assessment_body,
    assessment_post,
    error_fields,
)

pytestmark = pytest.mark.django_db
PHQ9_MILD = [1, 1, 1, 1, 1, 0, 0, 0, 0]  # 5
GAD7_MODERATE = [2, 2, 2, 2, 1, 1, 0]  # 10


def _raw(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return [" ".join(str(v) for v in row) for row in cursor.fetchall()]


# --- outcomes ------------------------------------------------------------------------------


def test_likely_eligible_is_stored_anonymously_with_a_claim_token_shown_once(api):
    response = assessment_post(api)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["outcome"] == "likely_eligible"
    assert body["reasons"] == []
    assert body["next_steps"]
    assert body["crisis_resources"] is None
    assert body["lead_saved"] is False
    assert response["Cache-Control"] == "no-store, private"
    token = body["claim_token"]
    assert len(token) >= 40

    assessment = Assessment.objects.get()
    assert assessment.outcome == "likely_eligible"
    assert assessment.state == "FL"
    assert assessment.ruleset_version == "2026-11-1"
    assert assessment.urgent_safety is False
    assert assessment.claim_token_hash == keyed_hash(token, purpose="assessment-claim")
    assert assessment.claimed_by is None
    # The anonymous outcome only: no answer, no age, no date of birth.
    assert not hasattr(assessment, "answers")
    assert not hasattr(assessment, "reason_codes")
    raw = " ".join(_raw("patients_assessment"))
    assert token not in raw
    assert "phq9" not in raw
    assert "1988" not in raw
    assert not Lead.objects.exists()


@pytest.mark.parametrize("code", sorted(HARD_STOP_CONDITIONS))
def test_each_hard_stop_condition_is_not_eligible(api, code):
    conditions = {c: c == code for c in HARD_STOP_CONDITIONS}
    body = assessment_post(api, conditions=conditions).json()
    assert body["outcome"] == "not_eligible"
    assert body["reasons"] == [
        "A condition in your medical history means at-home ketamine treatment would not be "
        "safe for you."
    ]
    assert body["crisis_resources"] is None
    raw = " ".join(_raw("patients_assessment"))
    assert code not in raw
    assert "condition" not in raw


# The hard stops of DOMAIN.md ("Screening and clinical safety"), written out by hand: the
# free assessment must ask each of them (pregnancy and current suicidal intent or plan are
# asked as their own questions).
DOMAIN_HARD_STOP_CONDITIONS = [
    "uncontrolled_hypertension",
    "aneurysmal_vascular_disease",
    "arteriovenous_malformation",
    "intracerebral_hemorrhage_history",
    "severe_cardiovascular_disease",
    "schizophrenia",
    "psychosis",
    "mania",
    "bipolar_i",
    "active_substance_use_disorder",
    "ketamine_misuse_history",
]


def test_the_questions_are_every_hard_stop_of_domain_md(api):
    assert sorted(HARD_STOP_CONDITIONS) == sorted(DOMAIN_HARD_STOP_CONDITIONS)
    body = api.get("/api/assessments/questions").json()
    assert sorted(c["code"] for c in body["conditions"]) == sorted(DOMAIN_HARD_STOP_CONDITIONS)
    assert {q["code"] for q in body["questions"]} == {
        "pregnant_or_breastfeeding",
        "suicidal_intent_or_plan",
    }


def test_pregnancy_or_breastfeeding_is_not_eligible(api):
    body = assessment_post(api, pregnant_or_breastfeeding=True).json()
    assert body["outcome"] == "not_eligible"
    assert any("pregnancy" in reason for reason in body["reasons"])


def test_under_18_is_not_eligible(api):
    body = assessment_post(api, date_of_birth="2015-01-01").json()
    assert body["outcome"] == "not_eligible"
    assert body["reasons"] == [
        "At-home ketamine treatment is only available to adults aged 18 or over."
    ]


def test_suicidal_intent_is_not_eligible_with_crisis_resources(api):
    body = assessment_post(api, suicidal_intent_or_plan=True).json()
    assert body["outcome"] == "not_eligible"
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert "988" in body["crisis_resources"]
    assert Assessment.objects.get().urgent_safety is True


def test_item_9_above_zero_needs_review_with_crisis_resources(api):
    phq9 = [*PHQ9_MODERATE[:8], 1]
    body = assessment_post(api, phq9=phq9).json()
    assert body["outcome"] == "needs_review"
    assert body["reasons"] == [
        "Your answers about your safety need a physician's review before treatment."
    ]
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert Assessment.objects.get().urgent_safety is True


def test_crisis_resources_come_whatever_else_the_outcome(api):
    conditions = {c: c == "schizophrenia" for c in HARD_STOP_CONDITIONS}
    body = assessment_post(api, conditions=conditions, phq9=[0, 0, 0, 0, 0, 0, 0, 0, 2]).json()
    assert body["outcome"] == "not_eligible"
    assert body["crisis_resources"] == CRISIS_RESOURCES
    texas = assessment_post(api, state="TX", phq9=[*PHQ9_MODERATE[:8], 3]).json()
    assert texas["outcome"] == "not_served"
    assert texas["crisis_resources"] == CRISIS_RESOURCES


def test_no_crisis_resources_without_self_harm(api):
    assert assessment_post(api, phq9=PHQ9_MILD).json()["crisis_resources"] is None


def test_below_threshold_is_not_eligible(api):
    body = assessment_post(api, phq9=PHQ9_MILD, gad7=GAD7_MINIMAL).json()
    assert body["outcome"] == "not_eligible"
    assert body["reasons"] == [
        "Your answers do not show the level of depression or anxiety symptoms this "
        "treatment is meant for."
    ]


def test_anxiety_alone_at_threshold_is_likely_eligible(api):
    assert (
        assessment_post(api, phq9=PHQ9_MILD, gad7=GAD7_MODERATE).json()["outcome"]
        == "likely_eligible"
    )


def test_negative_short_forms_are_below_threshold(api):
    payload = assessment_body(phq2=[1, 1], gad2=[0, 2])
    del payload["phq9"], payload["gad7"]
    response = api.post(ASSESSMENTS_URL, payload, format="json")
    assert response.status_code == 201
    assert response.json()["outcome"] == "not_eligible"
    assert Assessment.objects.get().outcome == "not_eligible"


def test_negative_short_form_with_the_other_full_form_above_threshold(api):
    payload = assessment_body(phq2=[0, 1], gad7=GAD7_MODERATE)
    del payload["phq9"]
    assert api.post(ASSESSMENTS_URL, payload, format="json").json()["outcome"] == "likely_eligible"


def test_not_served_outside_florida_and_new_jersey(api):
    response = assessment_post(api, state="tx")
    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "not_served"
    assert body["reasons"] == [NOT_SERVED_MESSAGE]
    assert any("not yet serving" in step for step in body["next_steps"])
    assessment = Assessment.objects.get()
    assert (assessment.state, assessment.outcome) == ("TX", "not_served")


def test_new_jersey_is_served(api):
    assert assessment_post(api, state="NJ").json()["outcome"] == "likely_eligible"


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        ({"phq2": [2, 1], "gad7": GAD7_MINIMAL}, ["phq9"]),
        ({"phq2": [3, 3], "gad2": [2, 2]}, ["phq9", "gad7"]),
        ({"phq9": PHQ9_MODERATE, "gad2": [1, 2]}, ["gad7"]),
    ],
)
def test_positive_short_form_asks_for_the_full_form_and_keeps_nothing(api, short, expected):
    payload = assessment_body()
    del payload["phq9"], payload["gad7"]
    response = api.post(ASSESSMENTS_URL, {**payload, **short}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "needs_full_form"
    assert body["full_forms_needed"] == expected
    assert body["claim_token"] is None
    assert body["crisis_resources"] is None
    assert not Assessment.objects.exists()


def test_positive_short_form_with_intent_still_gives_crisis_resources(api):
    payload = assessment_body(phq2=[3, 3], suicidal_intent_or_plan=True)
    del payload["phq9"]
    body = api.post(ASSESSMENTS_URL, payload, format="json").json()
    # Intent is a hard stop the full form cannot change: a decision, not another form.
    assert body["outcome"] == "not_eligible"
    assert body["crisis_resources"] == CRISIS_RESOURCES


def test_positive_short_form_with_a_hard_stop_is_decided_now(api):
    payload = assessment_body(phq2=[3, 3], pregnant_or_breastfeeding=True)
    del payload["phq9"]
    response = api.post(ASSESSMENTS_URL, payload, format="json")
    assert response.status_code == 201
    assert response.json()["outcome"] == "not_eligible"


def test_full_form_answers_the_positive_short_form(api):
    body = assessment_post(api, phq2=[2, 2], phq9=PHQ9_MODERATE).json()
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
        ({"favorite_color": "blue"}, "favorite_color"),
    ],
)
def test_bad_input_names_the_field(api, changes, field):
    fields = error_fields(assessment_post(api, **changes))
    assert field in fields, fields
    assert not Assessment.objects.exists()


def test_each_questionnaire_needs_a_short_or_full_form(api):
    payload = assessment_body()
    del payload["phq9"], payload["gad7"]
    fields = error_fields(api.post(ASSESSMENTS_URL, payload, format="json"))
    assert set(fields) == {"phq2", "gad2"}


@pytest.mark.parametrize("body", [[], "text", None, {"state": "FL"}])
def test_malformed_bodies_are_400(api, body):
    assert api.post(ASSESSMENTS_URL, body, format="json").status_code == 400


# --- throttling ----------------------------------------------------------------------------


def test_throttled_per_ip_at_the_configured_rate(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "assessment": "2/min",
        },
    }
    assert assessment_post(api).status_code == 201
    assert assessment_post(api).status_code == 201
    third = assessment_post(api)
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "throttled"
    assert int(third["Retry-After"]) > 0
    other_ip = api.post(ASSESSMENTS_URL, assessment_body(), format="json", REMOTE_ADDR="10.1.2.3")
    assert other_ip.status_code == 201
    assert Assessment.objects.count() == 3


def test_throttle_rate_comes_from_settings():
    assert AssessmentThrottle().get_rate() == "20/hour"


# --- lead capture --------------------------------------------------------------------------


def test_lead_with_marketing_consent_is_kept_with_time_source_and_wording(api):
    lead = {"email": "Sam@Example.test", "phone": "(305) 555-0199", "marketing_consent": True}
    response = assessment_post(api, state="GA", stay_informed=lead)
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
    assert assessment_post(api, stay_informed=lead).status_code == 201
    assert Lead.objects.get().phone == ""


@pytest.mark.parametrize(
    "lead",
    [
        {"email": "sam@example.test", "phone": "3055550199", "marketing_consent": False},
        {"email": "sam@example.test"},
        {"phone": "3055550199", "marketing_consent": "yes"},
    ],
)
def test_contact_details_without_consent_are_dropped_with_a_warning(api, lead):
    response = assessment_post(api, stay_informed=lead)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["outcome"] == "likely_eligible"
    assert body["lead_saved"] is False
    assert "stay_informed.marketing_consent" in body["lead_warnings"]
    assert _raw("patients_lead") == []
    raw = " ".join(_raw("patients_assessment"))
    assert "sam@example.test" not in raw
    assert "5550199" not in raw


@pytest.mark.parametrize(
    "lead",
    [
        {"email": "sam@example.test", "phone": "3055550199", "marketing_consent": False},
        {"email": "sam@example.test"},
        {"phone": "3055550199", "marketing_consent": "yes"},
        {"email": "not-an-email", "marketing_consent": True},
    ],
)
def test_a_bad_lead_never_withholds_the_crisis_resources(api, lead):
    response = assessment_post(api, suicidal_intent_or_plan=True, stay_informed=lead)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["outcome"] == "not_eligible"
    assert "988" in body["crisis_resources"]
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert body["lead_saved"] is False
    assert body["lead_warnings"]
    assert not Lead.objects.exists()
    assert Assessment.objects.get().urgent_safety is True


def test_consent_without_contact_details_is_dropped_with_a_warning(api):
    body = assessment_post(api, stay_informed={"marketing_consent": True}).json()
    assert body["lead_saved"] is False
    assert "stay_informed.email" in body["lead_warnings"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("lead", "field"),
    [
        ({"email": "not-an-email", "marketing_consent": True}, "stay_informed.email"),
        ({"phone": "555", "marketing_consent": True}, "stay_informed.phone"),
        ({"fax": "555", "marketing_consent": True}, "stay_informed.fax"),
    ],
)
def test_bad_contact_details_name_the_field(api, lead, field):
    response = assessment_post(api, stay_informed=lead)
    assert response.status_code == 201
    assert field in response.json()["lead_warnings"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"suicidal_intent_or_plan": True, "state": "ZZ"}, "state"),
        ({"suicidal_intent_or_plan": True, "conditions": {}}, "conditions.schizophrenia"),
        ({"phq9": [2, 2, 2, 1, 1, 1, 1, 1, 2], "date_of_birth": "someday"}, "date_of_birth"),
        ({"phq9": [9, 2, 2, 1, 1, 1, 1, 1, 1]}, "phq9.0"),  # item 9 fine, item 1 out of range
        ({"phq9": [2, 2, 2, 1, 1, 1, 1, 1, 5]}, "phq9.8"),  # item 9 itself out of range
        ({"suicidal_intent_or_plan": True, "gad7": None, "gad2": None}, "gad2"),
    ],
)
def test_an_answer_of_self_harm_gets_crisis_resources_with_the_field_errors(api, changes, field):
    response = assessment_post(api, **changes)
    assert response.status_code == 400, response.json()
    body = response.json()
    assert field in body["error"]["fields"]
    assert body["error"]["code"] == "invalid"
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert response["Cache-Control"] == "no-store, private"
    assert not Assessment.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"state": "ZZ"},
        {"suicidal_intent_or_plan": "yes", "state": "ZZ"},  # not an answer of true
        {"phq9": [2, 2, 2, 1, 1, 1, 1, 1], "state": "ZZ"},  # no ninth answer
        {"phq9": [2, 2, 2, 1, 1, 1, 1, 1, True], "state": "ZZ"},
    ],
)
def test_field_errors_without_an_answer_of_self_harm_carry_no_crisis_resources(api, changes):
    response = assessment_post(api, **changes)
    assert response.status_code == 400
    assert "crisis_resources" not in response.json()


def test_other_bad_input_is_still_a_400(api):
    lead = {"email": "sam@example.test", "marketing_consent": True}
    fields = error_fields(assessment_post(api, state="ZZ", stay_informed=lead))
    assert "state" in fields
    assert not Assessment.objects.exists()


def test_questions_list_every_condition_and_the_consent_wording(api):
    body = api.get("/api/assessments/questions").json()
    assert [c["code"] for c in body["conditions"]] == list(HARD_STOP_CONDITIONS)
    assert {i["code"] for i in body["instruments"]} == {"phq2", "phq9", "gad2", "gad7"}
    assert body["stay_informed_consent_wording"] == LEAD_CONSENT_WORDING
    assert {q["code"] for q in body["questions"]} == {
        "pregnant_or_breastfeeding",
        "suicidal_intent_or_plan",
    }


# --- who may call what ---------------------------------------------------------------------


def test_anyone_may_take_the_assessment(api, patient, physician, ops_admin):
    assert assessment_post(api).status_code == 201
    for user in (patient, physician.user, ops_admin):
        assert (
            client_for(user).post(ASSESSMENTS_URL, assessment_body(), format="json").status_code
            == 201
        )
    assert api.get("/api/assessments/questions").status_code == 200


def test_raw_assessment_table_holds_no_answer_and_no_clinical_code(api):
    conditions = {c: c == "schizophrenia" for c in HARD_STOP_CONDITIONS}
    assessment_post(
        api,
        conditions=conditions,
        suicidal_intent_or_plan=True,
        pregnant_or_breastfeeding=True,
        phq9=[3, 3, 3, 3, 3, 3, 3, 3, 3],
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM patients_assessment")
        columns = [c.name for c in cursor.description]
    assert "answers" not in columns
    assert "reason_codes" not in columns
    raw = " ".join(_raw("patients_assessment"))
    for clinical in ("schizophrenia", "suicidal", "self_harm", "pregnan", "phq9", "condition"):
        assert clinical not in raw
    assert "1988" not in raw
    assert Assessment.objects.get().urgent_safety is True
