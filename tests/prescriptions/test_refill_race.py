"""Concurrent refill requests on PostgreSQL: real threads, each with its own connection,
released together by a barrier. The prescription row's lock puts them in line: the first
makes the order, every later one finds it and answers it (200), none makes another."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection

from prescriptions.models import DeliveryOrder
from tests.actors import client_for
from tests.prescriptions.support_refill import (
    EARLIEST,
    NOW,
    prescription_filled,
    ready_for_refill,
    refill,
)

pytestmark = pytest.mark.django_db(transaction=True)


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once, one thread each; their results, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # kept: a thread's crash must fail the test, not vanish
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


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
