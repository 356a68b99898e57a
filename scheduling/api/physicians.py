"""Physicians as patients see them: the public profile, for any signed-in user.

Only physicians with an active account. Licensed states are those where the physician may
treat today (accounts.selectors.physician_authority); each carries the disclosure New
Jersey requires before a telehealth visit (identity, license number, board
certification), the same object booking returns. A page is read in a fixed number of
queries whatever its size."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import django_filters
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import PhysicianProfile, State
from core.api import error_responses
from scheduling.selectors import availability as selectors


class DisclosureOut(serializers.Serializer):
    state = serializers.CharField()
    name = serializers.CharField()
    title = serializers.CharField()
    license_number = serializers.CharField()
    board_certification = serializers.CharField()


class PublicPhysicianOut(serializers.Serializer):
    id = serializers.UUIDField(help_text="The physician's public id.")
    name = serializers.CharField()
    title = serializers.CharField()
    board_certification = serializers.CharField()
    licensed_states = serializers.ListField(
        child=serializers.CharField(), help_text="Active, unexpired licenses today."
    )
    disclosures = DisclosureOut(
        many=True, help_text="One per licensed state: shown before a telehealth visit."
    )
    languages = serializers.ListField(child=serializers.CharField(), help_text="ISO 639 codes.")
    bio = serializers.CharField()
    photo_url = serializers.CharField()


def public_profile(physician: PhysicianProfile) -> dict[str, Any]:
    """PublicPhysicianOut as a plain dict."""
    schedule = selectors.schedule_or_blank(physician)
    disclosures = selectors.physician_disclosures(physician)
    return {
        "id": physician.user.public_id,
        "name": f"{physician.first_name} {physician.last_name}".strip(),
        "title": schedule.title,
        "board_certification": schedule.board_certification,
        "licensed_states": [d.state for d in disclosures],
        "disclosures": [asdict(d) for d in disclosures],
        "languages": list(schedule.languages),
        "bio": schedule.bio,
        "photo_url": schedule.photo_url,
    }


class PublicPhysicianFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=State.choices, method="licensed_in", help_text="Licensed there today."
    )
    language = django_filters.CharFilter(
        max_length=3, method="speaks", help_text="An ISO 639 code: es."
    )

    class Meta:
        model = PhysicianProfile
        fields: list[str] = []

    def licensed_in(self, queryset: Any, name: str, value: str) -> Any:
        return selectors.only_licensed_in(queryset, value)

    def speaks(self, queryset: Any, name: str, value: str) -> Any:
        return selectors.only_speaking(queryset, value)


@extend_schema(
    responses={200: PublicPhysicianOut(many=True), **error_responses(400, 401, 403)},
    summary="Physicians' public profiles (any signed-in user)",
)
class PublicPhysicianListView(generics.ListAPIView):
    serializer_class = PublicPhysicianOut
    filterset_class = PublicPhysicianFilter

    def get_queryset(self) -> Any:
        return selectors.public_physicians()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        return self.get_paginated_response([public_profile(p) for p in page])


class PublicPhysicianView(APIView):
    @extend_schema(
        responses={200: PublicPhysicianOut, **error_responses(401, 403, 404)},
        summary="One physician's public profile",
    )
    def get(self, request: Request, physician_id: str) -> Response:
        return Response(public_profile(selectors.public_physician(physician_id)))


urlpatterns: list[URLPattern] = [
    path("physicians", PublicPhysicianListView.as_view(), name="scheduling-physicians"),
    path(
        "physicians/<uuid:physician_id>",
        PublicPhysicianView.as_view(),
        name="scheduling-physician",
    ),
]
