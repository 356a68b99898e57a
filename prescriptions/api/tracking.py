"""Delivery tracking for ops admins: the list (filters, search), counts by status, the CSV
export, one order's detail and timeline, and the three things an ops admin does to an
order (mark an exception, make a replacement, add a note).

Ops admins only (everyone else 403), always through scoping.orders_visible_to. Every
order shown is audited as read; the export is one audit event with its filter and size.
Nothing here reads a prescription's clinical fields or a visit's notes."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import django_filters
from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import QueryDict, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import State, User
from accounts.permissions import IsOpsAdmin, user_of
from audit.models import AuditAction
from audit.services import audit_record
from core.api import CountedPagination, enum_field, error_responses, iso_utc
from prescriptions.api.orders import ShipToOut
from prescriptions.models import DeliveryOrder, EventSource, OrderKind, OrderStatus
from prescriptions.selectors import tracking, tracking_page
from prescriptions.selectors.scoping import orders_visible_to

# --- filters ---------------------------------------------------------------------------


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=OrderStatus.choices,
        label="One or more statuses (repeat the parameter)",
        distinct=False,  # one row per order already: DISTINCT would only cost a sort
    )
    state = django_filters.ChoiceFilter(field_name="ship_to_state", choices=State.choices)
    county = django_filters.CharFilter(field_name="ship_to_county", lookup_expr="iexact")
    pharmacy = django_filters.UUIDFilter(field_name="pharmacy__public_id")
    carrier = django_filters.CharFilter(field_name="carrier__code")
    created = django_filters.DateFromToRangeFilter(field_name="created_at")
    sent = django_filters.DateFromToRangeFilter(field_name="sent_to_pharmacy_at")
    shipped = django_filters.DateFromToRangeFilter(field_name="shipped_at")
    delivered = django_filters.DateFromToRangeFilter(field_name="delivered_at")
    overdue = django_filters.BooleanFilter(field_name="overdue_at", method="filter_overdue")
    q = django_filters.CharFilter(
        method="filter_q", label="An order number or tracking number (exact, any case)"
    )

    class Meta:
        model = DeliveryOrder
        fields: list[str] = []

    def filter_overdue(self, queryset: Any, name: str, value: bool) -> Any:
        return queryset.filter(overdue_at__isnull=not value)

    def filter_q(self, queryset: Any, name: str, value: str) -> Any:
        term = value.strip()
        # Numbers are made upper case (orders._order_number): an exact, indexed match.
        return queryset.filter(Q(number=term.upper()) | Q(tracking_number__iexact=term))


class OpsDeliveryView(generics.GenericAPIView):
    """Ops admins only; orders through scoping.orders_visible_to."""

    permission_classes = [IsOpsAdmin]
    filterset_class: Any = None
    pagination_class: Any = None

    def get_queryset(self) -> QuerySet[DeliveryOrder]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return DeliveryOrder.objects.none()
        return orders_visible_to(user_of(self.request))


class OpsFilteredView(OpsDeliveryView):
    """The scoped orders, filtered by DeliveryFilter: dates are practice-calendar days."""

    filterset_class = DeliveryFilter

    def filtered(self) -> QuerySet[DeliveryOrder]:
        with timezone.override(ZoneInfo(settings.PRACTICE_TIME_ZONE)):
            return self.filter_queryset(self.get_queryset())


# --- output ----------------------------------------------------------------------------


class PharmacyBriefOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class CarrierBriefOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


OVERDUE_REASONS = ["not_shipped", "not_delivered"]


class DeliveryRowOut(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    kind = enum_field(OrderKind.values)
    status = enum_field(OrderStatus.values)
    status_changed_at = serializers.DateTimeField()
    state = serializers.CharField()
    county = serializers.CharField()
    pharmacy = PharmacyBriefOut()
    carrier = CarrierBriefOut(allow_null=True)
    tracking_number = serializers.CharField()
    tracking_url = serializers.URLField(allow_null=True)
    created_at = serializers.DateTimeField()
    sent_to_pharmacy_at = serializers.DateTimeField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()
    overdue_at = serializers.DateTimeField(allow_null=True)
    overdue_reason = enum_field(OVERDUE_REASONS, allow_null=True)


def _row(row: tracking.TrackingRow) -> dict[str, Any]:
    """DeliveryRowOut's values (the serializer documents the shape). Ids and instants go
    out as read (UTC): the API's renderer writes them as DRF's fields do (core.renderers),
    several times faster than formatting 150 of them here."""
    return {
        "id": row.public_id,
        "number": row.number,
        "kind": row.kind,
        "status": row.status,
        "status_changed_at": row.status_changed_at,
        "state": row.state,
        "county": row.county,
        "pharmacy": {"id": row.pharmacy_id, "name": row.pharmacy_name},
        "carrier": {"code": row.carrier_code, "name": row.carrier_name}
        if row.carrier_code
        else None,
        "tracking_number": row.tracking_number,
        "tracking_url": row.tracking_url,
        "created_at": row.created_at,
        "sent_to_pharmacy_at": row.sent_to_pharmacy_at,
        "shipped_at": row.shipped_at,
        "delivered_at": row.delivered_at,
        "overdue": row.overdue_at is not None,
        "overdue_at": row.overdue_at,
        "overdue_reason": row.overdue_reason or None,
    }


class EventOut(serializers.Serializer):
    at = serializers.DateTimeField()
    from_status = enum_field(OrderStatus.values, allow_null=True)
    to_status = enum_field(OrderStatus.values, allow_null=True)
    source = enum_field(EventSource.values)
    actor_role = serializers.CharField(allow_null=True)
    external_id = serializers.CharField()
    note = serializers.CharField()


class OrderLinkOut(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()


class DeliveryDetailOut(DeliveryRowOut):
    patient_id = serializers.UUIDField()
    ship_to = ShipToOut()
    delivered_signed_by = serializers.CharField()
    replaces = OrderLinkOut(allow_null=True)
    replacement = OrderLinkOut(allow_null=True)
    submission_status = serializers.CharField(allow_null=True)
    timeline = EventOut(many=True)


def _link(order: DeliveryOrder | None) -> dict[str, str] | None:
    return None if order is None else {"id": str(order.public_id), "number": order.number}


def detail_body(detail: tracking.TrackingDetail) -> dict[str, Any]:
    order = detail.order
    row = tracking.TrackingRow(
        order.public_id, order.number, order.kind, order.status, order.status_changed_at,
        order.ship_to_state, order.ship_to_county,
        order.pharmacy.public_id, order.pharmacy.name,
        order.carrier.code if order.carrier else None,
        order.carrier.name if order.carrier else None,
        order.carrier.tracking_url_template if order.carrier else None,
        order.tracking_number, order.created_at, order.sent_to_pharmacy_at, order.shipped_at,
        order.delivered_at, order.overdue_at, order.overdue_reason, order.patient.public_id,
    )  # fmt: skip
    replaces = order.replaces if order.replaces_id else None
    return {
        **_row(row),
        "patient_id": str(order.patient.public_id),
        "ship_to": order.ship_to,
        "delivered_signed_by": order.delivered_signed_by,
        "replaces": _link(replaces),
        "replacement": _link(detail.replacement),
        "submission_status": detail.submission_status,
        "timeline": [
            {
                "at": iso_utc(event.at),
                "from_status": event.from_status or None,
                "to_status": event.to_status or None,
                "source": event.source,
                "actor_role": event.actor.role if event.actor else None,
                "external_id": event.external_id,
                "note": event.note,
            }
            for event in detail.events
        ],
    }


class CountsOut(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {value: serializers.IntegerField() for value in OrderStatus.values}


# --- views -----------------------------------------------------------------------------


@extend_schema(
    responses={200: DeliveryRowOut(many=True), **error_responses(400, 401, 403)},
    summary="Delivery orders, newest first, filtered and searched (ops admins)",
)
class DeliveryListView(OpsFilteredView):
    pagination_class = CountedPagination
    serializer_class = DeliveryRowOut

    def get(self, request: Request) -> Response:
        """The usual filters (statuses, a state) take the one-statement fast path
        (tracking_page); any other filter, or an invalid value, the FilterSet (and its 400)."""
        viewer, usual = user_of(request), _usual_filters(request.query_params)
        orders = None if usual is not None else self.filtered()

        def read(offset: int, limit: int) -> tuple[list[Any], int | None]:
            page = None
            if usual is not None:
                statuses, state = usual
                page = tracking_page.tracking_page_fast_audited(
                    viewer, statuses=statuses, state=state, offset=offset, limit=limit
                )
            if page is None:
                filtered = orders if orders is not None else self.filtered()
                page = tracking.tracking_page_audited(viewer, filtered, offset=offset, limit=limit)
            return [_row(row) for row in page.rows], page.total

        def count() -> int:  # ?page=last
            return (orders if orders is not None else self.filtered()).count()

        return CountedPagination().respond(request, read=read, count=count)


# The list's parameters the fast path answers: the usual filters and the pagination's.
_USUAL_PARAMS = frozenset({"status", "state", "page", "page_size"})
_STATUSES = frozenset(OrderStatus.values)
_STATES = frozenset(State.values)


def _usual_filters(params: QueryDict) -> tuple[list[str] | None, str | None] | None:
    """(statuses, state) when the query filters by nothing but valid statuses and one
    valid state (each optional), else None: DeliveryFilter then validates and filters."""
    if not _USUAL_PARAMS.issuperset(params):
        return None
    statuses = params.getlist("status") or None
    if statuses is not None and not _STATUSES.issuperset(statuses):
        return None
    states = params.getlist("state")
    if states and (len(states) > 1 or states[0] not in _STATES):
        return None
    return statuses, states[0] if states else None


@extend_schema(
    filters=True,
    responses={200: CountsOut, **error_responses(400, 401, 403)},
    summary="How many orders are in each status (every status, zeros included), same "
    "filters; at most 5 seconds old",
)
class DeliveryCountsView(OpsFilteredView):
    def get(self, request: Request) -> Response:
        params = {key: request.query_params.getlist(key) for key in request.query_params}
        counts = tracking.tracking_counts_cached(user_of(request), self.filtered, filters=params)
        return Response(counts)


CSV_COLUMNS = (
    "number", "kind", "status", "state", "county", "city", "pharmacy", "carrier",
    "tracking_number", "created_at", "sent_to_pharmacy_at", "shipped_at", "delivered_at",
    "overdue_reason",
)  # fmt: skip
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    text = iso_utc(value) if isinstance(value, datetime) else value
    text = "" if text is None else str(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_values(row: tracking.TrackingRow, city: str) -> list[str]:
    values = (
        row.number, row.kind, row.status, row.state, row.county, city, row.pharmacy_name,
        row.carrier_code or "", row.tracking_number, row.created_at, row.sent_to_pharmacy_at,
        row.shipped_at, row.delivered_at, row.overdue_reason,
    )  # fmt: skip
    return [csv_cell(value) for value in values]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterator[tuple[tracking.TrackingRow, str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for row, city in rows:
        yield writer.writerow(_csv_values(row, city))


@extend_schema(
    filters=True,
    responses={(200, "text/csv"): OpenApiTypes.STR, **error_responses(400, 401, 403)},
    summary="The filtered orders as CSV, streamed (one audit event for the export)",
)
class DeliveryExportView(OpsFilteredView):
    def get(self, request: Request) -> StreamingHttpResponse:
        viewer, orders = user_of(request), self.filtered()
        _audit_export(viewer, request, rows=orders.count())
        response = StreamingHttpResponse(
            csv_lines(tracking.tracking_rows(orders)), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="deliveries-{stamp}.csv"'
        return response


def _audit_export(viewer: User, request: Request, *, rows: int) -> None:
    """One event for the whole export: which filter, how many orders (never their ids)."""
    filters = {key: request.query_params.getlist(key) for key in sorted(request.query_params)}
    audit_record(
        actor=viewer,
        action=AuditAction.READ,
        object_type=DeliveryOrder._meta.label_lower,
        detail={"export": "csv", "filters": filters, "rows": rows},
    )


@extend_schema(
    responses={200: DeliveryDetailOut, **error_responses(401, 403, 404)},
    summary="One delivery order with its ship-to address and timeline (ops admins)",
)
class DeliveryDetailView(OpsDeliveryView):
    def get(self, request: Request, public_id: str) -> Response:
        return Response(detail_body(tracking.tracking_detail_audited(user_of(request), public_id)))


urlpatterns: list[URLPattern] = [
    path("deliveries", DeliveryListView.as_view(), name="ops-deliveries"),
    path("deliveries/counts", DeliveryCountsView.as_view(), name="ops-delivery-counts"),
    path("deliveries/export.csv", DeliveryExportView.as_view(), name="ops-delivery-export"),
    path("deliveries/<uuid:public_id>", DeliveryDetailView.as_view(), name="ops-delivery-detail"),
]
