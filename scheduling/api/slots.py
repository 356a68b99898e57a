"""Slot search: open times for an appointment type, in the patient's own zone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import PhysicianProfile, Role, User
from accounts.permissions import IsAuthenticatedWithMfa, user_of
from core.api import Pagination, StrictSerializer, error_responses, iso_utc
from core.errors import NotFound, PermissionDenied, ValidationFailed
from patients.models import Patient
from patients.selectors.measurement import patient_zone
from patients.selectors.own_record import patient_of
from patients.selectors.record import patient_visible_to
from scheduling.models import Appointment, AppointmentKind
from scheduling.selectors.availability import physician_shown
from scheduling.selectors.slot_runs import instant_of
from scheduling.selectors.slots import appointment_minutes, open_slots

MAX_SEARCH_DAYS = 31


class SlotQuery(StrictSerializer):
    kind = serializers.ChoiceField(choices=AppointmentKind.choices)
    date_from = serializers.DateField(help_text="First day, on the patient's calendar.")
    date_to = serializers.DateField(
        help_text=f"Last day (included); at most {MAX_SEARCH_DAYS} days after date_from."
    )
    physician = serializers.UUIDField(required=False, help_text="Only this physician's slots.")
    patient = serializers.UUIDField(
        required=False, help_text="Staff: the patient to search for (a patient: themself)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": "Must not be before date_from."})
        if attrs["date_to"] - attrs["date_from"] >= timedelta(days=MAX_SEARCH_DAYS):
            raise serializers.ValidationError(
                {"date_to": f"A search covers at most {MAX_SEARCH_DAYS} days."}
            )
        return attrs


class SlotPhysicianOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    title = serializers.CharField()


class SlotOut(serializers.Serializer):
    starts_at = serializers.DateTimeField(help_text="UTC instant.")
    ends_at = serializers.DateTimeField(help_text="UTC instant.")
    local_starts_at = serializers.CharField(
        help_text="Wall-clock start in the patient's zone, ISO 8601 with its UTC offset."
    )
    local_date = serializers.DateField()
    time_zone = serializers.CharField()
    physician = SlotPhysicianOut()


def slot_patient(viewer: User, patient_id: Any) -> Patient:
    """Whom the search (or a booking) is for: a patient themself; staff name a patient
    they may see (another's id is 404)."""
    if viewer.role == Role.PATIENT:
        patient = patient_of(viewer)
        if patient is None:
            raise NotFound("Complete your patient record first.")
        return patient
    if viewer.role not in (Role.PHYSICIAN, Role.OPS_ADMIN):
        raise PermissionDenied("Only patients, physicians and operations admins book visits.")
    if patient_id is None:
        raise ValidationFailed("Name the patient.", fields={"patient": ["This field is required."]})
    return patient_visible_to(viewer, patient_id)


def physician_by_public_id(public_id: Any) -> PhysicianProfile:
    physician = (
        PhysicianProfile.objects.select_related("user", "schedule")
        .filter(user__public_id=public_id, user__is_active=True)
        .first()
    )
    if physician is None:
        raise NotFound("No such physician.")
    return physician


def physician_brief(physician: PhysicianProfile) -> dict[str, Any]:
    shown = physician_shown(physician)
    return {"id": shown.public_id, "name": shown.name, "title": shown.title}


@extend_schema(
    parameters=[SlotQuery],
    responses={200: SlotOut(many=True), **error_responses(400, 401, 403, 404)},
    summary="Open slots for an appointment type across the physicians who may treat in "
    "the patient's state (or one physician), in the patient's zone",
)
class SlotSearchView(generics.ListAPIView):
    permission_classes = [IsAuthenticatedWithMfa]
    pagination_class = Pagination
    serializer_class = SlotOut
    queryset = Appointment.objects.none()  # slots are computed, not a model's rows

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        paging = {Pagination.page_query_param, Pagination.page_size_query_param}
        query = SlotQuery(data={k: v for k, v in request.query_params.items() if k not in paging})
        query.is_valid(raise_exception=True)
        params = query.validated_data
        patient = slot_patient(user_of(request), params.get("patient"))
        physician = physician_by_public_id(params["physician"]) if "physician" in params else None
        slots = open_slots(
            patient=patient,
            kind=params["kind"],
            date_from=params["date_from"],
            date_to=params["date_to"],
            physician=physician,
            kept=True,
        )
        # The page as (start, physician) pairs and plain rows: SlotOut stays the
        # documented shape (tests/scheduling/test_slots.py holds the rows to it), but
        # serializing through it cost more than the search it shows.
        page = self.paginate_queryset(slots.starts) or []
        zone = patient_zone(patient)
        length = appointment_minutes(params["kind"])
        shown = slots.shown
        briefs = {  # the page's physicians only
            pk: {"id": str(shown[pk].public_id), "name": shown[pk].name, "title": shown[pk].title}
            for pk in {pk for _, pk in page}
        }
        rows = []
        for start, pk in page:
            starts_at = instant_of(start)
            local = starts_at.astimezone(zone)
            rows.append(
                {
                    "starts_at": iso_utc(starts_at),
                    "ends_at": iso_utc(starts_at + length),
                    "local_starts_at": local.isoformat(),
                    "local_date": local.date().isoformat(),
                    "time_zone": zone.key,
                    "physician": briefs[pk],
                }
            )
        return self.get_paginated_response(rows)


urlpatterns: list[URLPattern] = [
    path("slots", SlotSearchView.as_view(), name="slot-search"),
]
