"""Overdue delivery orders: found by a beat task, flagged once, and every ops admin alerted
once per order.

The rule (settings):
- `not_shipped`: sent to the pharmacy and not shipped by the end of the
  DELIVERY_SHIP_WITHIN_BUSINESS_DAYS-th business day after the day it was sent (the
  pharmacy has the rest of the sending day and that many full business days). Business
  days are the practice calendar's (core.clock, PRACTICE_TIME_ZONE) weekdays that are
  not US federal holidays: `holidays.US()`, the federal calendar with its observed
  dates (Independence Day 2026, a Saturday, is observed Friday 3 July), not the
  financial (NYSE) one: pharmacies and carriers keep federal holidays, not market days.
- `not_delivered`: shipped (or out for delivery) and not delivered
  DELIVERY_DELIVER_WITHIN_DAYS calendar days after `shipped_at`.
Only orders still on their way are looked at (sent_to_pharmacy, compounding; shipped,
out_for_delivery): a delivered, returned, canceled or exception order is never flagged.

An order is flagged by a conditional UPDATE (`overdue_at` still null), so two runs (or
two workers) flag it once; the run whose UPDATE matched writes the timeline note and
schedules the alerts, each with a dedupe key per order and admin: one alert each.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, User
from audit.services import audit_write
from core.clock import practice_date
from notifications.models import Category, Channel
from notifications.outbox import MessageDraft, messages_schedule
from prescriptions.models import DeliveryEvent, DeliveryOrder, EventSource, OrderStatus

NOT_SHIPPED = "not_shipped"
NOT_DELIVERED = "not_delivered"
AWAITING_SHIPMENT = (OrderStatus.SENT_TO_PHARMACY, OrderStatus.COMPOUNDING)
AWAITING_DELIVERY = (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY)


@functools.cache
def _federal_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.US(years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _federal_holidays(day.year)


def add_business_days(day: date, count: int) -> date:
    """The `count`-th business day after `day` (`day` itself not counted)."""
    while count > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def ship_deadline(sent_at: datetime) -> datetime:
    """When an order sent to the pharmacy at `sent_at` becomes overdue unshipped: the end
    of the N-th business day after the sending day, on the practice calendar."""
    zone = ZoneInfo(settings.PRACTICE_TIME_ZONE)
    within = settings.DELIVERY_SHIP_WITHIN_BUSINESS_DAYS
    last_day = add_business_days(practice_date(sent_at), within)
    return datetime.combine(last_day + timedelta(days=1), time(), tzinfo=zone)


def deliver_deadline(shipped_at: datetime) -> datetime:
    return shipped_at + timedelta(days=settings.DELIVERY_DELIVER_WITHIN_DAYS)


def overdue_reason(order: DeliveryOrder, now: datetime) -> str | None:
    """Why `order` is overdue at `now`, or None: the rule of the module docstring."""
    if order.overdue_at is not None:
        return None
    if order.status in AWAITING_SHIPMENT and order.sent_to_pharmacy_at is not None:
        return NOT_SHIPPED if now >= ship_deadline(order.sent_to_pharmacy_at) else None
    if order.status in AWAITING_DELIVERY and order.shipped_at is not None:
        return NOT_DELIVERED if now >= deliver_deadline(order.shipped_at) else None
    return None


def overdue_orders_flag(*, now: datetime | None = None) -> int:
    """Flag every order overdue at `now` that is not flagged yet, and alert the ops admins
    (the module docstring). Returns how many orders this run flagged."""
    now = now or timezone.now()
    # A cheap first cut: N business days are at least N calendar days.
    ship_cut = now - timedelta(days=settings.DELIVERY_SHIP_WITHIN_BUSINESS_DAYS)
    deliver_cut = now - timedelta(days=settings.DELIVERY_DELIVER_WITHIN_DAYS)
    candidates = DeliveryOrder.objects.filter(
        Q(status__in=AWAITING_SHIPMENT, sent_to_pharmacy_at__lte=ship_cut)
        | Q(status__in=AWAITING_DELIVERY, shipped_at__lte=deliver_cut),
        overdue_at__isnull=True,
    ).only("pk", "status", "sent_to_pharmacy_at", "shipped_at", "overdue_at")
    flagged = 0
    for order in candidates:
        reason = overdue_reason(order, now)
        if reason is not None and order_overdue_flag(order_id=order.pk, reason=reason, now=now):
            flagged += 1
    return flagged


@transaction.atomic
def order_overdue_flag(*, order_id: int, reason: str, now: datetime) -> bool:
    """Flag one order (if no one has yet, and it is still on its way) and alert every
    active ops admin once. False when another run flagged it first."""
    still_open = AWAITING_SHIPMENT if reason == NOT_SHIPPED else AWAITING_DELIVERY
    updated = DeliveryOrder.objects.filter(
        pk=order_id, overdue_at__isnull=True, status__in=still_open
    ).update(overdue_at=now, overdue_reason=reason)
    if not updated:
        return False
    order = DeliveryOrder.objects.select_related("patient").get(pk=order_id)
    DeliveryEvent.objects.create(
        order=order, at=now, source=EventSource.SYSTEM, note=f"Flagged overdue: {reason}."
    )
    audit_write(order, actor=None, action="delivery_order.overdue", detail={"reason": reason})
    messages_schedule(
        [
            MessageDraft(
                recipient=admin,
                template_key="delivery_overdue",
                category=Category.CARE,
                channel=Channel.EMAIL,
                dedupe_key=f"delivery-overdue:{order.public_id}:{admin.pk}",
                context={"path": order.ops_path},
            )
            for admin in User.objects.filter(role=Role.OPS_ADMIN, is_active=True).order_by("pk")
        ]
    )
    return True
