"""The pharmacy hand-off outbox: each delivery order's PharmacySubmission, sent once.

`order_create` makes the row and `submission_enqueue` queues its task on commit (ids
only). `submission_send`:

1. claims the row with a conditional UPDATE (pending and due -> sending, one attempt
   more): a second run, or a concurrent worker, claims nothing and does nothing;
2. refuses to send an order that is no longer `created` (canceled, say): the row fails
   with `order_<status>` and nothing leaves;
3. builds the 503A payload (PHI: here, at send time, and nowhere else), audits the
   disclosure, and hands it to the PHARMACY_BACKEND with the row's idempotency key,
   the same on every attempt, with no transaction or lock held;
4. on a receipt: the row is `sent` and the order moves to `sent_to_pharmacy`
   (order_transition, source system); on a transient error: back to `pending`, due again
   after a growing delay (until MAX_ATTEMPTS, then as permanent); on a permanent error:
   `failed`, and every ops admin gets one email (dedupe key per submission).

`submissions_dispatch` (the beat task) hands back to `pending` the rows stuck in
`sending` (a worker that died after sending: the retry carries the same key, so the
pharmacy drops the duplicate; after MAX_ATTEMPTS such claims the row fails, with the
alert) and sends every due row.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Role, User
from audit.services import audit_write
from core.errors import Conflict
from notifications.errors import PermanentSendError, TransientSendError
from notifications.models import Category, Channel
from notifications.services import message_schedule
from prescriptions.models import (
    EventSource,
    OrderStatus,
    PharmacySubmission,
    SubmissionStatus,
)
from prescriptions.pharmacy.base import PharmacyReceipt, get_pharmacy_backend
from prescriptions.selectors.pharmacy_order import pharmacy_order_payload
from prescriptions.services.orders import order_transition
from prescriptions.services.webhooks import status_reports_settle

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
FIRST_RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 3600
ALERT_TEMPLATE = "order_handoff_failed"


def submission_enqueue(submission: PharmacySubmission) -> None:
    """Send `submission` once the current transaction commits (its id only)."""
    from prescriptions.tasks import send_pharmacy_submission  # tasks import this module

    submission_id = submission.pk
    transaction.on_commit(lambda: send_pharmacy_submission.delay(submission_id))


def retry_delay(attempts: int) -> timedelta:
    """1 minute after the first failed attempt, doubling, at most an hour."""
    return timedelta(
        seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
    )


def stuck_after() -> timedelta:
    """A `sending` row claimed longer ago than this belongs to a worker that died."""
    return timedelta(seconds=max(300.0, 3 * settings.PHARMACY_TIMEOUT_SECONDS))


def submission_send(*, submission_id: int) -> str:
    """Send one submission if it is due (module docstring); returns what happened:
    "not_due", "sent", "retry", "failed" or "skipped"."""
    now = timezone.now()
    claimed = PharmacySubmission.objects.filter(
        pk=submission_id, status=SubmissionStatus.PENDING, next_attempt_at__lte=now
    ).update(status=SubmissionStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return "not_due"
    submission = PharmacySubmission.objects.select_related("order__pharmacy").get(pk=submission_id)
    order = submission.order
    if order.status != OrderStatus.CREATED:
        _finish(submission, status=SubmissionStatus.FAILED, error=f"order_{order.status}")
        return "skipped"
    payload = pharmacy_order_payload(submission)
    audit_write(
        order,
        actor=None,
        action="delivery_order.disclose",
        detail={"pharmacy": str(order.pharmacy.public_id), "attempt": submission.attempts},
    )
    try:
        receipt = get_pharmacy_backend().send(
            payload=payload,
            pharmacy=order.pharmacy,
            idempotency_key=str(submission.idempotency_key),
        )
    except TransientSendError as error:
        if submission.attempts < MAX_ATTEMPTS:
            _retry(submission, error.code or "transient")
            return "retry"
        _fail(submission, error.code or "transient")
        return "failed"
    except PermanentSendError as error:
        _fail(submission, error.code or "permanent")
        return "failed"
    _sent(submission, receipt)
    return "sent"


def submissions_dispatch(*, limit: int = 200) -> int:
    """Reclaim rows stuck in `sending`, then send every due row (oldest first); returns
    how many were sent."""
    now = timezone.now()
    stuck = PharmacySubmission.objects.filter(
        status=SubmissionStatus.SENDING, claimed_at__lt=now - stuck_after()
    )
    # A row that keeps dying mid-send (a crash, not an answer) stops after MAX_ATTEMPTS too.
    for submission in stuck.filter(attempts__gte=MAX_ATTEMPTS).select_related("order"):
        _fail(submission, "stuck")
    stuck.update(status=SubmissionStatus.PENDING, next_attempt_at=now)
    due = PharmacySubmission.objects.filter(
        status=SubmissionStatus.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    outcomes = [
        submission_send(submission_id=pk) for pk in due.values_list("pk", flat=True)[:limit]
    ]
    return outcomes.count("sent")


def _finish(
    submission: PharmacySubmission, *, status: str, error: str = "", **fields: object
) -> None:
    PharmacySubmission.objects.filter(pk=submission.pk, status=SubmissionStatus.SENDING).update(
        status=status, last_error=error[:200], **fields
    )


def _retry(submission: PharmacySubmission, code: str) -> None:
    logger.warning("pharmacy submission %s: transient %s", submission.pk, code)
    _finish(
        submission,
        status=SubmissionStatus.PENDING,
        error=code,
        next_attempt_at=timezone.now() + retry_delay(submission.attempts),
    )


@transaction.atomic
def _sent(submission: PharmacySubmission, receipt: PharmacyReceipt) -> None:
    now = timezone.now()
    _finish(
        submission,
        status=SubmissionStatus.SENT,
        sent_at=now,
        pharmacy_reference=receipt.reference[:128],
    )
    try:
        order_transition(
            order=submission.order,
            to=OrderStatus.SENT_TO_PHARMACY,
            source=EventSource.SYSTEM,
            at=now,
        )
        status_reports_settle(submission.order)  # a quick pharmacy's report may be waiting
    except Conflict:
        # Canceled (or moved on by a status report) while we were sending: the pharmacy
        # has it all the same; the timeline keeps the later status.
        logger.warning("pharmacy submission %s: order moved on while sending", submission.pk)


@transaction.atomic
def _fail(submission: PharmacySubmission, code: str) -> None:
    logger.error("pharmacy submission %s: failed (%s)", submission.pk, code)
    _finish(submission, status=SubmissionStatus.FAILED, error=code)
    for admin in User.objects.filter(role=Role.OPS_ADMIN, is_active=True):
        message_schedule(
            recipient=admin,
            template_key=ALERT_TEMPLATE,
            category=Category.CARE,
            channel=Channel.EMAIL,
            dedupe_key=f"pharmacy-handoff-failed:{submission.pk}:{admin.pk}",
            context={"path": submission.order.ops_path},
            urgent=True,
        )
