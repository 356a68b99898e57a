"""Concurrent replacement requests for one lost package on PostgreSQL: real threads, each
with its own connection, released together. The lock on the original makes them take
turns: one replacement, every other request a 409 `replacement_exists`."""

from __future__ import annotations

import pytest

from prescriptions.models import DeliveryOrder, OrderKind
from tests.actors import client_for
from tests.concurrency import race
from tests.prescriptions.support_ops import order_for

pytestmark = pytest.mark.django_db(transaction=True)


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
