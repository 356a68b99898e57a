"""What an ops admin does to a delivery order through the API: mark it an exception, make
its replacement, add a note. Each calls prescriptions.services.ops (as the Django admin's
actions do) and answers with the order's detail (api.tracking)."""

from __future__ import annotations

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from accounts.permissions import user_of
from core.api import StrictSerializer, error_responses
from core.text import PlainTextField
from prescriptions.api.tracking import DeliveryDetailOut, OpsDeliveryView, detail_body
from prescriptions.models import DeliveryOrder
from prescriptions.selectors import tracking
from prescriptions.selectors.scoping import order_visible_to
from prescriptions.services.ops import (
    order_exception_mark,
    order_note_add,
    order_replacement_create,
)


class ReasonIn(StrictSerializer):
    reason = PlainTextField(multiline=True, max_length=2000)


class NoteIn(StrictSerializer):
    note = PlainTextField(multiline=True, max_length=2000)


def _detail_of(viewer: User, order: DeliveryOrder, code: int = status.HTTP_200_OK) -> Response:
    return Response(detail_body(tracking.tracking_detail_audited(viewer, order.public_id)), code)


@extend_schema(
    request=ReasonIn,
    responses={200: DeliveryDetailOut, **error_responses(400, 401, 403, 404, 409)},
    summary="Mark an order an exception, with the reason (409 where its status forbids it)",
)
class DeliveryExceptionView(OpsDeliveryView):
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        body = ReasonIn(data=request.data)
        body.is_valid(raise_exception=True)
        order = order_visible_to(viewer, public_id)
        order_exception_mark(order=order, actor=viewer, reason=body.validated_data["reason"])
        return _detail_of(viewer, order)


@extend_schema(
    request=ReasonIn,
    responses={201: DeliveryDetailOut, **error_responses(400, 401, 403, 404, 409)},
    summary="Make the replacement order for a lost or returned package (one per order)",
)
class DeliveryReplacementView(OpsDeliveryView):
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        body = ReasonIn(data=request.data)
        body.is_valid(raise_exception=True)
        order = order_visible_to(viewer, public_id)
        replacement = order_replacement_create(
            order=order, actor=viewer, reason=body.validated_data["reason"]
        )
        return _detail_of(viewer, replacement, status.HTTP_201_CREATED)


@extend_schema(
    request=NoteIn,
    responses={201: DeliveryDetailOut, **error_responses(400, 401, 403, 404)},
    summary="Add a note to an order's timeline (no status change)",
)
class DeliveryNoteView(OpsDeliveryView):
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        body = NoteIn(data=request.data)
        body.is_valid(raise_exception=True)
        order = order_visible_to(viewer, public_id)
        order_note_add(order=order, actor=viewer, note=body.validated_data["note"])
        return _detail_of(viewer, order, status.HTTP_201_CREATED)


urlpatterns: list[URLPattern] = [
    path(
        "deliveries/<uuid:public_id>/exception",
        DeliveryExceptionView.as_view(),
        name="ops-delivery-exception",
    ),
    path(
        "deliveries/<uuid:public_id>/replacement",
        DeliveryReplacementView.as_view(),
        name="ops-delivery-replacement",
    ),
    path(
        "deliveries/<uuid:public_id>/notes",
        DeliveryNoteView.as_view(),
        name="ops-delivery-notes",
    ),
]
