"""Concurrent replacement requests for one lost package on PostgreSQL: real threads, each
with its own connection, released together. The lock on the original makes them take
turns: one replacement, every other request a 409 `replacement_exists`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from prescriptions.models import DeliveryOrder, OrderKind
from tests.actors import client_for
from tests.prescriptions.support_ops import order_for

pytestmark = pytest.mark.django_db(transaction=True)


def race(calls: list[Callable[[], Any]]) -> list[Any]:
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


def test_eight_concurrent_requests_make_one_replacement(patient, physician, ops_admin):
    order = order_for(patient, physician, status="exception")
    url = f"/api/prescriptions/deliveries/{order.public_id}/replacement"
    clients = [client_for(ops_admin) for _ in range(8)]
    responses = race(
        [lambda c=c: c.post(url, {"reason": "Lost in transit"}, format="json") for c in clients]
    )
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "replacement_exists"
    }
    assert DeliveryOrder.objects.filter(kind=OrderKind.REPLACEMENT, replaces=order).count() == 1
