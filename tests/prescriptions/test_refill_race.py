"""Concurrent refill requests on PostgreSQL: real threads, each with its own connection,
released together by a barrier. The prescription row's lock puts them in line: the first
makes the order, every later one finds it and answers it (200), none makes another."""

from __future__ import annotations

import pytest
import time_machine

from prescriptions.models import DeliveryOrder
from tests.actors import client_for
from tests.concurrency import race
from tests.prescriptions.support_refill import (
    EARLIEST,
    NOW,
    prescription_filled,
    ready_for_refill,
    refill,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_ten_concurrent_requests_make_one_order(patient, physician):
    with time_machine.travel(NOW, tick=False):
        ready_for_refill(patient)
        prescription = prescription_filled(patient, physician)
    with time_machine.travel(EARLIEST, tick=False):
        clients = [client_for(patient) for _ in range(10)]
        responses = race([lambda c=c: refill(patient, prescription, client=c) for c in clients])

    assert not [r for r in responses if isinstance(r, BaseException)], responses
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [
        r.content[:200] for r in responses
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    refills = DeliveryOrder.objects.filter(prescription=prescription, kind="refill")
    assert refills.count() == 1
    # Made once (the hand-off to the pharmacy may have followed on commit).
    assert refills.get().events.filter(to_status="created").count() == 1
