"""The local pharmacy in `make run`: once an order reaches it, the beat task plays the
pharmacy and the carrier, one signed report per due step, through our own webhook
endpoints, until the order is delivered; a step played twice changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from prescriptions.models import OrderStatus, StatusReport
from prescriptions.pharmacy.local_play import local_tracking_number, play_due
from prescriptions.services.submission import submission_send
from prescriptions.tasks import play_local_pharmacy
from tests.prescriptions.support import carrier
from tests.prescriptions.support_pharmacy import new_order

pytestmark = pytest.mark.django_db


class Posts:
    """A transport for play_due: the request goes to our test client, not the network."""

    def __init__(self) -> None:
        self.client = APIClient()
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.bodies: list[bytes] = []
        self.answers: list[Any] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        path = url.removeprefix(settings.PUBLIC_BASE_URL.rstrip("/"))
        self.calls.append((path, headers))
        self.bodies.append(body)
        extra = {k: v for k, v in headers.items() if k != "Content-Type"}
        response: Any = self.client.post(
            path, data=body, content_type="application/json", headers=extra
        )
        self.answers.append(response.json())
        return int(response.status_code)


def test_the_local_pharmacy_plays_an_order_to_delivered(patient, physician, settings):
    settings.LOCAL_PHARMACY_STEP_SECONDS = 0
    ups = carrier("ups")
    order = new_order(patient, physician)
    submission_send(submission_id=order.submission.pk)
    posts = Posts()
    seen = []
    for _ in range(4):
        assert play_due(transport=posts) == 1
        order.refresh_from_db()
        seen.append(order.status)
    assert seen == ["compounding", "shipped", "out_for_delivery", "delivered"]
    assert (order.carrier, order.tracking_number) == (ups, local_tracking_number(order))
    assert order.delivered_signed_by
    sources = list(order.events.order_by("pk").values_list("source", flat=True))
    assert sources == ["system", "system", "pharmacy", "pharmacy", "carrier", "carrier"]
    assert [path.split("/")[4] for path, _ in posts.calls] == ["pharmacies"] * 2 + ["carriers"] * 2
    assert play_due(transport=posts) == 0  # delivered: nothing more to play
    assert StatusReport.objects.filter(applied_at__isnull=False).count() == 4


def test_a_step_waits_for_its_time(patient, physician, settings):
    settings.LOCAL_PHARMACY_STEP_SECONDS = 3600
    order = new_order(patient, physician)
    submission_send(submission_id=order.submission.pk)
    assert play_due(transport=Posts()) == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT_TO_PHARMACY


def test_a_step_played_twice_is_a_duplicate(patient, physician, settings):
    settings.LOCAL_PHARMACY_STEP_SECONDS = 0
    order = new_order(patient, physician)
    submission_send(submission_id=order.submission.pk)
    posts = Posts()
    play_due(transport=posts)
    order.refresh_from_db()
    events = order.events.count()
    # The same report again (its event id comes from the order and the status).
    path, headers = posts.calls[0]
    assert posts(settings.PUBLIC_BASE_URL + path, posts.bodies[0], headers) == 200
    assert posts.answers == [{"outcome": "applied"}, {"outcome": "duplicate"}]
    assert StatusReport.objects.count() == 1
    assert order.events.count() == events


def test_orders_the_local_pharmacy_never_received_are_left_alone(patient, physician, settings):
    settings.LOCAL_PHARMACY_STEP_SECONDS = 0
    order = new_order(patient, physician, status=OrderStatus.SENT_TO_PHARMACY)
    assert play_due(transport=Posts()) == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT_TO_PHARMACY


def test_the_beat_task_does_nothing_with_another_backend(patient, physician, settings):
    settings.LOCAL_PHARMACY_STEP_SECONDS = 0
    order = new_order(patient, physician)
    submission_send(submission_id=order.submission.pk)
    settings.PHARMACY_BACKEND = "prescriptions.pharmacy.http.HttpPharmacy"
    assert play_local_pharmacy() == 0
