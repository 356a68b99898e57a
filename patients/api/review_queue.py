"""Physician review: the queue of intakes awaiting review in my licensed states.

Physicians only (ops admins and patients get 403). Every intake and open safety flag on
a page is audited as read."""

from __future__ import annotations

from typing import Any

import django_filters
from django.urls import URLPattern, path
from django_filters.utils import translate_validation
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import State
from accounts.permissions import IsPhysician, user_of
from core.api import CountedPagination, enum_field, error_responses, iso_utc
from patients.api.intake import OUTCOMES
from patients.api.review_flags import FlagBriefOut
from patients.models import Intake, IntakeStatus
from patients.selectors import review as selectors
from patients.selectors import review_queue


class QueueRowOut(serializers.Serializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    patient_name = serializers.CharField()
    state = serializers.CharField()
    status = enum_field(IntakeStatus.values)
    submitted_at = serializers.DateTimeField()
    outcome = enum_field(OUTCOMES, allow_null=True, help_text="Screening outcome.")
    open_safety_flags = FlagBriefOut(many=True)


class ReviewQueueFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(field_name="patient__state", choices=State.choices)
    flagged = django_filters.BooleanFilter(
        method="filter_flagged", label="Only intakes of patients with an open safety flag"
    )

    class Meta:
        model = Intake
        fields: list[str] = []

    def filter_flagged(self, queryset: Any, name: str, value: bool) -> Any:
        return queryset.filter(has_open_flag=value)  # annotated by selectors.review_queue


def _queue_filters(request: Request) -> tuple[str | None, bool | None]:
    """`state` and `flagged`, validated as DjangoFilterBackend validates them (400)."""
    params = request.query_params
    if "state" not in params and "flagged" not in params:
        return None, None
    filterset = ReviewQueueFilter(data=params, queryset=Intake.objects.none(), request=request)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    data = filterset.form.cleaned_data
    return data.get("state") or None, data.get("flagged")


def _queue_row(row: review_queue.QueueRow) -> dict[str, Any]:
    """QueueRowOut as a plain dict of JSON values (the serializer documents the shape):
    instantiating nested serializers costs more per page than reading it, and so do the
    JSON encoder's callbacks for ids and times (see benchmarks/)."""
    return {
        "id": str(row.public_id),
        "patient_id": str(row.patient_public_id),
        "patient_name": f"{row.patient_first_name} {row.patient_last_name}".strip(),
        "state": row.state,
        "status": row.status,
        "submitted_at": iso_utc(row.submitted_at),
        "outcome": row.outcome,
        "open_safety_flags": [
            {
                "id": str(flag.public_id),
                "kind": flag.kind,
                "raised_at": iso_utc(flag.raised_at),
            }
            for flag in row.open_flags
        ],
    }


@extend_schema(
    responses={200: QueueRowOut(many=True), **error_responses(400, 401, 403)},
    summary="Intakes awaiting review in my licensed states: open safety flags first, "
    "then oldest submission first",
)
class ReviewQueueView(generics.ListAPIView):
    permission_classes = [IsPhysician]
    pagination_class = CountedPagination
    filterset_class = ReviewQueueFilter
    serializer_class = QueueRowOut

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Intake.objects.none()
        return selectors.review_queue(user_of(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One statement reads the page, its total and its flags and audits every intake
        on it (review_queue.review_queue_page_audited: the page of get_queryset())."""
        viewer = user_of(request)
        state, flagged = _queue_filters(request)

        def read(offset: int, limit: int) -> tuple[list[Any], int | None]:
            page = review_queue.review_queue_page_audited(
                viewer, offset=offset, limit=limit, state=state, flagged=flagged
            )
            return [_queue_row(row) for row in page.rows], page.total

        def count() -> int:  # only for ?page=last
            return selectors.review_queue_count(viewer, state=state, flagged=flagged)

        return CountedPagination().respond(request, read=read, count=count)


urlpatterns: list[URLPattern] = [
    path("review/intakes", ReviewQueueView.as_view(), name="review-queue"),
]
