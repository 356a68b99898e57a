"""Reads of delivery orders for their patient and physicians (who may see which order is
prescriptions.selectors.scoping's question)."""

from __future__ import annotations

from django.db.models import QuerySet

from prescriptions.models import DeliveryEvent, DeliveryOrder


def order_timeline(order: DeliveryOrder) -> QuerySet[DeliveryEvent]:
    """The order's status changes, oldest first: notes (events without a status) are for
    staff and left out."""
    return order.events.exclude(to_status="").order_by("at", "pk")
