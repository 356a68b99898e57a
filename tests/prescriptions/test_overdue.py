"""Overdue delivery orders: business days on the practice calendar (weekends and US
federal holidays skipped), flagged once, one alert per ops admin and order."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from notifications.models import Message
from prescriptions.models import DeliveryOrder
from prescriptions.services.overdue import add_business_days, overdue_orders_flag, ship_deadline
from prescriptions.tasks import flag_overdue_orders
from tests.factories import UserFactory
from tests.prescriptions.support_ops import order_for, sent_at

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 12, 2), 2, date(2026, 12, 4)),  # Wed -> Fri
        (date(2026, 12, 3), 2, date(2026, 12, 7)),  # Thu -> Mon, over a weekend
        (date(2026, 12, 23), 2, date(2026, 12, 28)),  # Wed -> Mon, over Christmas (Fri)
        (date(2026, 7, 1), 2, date(2026, 7, 6)),  # Independence Day observed Fri 3 July
        (date(2026, 12, 5), 1, date(2026, 12, 7)),  # sent on a Saturday
    ],
)
def test_business_days_skip_weekends_and_federal_holidays(start, count, expected):
    assert add_business_days(start, count) == expected


def test_the_deadline_is_the_end_of_the_last_business_day_on_the_practice_calendar(settings):
    settings.PRACTICE_TIME_ZONE = "America/New_York"
    # 23:30 in New York on Wednesday the 23rd is already Thursday in UTC: the practice day counts.
    deadline = ship_deadline(sent_at("2026-12-23T23:30-05:00"))
    assert deadline == sent_at("2026-12-29T00:00-05:00")


@pytest.fixture
def admins(ops_admin):
    return [ops_admin, UserFactory(role="ops_admin", is_staff=True)]


def alerts():
    return Message.objects.filter(template_key="delivery_overdue")


def test_across_christmas_flagged_once_and_each_admin_alerted_once(
    admins, patient, physician, settings
):
    settings.PRACTICE_TIME_ZONE = "America/New_York"
    order = order_for(
        patient,
        physician,
        status="sent_to_pharmacy",
        sent_to_pharmacy_at=sent_at("2026-12-23T10:00-05:00"),
    )
    # Monday the 28th is the second business day: not overdue until it ends.
    assert overdue_orders_flag(now=sent_at("2026-12-28T23:59-05:00")) == 0
    late = sent_at("2026-12-29T00:01-05:00")
    assert overdue_orders_flag(now=late) == 1
    assert overdue_orders_flag(now=late + timedelta(hours=1)) == 0
    order.refresh_from_db()
    assert (order.overdue_at, order.overdue_reason) == (late, "not_shipped")
    assert sorted(alerts().values_list("recipient_id", flat=True)) == sorted(a.pk for a in admins)
    assert all(m.context == {"path": f"/ops/deliveries/{order.public_id}"} for m in alerts())


def test_across_a_weekend(ops_admin, patient, physician, settings):
    settings.PRACTICE_TIME_ZONE = "America/New_York"
    order_for(
        patient,
        physician,
        status="compounding",
        sent_to_pharmacy_at=sent_at("2026-12-03T15:00-05:00"),
    )
    assert overdue_orders_flag(now=sent_at("2026-12-07T12:00-05:00")) == 0  # Monday
    assert overdue_orders_flag(now=sent_at("2026-12-08T00:00-05:00")) == 1


def test_not_delivered_five_days_after_shipping_and_the_task_runs_twice(
    ops_admin, patient, physician
):
    shipped = datetime.fromisoformat("2026-11-20T12:00+00:00")
    order = order_for(patient, physician, status="out_for_delivery", shipped_at=shipped)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: shipped + timedelta(days=5, seconds=1))
        flag_overdue_orders()
        flag_overdue_orders()
    order.refresh_from_db()
    assert order.overdue_reason == "not_delivered"
    assert alerts().count() == 1
    flagged = order.events.filter(source="system", to_status="")
    assert [event.note for event in flagged] == ["Flagged overdue: not_delivered."]


@pytest.mark.parametrize("status", ["delivered", "canceled", "returned", "exception", "created"])
def test_finished_or_unsent_orders_are_never_flagged(ops_admin, patient, physician, status):
    long_ago = datetime.fromisoformat("2026-01-05T12:00+00:00")
    order_for(patient, physician, status=status, sent_to_pharmacy_at=long_ago, shipped_at=long_ago)
    assert overdue_orders_flag(now=long_ago + timedelta(days=60)) == 0
    assert not DeliveryOrder.objects.filter(overdue_at__isnull=False).exists()
    assert not alerts().exists()
