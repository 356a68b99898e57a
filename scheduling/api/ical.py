"""A physician's personal iCal feed: the secret URL (created, rotated, revoked) and the feed.

The feed takes no session: the secret in its URL is the credential (an unknown, replaced
or revoked one is 404). It carries no PHI beyond each visit's type and the patient's
initials: no names, no notes, no reasons; the description is a generic line and a link
into the app. Canceled and no-show visits are left out (a calendar app drops an event
that leaves the feed). Each fetch is one audit row (the physician, how many visits).

The secret is never logged by our code: the URL path reaches the logs only through
Django's request logger (5xx) and the development server, and
scheduling.log_redaction.RedactFeedSecrets masks it there (config LOGGING)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.urls import URLPattern, path, re_path, reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from icalendar import Calendar, Event
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPhysician, user_of
from audit.models import AuditAction
from audit.services import audit_record
from core.api import error_responses
from core.errors import NotFound
from core.throttling import UserRateThrottle
from scheduling.models import Appointment, AppointmentKind
from scheduling.selectors import calendar
from scheduling.services.ical import (
    ICAL_FEED_OBJECT,
    ical_token_create,
    ical_token_hash,
    ical_token_revoke,
)

FEED_CACHE_CONTROL = "private, no-store"
KIND_LABELS = {
    AppointmentKind.CONSULTATION: "Consultation",
    AppointmentKind.CHECK_IN: "Check-in",
    AppointmentKind.FOLLOW_UP: "Follow-up",
}
# What a feed secret looks like (services.ical: 43 URL-safe characters); anything else
# never reaches the view.
TOKEN_PATTERN = r"[A-Za-z0-9_-]{20,128}"


def feed_url(token: str) -> str:
    path = reverse("scheduling-ical-feed", kwargs={"token": token})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


# --- the secret URL ----------------------------------------------------------------------


class IcalTokenOut(serializers.Serializer):
    url = serializers.URLField(help_text="Shown once: subscribe to it in a calendar app.")
    created_at = serializers.DateTimeField()


class IcalTokenView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=None,
        responses={201: IcalTokenOut, **error_responses(401, 403, 404)},
        summary="Create my iCal feed URL (a new one replaces the old, which stops working)",
    )
    def post(self, request: Request) -> Response:
        user = user_of(request)
        physician = calendar.agenda_owner_of(user).physician
        secret = ical_token_create(physician=physician, actor=user)
        body = {"url": feed_url(secret.token), "created_at": secret.created_at}
        return Response(IcalTokenOut(body).data, status=201)

    @extend_schema(
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
        summary="Revoke my iCal feed URL",
    )
    def delete(self, request: Request) -> Response:
        user = user_of(request)
        physician = calendar.agenda_owner_of(user).physician
        ical_token_revoke(physician=physician, actor=user)
        return Response(status=204)


# --- the feed ----------------------------------------------------------------------------


class IcalFeedThrottle(UserRateThrottle):
    """Per feed secret (keyed by its hash, never the secret itself): ICAL_FEED rate."""

    scope = "ical_feed"

    def get_cache_key(self, request: Any, view: Any) -> str:
        ident = ical_token_hash(str(view.kwargs.get("token", "")))
        return self.cache_format % {"scope": self.scope, "ident": ident}


class IgnoreAccept(BaseContentNegotiation):
    """Calendar apps ask for text/calendar: the feed answers it whatever they send, and
    its errors are the API's JSON errors."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


def feed_calendar(appointments: list[Appointment], *, now: datetime) -> bytes:
    """The VCALENDAR text: one VEVENT per visit, times in UTC, UID stable per visit."""
    host = urlsplit(settings.PUBLIC_BASE_URL).hostname or "localhost"
    app = settings.PUBLIC_APP_URL.rstrip("/")
    feed = Calendar()
    feed.add("prodid", f"-//{settings.PRACTICE_NAME}//Agenda//EN")
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("x-wr-calname", f"{settings.PRACTICE_NAME} visits")
    for row in appointments:
        event = Event()
        event.add("uid", f"appointment-{row.public_id}@{host}")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", row.starts_at.astimezone(UTC))
        event.add("dtend", row.ends_at.astimezone(UTC))
        kind = KIND_LABELS[AppointmentKind(row.kind)]
        event.add("summary", f"{kind} {calendar.initials(row.patient)}")
        event.add("description", f"Video visit. Open it in the app: {app}{row.app_path}")
        event.add("status", "CONFIRMED")
        feed.add_component(event)
    return feed.to_ical()


class IcalFeedView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    content_negotiation_class = IgnoreAccept
    throttle_classes = [UserRateThrottle, IcalFeedThrottle]  # per IP, and per secret

    @extend_schema(
        responses={
            (200, "text/calendar"): OpenApiResponse(
                OpenApiTypes.STR, description="The physician's visits as iCalendar."
            ),
            **error_responses(404),
        },
        auth=[],
        summary="A physician's iCal feed (the secret in the URL is the credential)",
    )
    def get(self, request: Request, token: str) -> HttpResponse:
        physician = calendar.physician_by_ical_token_hash(ical_token_hash(token))
        if physician is None:
            raise NotFound()
        now = timezone.now()
        rows = calendar.ical_feed_appointments(physician, now=now)
        audit_record(
            actor=physician.user,
            action=AuditAction.READ,
            object_type=ICAL_FEED_OBJECT,
            object_id=str(physician.user.public_id),
            detail={"count": len(rows)},
        )
        response = HttpResponse(
            feed_calendar(rows, now=now), content_type="text/calendar; charset=utf-8"
        )
        response["Cache-Control"] = FEED_CACHE_CONTROL
        return response


urlpatterns: list[URLPattern] = [
    path("agenda/ical-token", IcalTokenView.as_view(), name="scheduling-ical-token"),
    re_path(
        rf"^ical/(?P<token>{TOKEN_PATTERN})\.ics$",
        IcalFeedView.as_view(),
        name="scheduling-ical-feed",
    ),
]
