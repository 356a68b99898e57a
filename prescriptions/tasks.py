"""Prescriptions' periodic work. Tasks take no arguments (ids at most): no PHI in the broker."""

from __future__ import annotations

from celery import shared_task

from prescriptions.services.overdue import overdue_orders_flag


@shared_task(ignore_result=True)
def flag_overdue_orders() -> int:
    """Beat runs this every DELIVERY_OVERDUE_INTERVAL_SECONDS: orders not shipped or not
    delivered in time are flagged once, and each ops admin alerted once per order."""
    return overdue_orders_flag()
