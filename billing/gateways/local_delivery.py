"""The local gateway's webhook deliveries: its outbox (`LocalGatewayDelivery`) POSTed to our
own webhook endpoint, signed as Stripe signs. Apart from the local gateway so that the task
that runs it (billing.tasks) and the gateway that enqueues it import in one direction only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

import requests  # noqa: TID251
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.gateways.shapes import signature_header
from billing.models import LocalGatewayDelivery

WEBHOOK_PATH: Final = "/api/billing/stripe/webhook"
Transport = Callable[[str, bytes, dict[str, str]], int]


def _http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return requests.post(url, data=body, headers=headers, timeout=10).status_code


def deliver_pending(*, transport: Transport | None = None, limit: int = 100) -> int:
    """POST owed events, oldest first, each signed as Stripe signs; a 2xx answer marks it
    delivered, anything else leaves it for the next run. Returns how many were delivered.
    `transport(url, body, headers) -> status` defaults to HTTP to PUBLIC_BASE_URL."""
    post = transport or _http_post
    url = settings.PUBLIC_BASE_URL.rstrip("/") + WEBHOOK_PATH
    delivered = 0
    for _ in range(limit):
        with transaction.atomic():
            delivery = (
                LocalGatewayDelivery.objects.select_for_update(skip_locked=True)
                .filter(delivered_at__isnull=True)
                .order_by("created_at", "event_id")
                .first()
            )
            if delivery is None:
                break
            body = json.dumps(delivery.payload).encode()
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": signature_header(body, settings.STRIPE_WEBHOOK_SECRET),
            }
            try:
                status = post(url, body, headers)
            except requests.RequestException:
                status = 0
            delivery.attempts += 1
            delivery.last_status = status
            if 200 <= status < 300:
                delivery.delivered_at = timezone.now()
                delivered += 1
            delivery.save()
            if not delivery.delivered_at:
                break  # keep the order: try again on the next run
    return delivered
