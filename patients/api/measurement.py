"""Ongoing measurement: PHQ-9/GAD-7 submissions and when they are due, mood, the trend,
and the clinical clearance."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPatient, user_of
from audit.models import AuditAction
from audit.services import PhiRead, audit_phi_reads, audit_record
from core.api import StrictSerializer, error_responses
from patients.clearance import patient_clearance
from patients.models import Instrument, Intake, QuestionnaireResponse
from patients.screening import CRISIS_RESOURCES
from patients.selectors.measurement import (
    clinical_patient_visible_to,
    interval_days,
    patient_trend,
    questionnaire_schedule,
)
from patients.selectors.own_record import own_record
from patients.services.measurement import mood_record, questionnaire_submit

# --- questionnaires ----------------------------------------------------------------------


class QuestionnaireSubmissionIn(StrictSerializer):
    instrument = serializers.ChoiceField(choices=Instrument.choices)
    answers = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="One score per item, in order (PHQ-9: 9 answers, GAD-7: 7), each 0-3.",
    )


class QuestionnaireSubmissionOut(serializers.Serializer):
    id = serializers.UUIDField()
    instrument = serializers.CharField()
    instrument_version = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    band = serializers.CharField()
    band_label = serializers.CharField()
    self_harm_flag = serializers.BooleanField(
        help_text="PHQ-9 item 9 above 0: a physician has been alerted."
    )
    crisis_resources = serializers.CharField(
        allow_null=True, help_text="Shown to the patient whenever self_harm_flag is true."
    )
    next_due_on = serializers.DateField(allow_null=True)


class QuestionnaireSubmitView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=QuestionnaireSubmissionIn,
        responses={201: QuestionnaireSubmissionOut, **error_responses(400, 401, 403, 409)},
        summary="Submit a PHQ-9 or GAD-7",
        description="Errors name the item: `answers.3` is the fourth answer (0-based).",
    )
    def post(self, request: Request) -> Response:
        patient = own_record(user_of(request))
        data = QuestionnaireSubmissionIn(data=request.data)
        data.is_valid(raise_exception=True)
        submission = questionnaire_submit(
            patient=patient,
            instrument=data.validated_data["instrument"],
            answers=data.validated_data["answers"],
        )
        response, result = submission.response, submission.result
        next_due = next(
            item.due_on
            for item in questionnaire_schedule(patient)
            if item.instrument == response.instrument
        )
        body = {
            "id": response.public_id,
            "instrument": response.instrument,
            "instrument_version": response.instrument_version,
            "submitted_at": response.submitted_at,
            "total": result.total,
            "band": result.band,
            "band_label": result.band_label,
            "self_harm_flag": submission.self_harm,
            "crisis_resources": CRISIS_RESOURCES if submission.self_harm else None,
            "next_due_on": next_due,
        }
        return Response(QuestionnaireSubmissionOut(body).data, status=201)


class InstrumentDueOut(serializers.Serializer):
    instrument = serializers.CharField()
    name = serializers.CharField()
    due = serializers.BooleanField()
    due_on = serializers.DateField(
        allow_null=True, help_text="In the patient's time zone; null if never answered."
    )
    days_overdue = serializers.IntegerField()
    last_submitted_at = serializers.DateTimeField(allow_null=True)


class QuestionnairesDueOut(serializers.Serializer):
    interval_days = serializers.IntegerField()
    instruments = InstrumentDueOut(many=True)


class QuestionnairesDueView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        responses={200: QuestionnairesDueOut, **error_responses(401, 403, 409)},
        summary="Which questionnaires are due, and since when",
    )
    def get(self, request: Request) -> Response:
        patient = own_record(user_of(request))
        schedule = questionnaire_schedule(patient)
        audit_record(
            actor=patient.user,
            action=AuditAction.READ,
            object_type="patients.questionnaireschedule",
            object_id=str(patient.public_id),
            patient_id=patient.public_id,
        )
        body = {
            "interval_days": interval_days(),
            "instruments": [
                {
                    "instrument": item.instrument,
                    "name": Instrument(item.instrument).label,
                    "due": item.due,
                    "due_on": item.due_on,
                    "days_overdue": item.days_overdue,
                    "last_submitted_at": item.last_submitted_at,
                }
                for item in schedule
            ],
        }
        return Response(QuestionnairesDueOut(body).data)


# --- mood --------------------------------------------------------------------------------


class MoodIn(StrictSerializer):
    score = serializers.IntegerField(min_value=1, max_value=10, help_text="1 worst, 10 best")


class MoodOut(serializers.Serializer):
    score = serializers.IntegerField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field named "source"
    recorded_at = serializers.DateTimeField()


class MoodCreateView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=MoodIn,
        responses={201: MoodOut, **error_responses(400, 401, 403, 409)},
        summary="Record how I feel today (1-10)",
    )
    def post(self, request: Request) -> Response:
        patient = own_record(user_of(request))
        data = MoodIn(data=request.data)
        data.is_valid(raise_exception=True)
        entry = mood_record(patient=patient, score=data.validated_data["score"], source="app")
        body = {"score": int(entry.score), "source": entry.source, "recorded_at": entry.recorded_at}
        return Response(MoodOut(body).data, status=201)


# --- trend -------------------------------------------------------------------------------


class TrendPointOut(serializers.Serializer):
    id = serializers.UUIDField()
    submitted_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    band = serializers.CharField()
    band_label = serializers.CharField()
    source = serializers.CharField(  # type: ignore[assignment]  # a field named "source"
        help_text="intake or followup"
    )


class InstrumentTrendOut(serializers.Serializer):
    instrument = serializers.CharField()
    name = serializers.CharField()
    series = TrendPointOut(many=True, help_text="Oldest first")
    baseline = serializers.IntegerField(allow_null=True, help_text="The first total")
    latest = serializers.IntegerField(allow_null=True)
    latest_band = serializers.CharField(allow_null=True)
    change_since_baseline = serializers.IntegerField(
        allow_null=True, help_text="Latest minus baseline: negative means fewer symptoms."
    )


class MoodPointOut(serializers.Serializer):
    recorded_at = serializers.DateTimeField()
    score = serializers.IntegerField()
    source = serializers.CharField(  # type: ignore[assignment]  # a field named "source"
        help_text="app or sms"
    )


class TrendOut(serializers.Serializer):
    patient_id = serializers.UUIDField()
    instruments = InstrumentTrendOut(many=True)
    mood = MoodPointOut(many=True, help_text="Oldest first")


_RESPONSE = QuestionnaireResponse._meta.label_lower
_INTAKE = Intake._meta.label_lower


class PatientTrendView(APIView):
    @extend_schema(
        responses={200: TrendOut, **error_responses(401, 403, 404)},
        summary="PHQ-9, GAD-7 and mood over time (the patient and their physicians)",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        patient = clinical_patient_visible_to(viewer, public_id)
        trend = patient_trend(patient)
        # One event for the trend as a whole (mood entries have no public id), one per
        # questionnaire and intake read: one INSERT.
        patient_id = patient.public_id
        audit_phi_reads(
            actor=viewer,
            reads=[
                PhiRead("patients.trend", patient_id, patient_id, {"moods": len(trend.mood)}),
                *(PhiRead(_RESPONSE, r.public_id, patient_id) for r in trend.responses),
                *(PhiRead(_INTAKE, i.public_id, patient_id) for i in trend.intakes),
            ],
        )
        body: dict[str, Any] = {
            "patient_id": patient.public_id,
            "instruments": [
                {
                    "instrument": item.instrument,
                    "name": item.name,
                    "series": item.series,
                    "baseline": item.baseline,
                    "latest": item.latest,
                    "latest_band": item.latest_band,
                    "change_since_baseline": item.change_since_baseline,
                }
                for item in trend.instruments
            ],
            "mood": trend.mood,
        }
        return Response(TrendOut(body).data)


# --- clearance ---------------------------------------------------------------------------


class ClearanceOut(serializers.Serializer):
    allowed = serializers.BooleanField()
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Stable codes: no_approved_intake, consent_outstanding:<kind>, "
        "safety_flag_open, questionnaire_overdue:<instrument>.",
    )


class PatientClearanceView(APIView):
    @extend_schema(
        responses={200: ClearanceOut, **error_responses(401, 403, 404)},
        summary="May the patient be booked for a check-in and prescribed? Every reason if not",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        patient = clinical_patient_visible_to(viewer, public_id)
        clearance = patient_clearance(patient)
        audit_record(
            actor=viewer,
            action=AuditAction.READ,
            object_type="patients.clearance",
            object_id=str(patient.public_id),
            patient_id=patient.public_id,
        )
        return Response(
            ClearanceOut({"allowed": clearance.allowed, "reasons": clearance.reasons}).data
        )


urlpatterns: list[URLPattern] = [
    path("questionnaires", QuestionnaireSubmitView.as_view(), name="questionnaire-submit"),
    path("questionnaires/due", QuestionnairesDueView.as_view(), name="questionnaires-due"),
    path("moods", MoodCreateView.as_view(), name="mood-create"),
    path("patients/<uuid:public_id>/trend", PatientTrendView.as_view(), name="patient-trend"),
    path(
        "patients/<uuid:public_id>/clearance",
        PatientClearanceView.as_view(),
        name="patient-clearance",
    ),
]
