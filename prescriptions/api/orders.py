"""Delivery orders as patients and physicians see them: a patient their own, a physician
their patients' (prescriptions.selectors.scoping; anyone else's id is 404). Ops admins
track orders through the ops tracking endpoints and get 403 here.

The timeline shows each status change (status, when, from which source); notes on an
order are for staff and never shown here. Every order shown is an audited PHI read (one
INSERT per page)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import IsAuthenticatedWithMfa, user_of
from audit.services import audit_phi_read
from core.api import enum_field, error_responses, iso_utc
from prescriptions.models import DeliveryEvent, DeliveryOrder, EventSource, OrderKind, OrderStatus
from prescriptions.selectors.orders import order_timeline
from prescriptions.selectors.scoping import order_visible_to, orders_visible_to


class IsPatientOrPhysician(IsAuthenticatedWithMfa):
    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and user_of(request).role in (
            Role.PATIENT,
            Role.PHYSICIAN,
        )


class OrderEventOut(serializers.Serializer):
    status = enum_field(OrderStatus.values, help_text="The status the order moved to.")
    from_status = serializers.CharField(
        allow_blank=True, help_text="The status it left; blank for the order's creation."
    )
    at = serializers.DateTimeField()
    source = enum_field(EventSource.values, help_text="Who or what moved it.")


class ShipToOut(serializers.Serializer):
    name = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField(allow_blank=True)
    city = serializers.CharField()
    state = serializers.CharField()
    zip_code = serializers.CharField()
    county = serializers.CharField()


class OrderRowOut(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField(help_text='The order number, "KD-XXXXXXXX".')
    prescription = serializers.UUIDField(help_text="The prescription's id.")
    patient = serializers.UUIDField(help_text="The patient's record id.")
    kind = enum_field(OrderKind.values)
    fill_number = serializers.IntegerField(
        allow_null=True, help_text="0 for the first fill, 1.. for refills; null: a replacement."
    )
    status = enum_field(OrderStatus.values)
    status_changed_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    carrier = serializers.CharField(allow_null=True, help_text="The carrier's name, once shipped.")
    tracking_number = serializers.CharField(allow_blank=True)
    tracking_url = serializers.CharField(
        allow_null=True, help_text="The carrier's tracking page, once shipped."
    )
    link = serializers.CharField(help_text="The order's path in the app.")


class OrderOut(OrderRowOut):
    ship_to = ShipToOut(help_text="The address the order ships to, as it was when made.")
    timeline = OrderEventOut(many=True, help_text="Status changes, oldest first.")


def order_row(order: DeliveryOrder) -> dict[str, Any]:
    carrier = order.carrier
    tracking = order.tracking_number
    return {
        "id": order.public_id,
        "number": order.number,
        "prescription": order.prescription.public_id,
        "patient": order.patient.public_id,
        "kind": order.kind,
        "fill_number": order.fill_number,
        "status": order.status,
        "status_changed_at": order.status_changed_at,
        "created_at": order.created_at,
        "shipped_at": order.shipped_at,
        "delivered_at": order.delivered_at,
        "carrier": carrier.name if carrier else None,
        "tracking_number": tracking,
        "tracking_url": carrier.tracking_url(tracking) if carrier and tracking else None,
        "link": order.app_path,
    }


def order_detail(
    order: DeliveryOrder, timeline: Iterable[DeliveryEvent] | None = None
) -> dict[str, Any]:
    """`timeline`: the order's events when the caller has them (an order just made)."""
    return {
        **order_row(order),
        "ship_to": order.ship_to,
        "timeline": [
            {
                "status": event.to_status,
                "from_status": event.from_status,
                "at": event.at,
                "source": event.source,
            }
            for event in (order_timeline(order) if timeline is None else timeline)
        ],
    }


def order_body(
    order: DeliveryOrder, timeline: Iterable[DeliveryEvent] | None = None
) -> dict[str, Any]:
    """OrderOut(order_detail(order, timeline)).data as plain JSON values: the serializer
    documents the shape, and instantiating it (two nested serializers, a field per value)
    cost about as much as a refill's statements (tests/prescriptions/test_order_shape.py
    holds the two together)."""
    body = order_detail(order, timeline)
    for name in ("id", "prescription", "patient"):
        body[name] = str(body[name])
    for name in _ROW_TIMES:
        body[name] = iso_utc(body[name])
    body["ship_to"] = {
        name: None if value is None else str(value) for name, value in body["ship_to"].items()
    }
    for event in body["timeline"]:
        event["at"] = iso_utc(event["at"])
    return body


_ROW_TIMES = ("status_changed_at", "created_at", "shipped_at", "delivered_at")


def order_answer(
    order: DeliveryOrder, status: int = 200, timeline: Iterable[DeliveryEvent] | None = None
) -> Response:
    return Response(order_body(order, timeline), status=status)


class OrderFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(
        field_name="patient__public_id", label="A patient's record id (physicians)."
    )
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)

    class Meta:
        model = DeliveryOrder
        fields: list[str] = []


@extend_schema(
    responses={200: OrderRowOut(many=True), **error_responses(400, 401, 403)},
    summary="Delivery orders: a patient's own, a physician's patients' (newest first)",
    description="Ops admins: 403 (they use the ops tracking endpoints).",
)
class OrderListView(generics.ListAPIView):
    permission_classes = [IsPatientOrPhysician]
    filterset_class = OrderFilter
    serializer_class = OrderRowOut

    def get_queryset(self) -> QuerySet[DeliveryOrder]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return DeliveryOrder.objects.none()
        orders = orders_visible_to(user_of(self.request))
        return orders.select_related("prescription").order_by("-created_at", "-id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        audit_phi_read(actor=user_of(request), objects=page)
        rows = OrderRowOut([order_row(order) for order in page], many=True).data
        return self.get_paginated_response(rows)


class OrderDetailView(APIView):
    permission_classes = [IsPatientOrPhysician]

    @extend_schema(
        responses={200: OrderOut, **error_responses(401, 403, 404)},
        summary="One delivery order with its tracking, ship-to address and timeline",
        description="The patient's own or a physician's patient's; anyone else's is 404. "
        "Ops admins: 403 (they use the ops tracking endpoints).",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        order = order_visible_to(viewer, public_id)
        audit_phi_read(actor=viewer, objects=[order])
        return order_answer(order)


urlpatterns: list[URLPattern] = [
    path("orders", OrderListView.as_view(), name="prescriptions-order-list"),
    path("orders/<uuid:public_id>", OrderDetailView.as_view(), name="prescriptions-order-detail"),
]
