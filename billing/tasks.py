"""Billing's periodic work. Tasks take no arguments (ids at most): no PHI in the broker."""

from __future__ import annotations

from celery import shared_task

from billing import services
from billing.gateways import local


@shared_task(ignore_result=True)
def sync_memberships() -> int:
    """Daily: refetch every subscription and invoice to repair missed webhooks."""
    return services.memberships_sync()


@shared_task(ignore_result=True)
def deliver_local_events() -> int:
    """The local gateway's webhook deliveries (nothing to do with real Stripe)."""
    return local.deliver_pending()
