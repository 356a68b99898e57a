"""Billing's periodic work. Tasks take no arguments (ids at most): no PHI in the broker."""

from __future__ import annotations

from celery import shared_task

from billing.gateways.local_delivery import deliver_pending
from billing.models import BillingCustomer
from billing.services.sync import memberships_sync


@shared_task(ignore_result=True)
def sync_memberships() -> int:
    """Daily: one task per customer (each refetches and mirrors that customer), so a
    practice of any size fits in the task time limits and one failure skips one customer."""
    customer_ids = list(BillingCustomer.objects.values_list("pk", flat=True))
    for customer_pk in customer_ids:
        sync_customer.delay(customer_pk)
    return len(customer_ids)


@shared_task(ignore_result=True)
def sync_customer(customer_pk: int) -> int:
    customer = BillingCustomer.objects.filter(pk=customer_pk).first()
    if customer is None:
        return 0
    return memberships_sync(customer_ids=[customer.gateway_customer_id])


@shared_task(ignore_result=True)
def deliver_local_events() -> int:
    """The local gateway's webhook deliveries (nothing to do with real Stripe)."""
    return deliver_pending()
