"""The free assessment ("see if you qualify"): anonymous questions and answer, and the
claim of an assessment by the patient who registers afterwards."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts.permissions import IsPatient, user_of
from core.api import ErrorSerializer, StrictSerializer, error_fields, error_responses
from core.clock import practice_today
from core.errors import ValidationFailed
from core.text import BirthDateField
from patients import assessment_questions as questions
from patients.api.fields import UsPhoneField
from patients.assessment_questions import NEEDS_FULL_FORM
from patients.models import AssessmentOutcome
from patients.scoring import GAD2, GAD7, PHQ2, PHQ9, SHORT_FORM_POSITIVE_MIN, Instrument
from patients.screening import CRISIS_RESOURCES
from patients.services import assessment as services


class AssessmentThrottle(AnonRateThrottle):
    """Per client IP. The rate is REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["assessment"],
    read on each request (so tests can lower it)."""

    scope = "assessment"

    def get_rate(self) -> str | None:
        return str(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope])


# --- input -----------------------------------------------------------------------------------


class YesNoField(serializers.BooleanField):
    """true or false only: no "yes", 1 or "on" guessing."""

    default_error_messages = {"invalid": "Must be yes (true) or no (false)."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class UsStateField(serializers.CharField):
    default_error_messages = {"invalid_state": "Enter a two-letter US state code, e.g. FL."}

    def to_internal_value(self, data: Any) -> str:
        code = super().to_internal_value(data).strip().upper()
        if code not in questions.US_STATE_CODES:
            self.fail("invalid_state")
        return code


def _answers(instrument: Instrument, help_text: str) -> serializers.ListField:
    top = instrument.item_max
    return serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=top),
        min_length=len(instrument.items),
        max_length=len(instrument.items),
        required=False,
        help_text=f"{instrument.name}: {len(instrument.items)} answers, each 0-{top}. " + help_text,
    )


HardStopConditionsIn: type[StrictSerializer] = type(
    "HardStopConditionsIn",
    (StrictSerializer,),
    {code: YesNoField(help_text=label) for code, label in questions.HARD_STOP_CONDITIONS.items()},
)


class StayInformedIn(StrictSerializer):
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = UsPhoneField(max_length=32, required=False, allow_blank=True)
    marketing_consent = YesNoField(
        required=False,
        help_text="Must be true to keep any contact detail; the wording shown is "
        f"LEAD_CONSENT_WORDING: “{questions.LEAD_CONSENT_WORDING}”",
    )


class AssessmentIn(StrictSerializer):
    state = UsStateField(max_length=2, help_text="Two-letter US state code")
    date_of_birth = BirthDateField()
    conditions = HardStopConditionsIn(
        help_text="Yes/no for each condition (the codes of GET /api/assessments/questions)."
    )
    pregnant_or_breastfeeding = YesNoField()
    suicidal_intent_or_plan = YesNoField(help_text=questions.SUICIDAL_INTENT_QUESTION)
    phq2 = _answers(PHQ2, "Give this or the full PHQ-9.")
    phq9 = _answers(PHQ9, "Required when the PHQ-2 is positive (3 or more).")
    gad2 = _answers(GAD2, "Give this or the full GAD-7.")
    gad7 = _answers(GAD7, "Required when the GAD-2 is positive (3 or more).")
    stay_informed = StayInformedIn(
        required=False,
        allow_null=True,
        help_text="Optional: email and/or phone, kept only with marketing_consent true.",
    )

    def validate_date_of_birth(self, value: Any) -> Any:
        today = practice_today()
        if value > today:
            raise serializers.ValidationError("Date of birth is in the future.")
        if today.year - value.year > 120:
            raise serializers.ValidationError("Enter your real date of birth.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = {}
        for short, full in ((PHQ2, PHQ9), (GAD2, GAD7)):
            if attrs.get(short.code) is None and attrs.get(full.code) is None:
                errors[short.code] = [f"Answer the {short.name} or the full {full.name}."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# --- output ----------------------------------------------------------------------------------


class AssessmentOut(serializers.Serializer):
    # Plain strings in the schema: "outcome" names other choice sets elsewhere in the API.
    outcome = serializers.CharField(
        help_text="One of: " + ", ".join([*AssessmentOutcome.values, NEEDS_FULL_FORM]) + "."
    )
    reasons = serializers.ListField(
        child=serializers.CharField(), help_text="Why, in words a patient can read; no scores."
    )
    next_steps = serializers.ListField(child=serializers.CharField())
    crisis_resources = serializers.CharField(
        allow_null=True,
        help_text="988 Suicide & Crisis Lifeline: present whenever an answer shows self-harm.",
    )
    full_forms_needed = serializers.ListField(
        child=serializers.CharField(),
        help_text="With needs_full_form: the full questionnaires to answer next.",
    )
    claim_token = serializers.CharField(
        allow_null=True,
        help_text="Shown once and never again: a later registration claims the assessment "
        "with it. Null with needs_full_form (nothing is stored).",
    )
    lead_saved = serializers.BooleanField()
    lead_warnings = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Why the stay-informed details were not kept, by field "
        "(e.g. `stay_informed.marketing_consent`); empty when they were kept or not given. "
        "A lead problem never withholds the decision or the crisis resources.",
    )


class AssessmentErrorOut(ErrorSerializer):
    crisis_resources = serializers.CharField(
        required=False,
        help_text="988 Suicide & Crisis Lifeline: present whenever an answer shows self-harm, "
        "even among invalid answers.",
    )


def _validated(request: Request) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The validated answers, and the stay-informed problems as warnings. When the only
    invalid part is `stay_informed`, the answers are still scored (with the lead dropped),
    so a person who shows self-harm always receives the crisis resources."""
    data = AssessmentIn(data=request.data)
    if data.is_valid():
        return data.validated_data, {}
    body = request.data
    if not isinstance(body, dict) or set(data.errors) != {"stay_informed"}:
        raise serializers.ValidationError(data.errors)
    warnings = error_fields(data.errors)
    without_lead = AssessmentIn(data={k: v for k, v in body.items() if k != "stay_informed"})
    without_lead.is_valid(raise_exception=True)
    return without_lead.validated_data, warnings


def _result_body(result: services.AssessmentResult) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "reasons": list(result.reasons),
        "next_steps": list(result.next_steps),
        "crisis_resources": result.crisis_resources,
        "full_forms_needed": list(result.full_forms_needed),
        "claim_token": result.claim_token,
        "lead_saved": result.lead_saved,
        "lead_warnings": dict(result.lead_warnings),
    }


class AssessmentCreateView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AssessmentThrottle]

    @extend_schema(
        request=AssessmentIn,
        responses={
            201: OpenApiResponse(
                AssessmentOut,
                description="A decision; the assessment is kept. Stay-informed details "
                "that cannot be kept (no consent, no contact, a bad email or phone) are "
                "dropped: `lead_saved` false and the reasons in `lead_warnings`.",
            ),
            200: OpenApiResponse(
                AssessmentOut,
                description="needs_full_form: nothing is kept; ask the full questionnaire.",
            ),
            400: OpenApiResponse(
                AssessmentErrorOut,
                description="Invalid input; `error.fields` names each field and the reason. "
                "When an answer shows self-harm (current intent or plan, or PHQ-9 item 9 above "
                "0), `crisis_resources` comes with the errors.",
            ),
            **error_responses(413, 429),
        },
        summary="Free assessment: see if you may qualify (anonymous)",
        auth=[],
    )
    def post(self, request: Request) -> Response:
        try:
            return self._assess(request)
        except (serializers.ValidationError, ValidationFailed) as exc:
            # Whatever else is wrong, an answer of self-harm gets the crisis resources.
            response = self.handle_exception(exc)
            if questions.raw_answers_show_self_harm(request.data):
                response.data["crisis_resources"] = CRISIS_RESOURCES
                response["Cache-Control"] = "no-store"
            return response

    def _assess(self, request: Request) -> Response:
        v, warnings = _validated(request)
        lead = v.get("stay_informed")
        result = services.assessment_submit(
            answers=questions.AssessmentAnswers(
                state=v["state"],
                date_of_birth=v["date_of_birth"],
                conditions=v["conditions"],
                pregnant_or_breastfeeding=v["pregnant_or_breastfeeding"],
                suicidal_intent_or_plan=v["suicidal_intent_or_plan"],
                phq2=v.get("phq2"),
                gad2=v.get("gad2"),
                phq9=v.get("phq9"),
                gad7=v.get("gad7"),
            ),
            lead=services.LeadContact(
                email=lead.get("email", "").strip().lower(),
                phone=lead.get("phone", ""),
                marketing_consent=lead.get("marketing_consent", False),
            )
            if lead is not None
            else None,
            today=practice_today(),
        )
        code = status.HTTP_200_OK if result.assessment is None else status.HTTP_201_CREATED
        body = _result_body(result)
        body["lead_warnings"] = {**warnings, **body["lead_warnings"]}
        return Response(
            AssessmentOut(body).data,
            status=code,
            headers={"Cache-Control": "no-store"},
        )


# --- the questions ---------------------------------------------------------------------------


class AssessmentQuestionOut(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()


class AssessmentInstrumentOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    items = serializers.ListField(child=serializers.CharField())
    options = serializers.ListField(
        child=serializers.CharField(), help_text="Answer labels; the label at n is worth n."
    )


class AssessmentQuestionsOut(serializers.Serializer):
    conditions = AssessmentQuestionOut(many=True, help_text="Answer each yes or no (`conditions`).")
    questions = AssessmentQuestionOut(many=True, help_text="Top-level yes/no questions.")
    instruments = AssessmentInstrumentOut(many=True)
    short_form_positive_min = serializers.IntegerField()
    stay_informed_consent_wording = serializers.CharField()


def _instrument(instrument: Instrument) -> dict[str, Any]:
    return {
        "code": instrument.code,
        "name": instrument.name,
        "items": list(instrument.items),
        "options": list(instrument.options[0]),
    }


class AssessmentQuestionsView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    @extend_schema(
        responses={200: AssessmentQuestionsOut, **error_responses(429)},
        summary="The free assessment's questions and the stay-informed consent wording",
        auth=[],
    )
    def get(self, request: Request) -> Response:
        body = {
            "conditions": [
                {"code": code, "text": label}
                for code, label in questions.HARD_STOP_CONDITIONS.items()
            ],
            "questions": [
                {
                    "code": "pregnant_or_breastfeeding",
                    "text": questions.PREGNANT_OR_BREASTFEEDING_QUESTION,
                },
                {"code": "suicidal_intent_or_plan", "text": questions.SUICIDAL_INTENT_QUESTION},
            ],
            "instruments": [_instrument(i) for i in (PHQ2, PHQ9, GAD2, GAD7)],
            "short_form_positive_min": SHORT_FORM_POSITIVE_MIN,
            "stay_informed_consent_wording": questions.LEAD_CONSENT_WORDING,
        }
        return Response(AssessmentQuestionsOut(body).data)


# --- claim -----------------------------------------------------------------------------------


class ClaimIn(StrictSerializer):
    claim_token = serializers.CharField(max_length=128)


class ClaimedAssessmentOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    state = serializers.CharField()
    outcome = serializers.CharField(
        help_text="One of: " + ", ".join(AssessmentOutcome.values) + "."
    )
    created_at = serializers.DateTimeField()
    claimed_at = serializers.DateTimeField()


class AssessmentClaimView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=ClaimIn,
        responses={200: ClaimedAssessmentOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Claim my free assessment with its claim token (once)",
        description="404 `assessment_not_found`: no such token. 409 "
        "`assessment_already_claimed` (by you), `assessment_claimed` (by another account), "
        "`no_record` (complete your patient record first).",
    )
    def post(self, request: Request) -> Response:
        data = ClaimIn(data=request.data)
        data.is_valid(raise_exception=True)
        assessment = services.assessment_claim(
            user=user_of(request), claim_token=data.validated_data["claim_token"]
        )
        return Response(ClaimedAssessmentOut(assessment).data)


urlpatterns: list[URLPattern] = [
    path("assessments", AssessmentCreateView.as_view(), name="assessment-create"),
    path("assessments/questions", AssessmentQuestionsView.as_view(), name="assessment-questions"),
    path("assessments/claim", AssessmentClaimView.as_view(), name="assessment-claim"),
]
