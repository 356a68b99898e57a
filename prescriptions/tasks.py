"""Prescriptions' Celery tasks: ids only (no PHI in the broker), safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from prescriptions.pharmacy.base import is_local_backend
from prescriptions.pharmacy.local_play import play_due
from prescriptions.services.overdue import overdue_orders_flag
from prescriptions.services.submission import submission_send, submissions_dispatch
from prescriptions.services.tally import delivery_tally_fold

# --- the pharmacy hand-off --------------------------------------------------------------


@shared_task(ignore_result=True)
def send_pharmacy_submission(submission_id: int) -> str:
    """Send one order to its pharmacy if its outbox row is due (claimed once)."""
    return submission_send(submission_id=submission_id)


@shared_task(ignore_result=True)
def dispatch_pharmacy_submissions() -> int:
    """Beat: every due hand-off, and those a dead worker left in `sending`."""
    return submissions_dispatch()


@shared_task(ignore_result=True)
def play_local_pharmacy() -> int:
    """Beat: the local pharmacy and carrier post their due status reports (`make run`);
    nothing with any other PHARMACY_BACKEND."""
    if not is_local_backend(settings.PHARMACY_BACKEND):
        return 0
    return play_due()


# --- delivery orders overdue -------------------------------------------------------------


@shared_task(ignore_result=True)
def flag_overdue_orders() -> int:
    """Beat runs this every DELIVERY_OVERDUE_INTERVAL_SECONDS: orders not shipped or not
    delivered in time are flagged once, and each ops admin alerted once per order."""
    return overdue_orders_flag()


@shared_task(ignore_result=True)
def fold_delivery_tally() -> int:
    """Beat: the delivery tally's rows folded into one per (state, status)."""
    return delivery_tally_fold()
