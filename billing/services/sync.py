"""Reconciliation: refetch what the gateway holds and mirror it, repairing missed webhooks."""

from __future__ import annotations

import logging

from django.db import transaction

from billing.gateways import base as gw
from billing.gateways.registry import gateway
from billing.models import BillingCustomer, InvoiceStatus
from billing.services.mirror import gateway_now, invoice_apply, subscription_apply

logger = logging.getLogger(__name__)


def memberships_sync(*, customer_ids: list[str] | None = None) -> int:
    """Refetch every customer's subscriptions and invoices from the gateway and mirror
    them, repairing missed webhooks. One customer per transaction; returns how many were
    synced. A gateway failure for one customer is logged (by id) and skipped."""
    customers = BillingCustomer.objects.order_by("id")
    if customer_ids is not None:
        customers = customers.filter(gateway_customer_id__in=customer_ids)
    synced = 0
    for customer_id in customers.values_list("gateway_customer_id", flat=True).iterator():
        try:
            _customer_sync(customer_id)
        except gw.GatewayError as error:
            logger.warning("billing sync skipped customer %s: %s", customer_id, error.code)
            continue
        synced += 1
    return synced


def _customer_sync(customer_id: str) -> None:
    # Stamped before fetching: a change made while we fetch is newer than our snapshot,
    # and its own webhook must still apply.
    fetched_at = gateway_now()
    subscriptions = gateway().subscriptions_for_customer(customer_id)
    invoices = gateway().invoices_for_customer(customer_id)
    with transaction.atomic():
        for subscription in subscriptions:
            subscription_apply(subscription, at=fetched_at, source="sync")
        for invoice in invoices:
            # Open with payment attempts behind it: a failure whose webhook we missed.
            failed = invoice.status == InvoiceStatus.OPEN and invoice.attempt_count > 0
            invoice_apply(invoice, at=fetched_at, source="sync", payment_failed=failed)
