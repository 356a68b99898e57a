"""The delivery tally (prescriptions.models.tally) is kept by PostgreSQL: after any write to
the orders (made, moved by the service, moved in bulk, moved to another state, saved
unchanged, deleted, truncated) its sums by (state, status) are the orders' own counts,
and folding it changes no sum. The list's total is held to the COUNT in
test_tracking_page."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum

from prescriptions.models import (
    DeliveryEvent,
    DeliveryOrder,
    DeliveryTally,
    EventSource,
    LocalPharmacyReceipt,
    OrderStatus,
    PharmacySubmission,
    StatusReport,
)
from prescriptions.services.orders import order_transition
from prescriptions.services.tally import delivery_tally_fold
from tests.prescriptions.support_ops import order_for, prescriber

pytestmark = pytest.mark.django_db


def tallied() -> Counter[tuple[str, str]]:
    sums = DeliveryTally.objects.values_list("ship_to_state", "status").annotate(n=Sum("orders"))
    return Counter({(state, status): n for state, status, n in sums if n})


def counted() -> Counter[tuple[str, str]]:
    return Counter(DeliveryOrder.objects.values_list("ship_to_state", "status"))


def test_every_write_to_the_orders_keeps_the_tally(patient, other_patient):
    doctor = prescriber()
    made = [order_for(who, doctor) for who in (patient, other_patient, patient)]
    assert tallied() == counted()
    assert sum(tallied().values()) == 3

    order_transition(order=made[0], to=OrderStatus.SENT_TO_PHARMACY, source=EventSource.SYSTEM)
    assert tallied() == counted()

    moved = DeliveryOrder.objects.filter(pk__in=[made[1].pk, made[2].pk])
    moved.update(status=OrderStatus.SHIPPED)
    DeliveryOrder.objects.filter(pk__in=[made[0].pk, made[2].pk]).update(ship_to_state="NJ")
    assert tallied() == counted()
    assert tallied() == Counter(
        [("NJ", "sent_to_pharmacy"), (made[1].ship_to_state, "shipped"), ("NJ", "shipped")]
    )

    rows_before = DeliveryTally.objects.count()
    made[0].refresh_from_db()
    made[0].save()  # every column written, no count changed: nothing appended
    DeliveryOrder.objects.filter(pk=made[0].pk).update(tracking_number="1Z")
    assert DeliveryTally.objects.count() == rows_before

    # The application never deletes an order (its rows protect it); a purge would.
    for model in (DeliveryEvent, PharmacySubmission, StatusReport, LocalPharmacyReceipt):
        model.objects.filter(order=made[1]).delete()
    DeliveryOrder.objects.filter(pk=made[1].pk).delete()
    assert tallied() == counted() == Counter([("NJ", "sent_to_pharmacy"), ("NJ", "shipped")])


def test_folding_changes_no_sum_and_leaves_one_row_per_count(patient, other_patient):
    doctor = prescriber()
    for who, status in ((patient, "shipped"), (other_patient, "shipped"), (patient, None)):
        order_for(who, doctor, status=status)
    # Every count so far gone to zero but one.
    DeliveryOrder.objects.update(status=OrderStatus.DELIVERED, ship_to_state="FL")
    order_for(patient, doctor, ship_to_state="NJ")
    before = tallied()
    assert DeliveryTally.objects.count() > len(before)

    assert delivery_tally_fold() == 2
    assert tallied() == before == counted()
    rows = DeliveryTally.objects.values_list("ship_to_state", "status", "orders")
    assert sorted(rows) == [("FL", "delivered", 3), ("NJ", "created", 1)]
    assert delivery_tally_fold() == 2  # again: the same
    assert tallied() == before


def test_truncating_the_orders_empties_the_tally(patient):
    order_for(patient, prescriber())
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no foreign key check left pending
        cursor.execute("TRUNCATE prescriptions_deliveryorder CASCADE")
    assert not DeliveryTally.objects.exists()
    assert tallied() == counted() == Counter()
