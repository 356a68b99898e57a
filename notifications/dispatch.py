"""The dispatcher: claim due messages, apply the rules, send, record the outcome.

Exactly-once, as far as a provider without idempotency keys allows:
- claiming is `SELECT ... FOR UPDATE SKIP LOCKED` + status `claimed` with a fresh token,
  so two dispatchers never hold the same message;
- `send_started_at` is committed just before the provider call, and every later write is
  conditional on the claim token;
- a claim abandoned by a dead worker is returned to the queue only if the provider was
  never called; otherwise it ends as failed/outcome_unknown (the provider's status
  callback, which names our message id, still moves it to sent or delivered).

One bad message never stops the outbox: an unexpected error while applying the rules to,
rendering or sending one message ends that message as failed/internal_error and the batch
goes on. A run stops within its time budget (NOTIFY_DISPATCH_TIME_BUDGET_SECONDS, below the
Celery soft time limit) and hands back the messages it claimed but did not start.

A message with an `expires_at` is never sent at or after it: one found due past it, or
one whose quiet hours or daily cap would hold it until then, or one whose send would start
past it (a slow batch), ends as suppressed with reason `expired`. Retries count too: a
backoff that lands past the expiry ends it at its next claim.

Every channel speaks the same send errors (`notifications.errors`): SMS backends chosen by
SMS_BACKEND, email through Django's EMAIL_BACKEND (`notifications.email`). A transient error
puts the message back in the queue with exponential backoff until NOTIFY_MAX_ATTEMPTS, then
it fails as retries_exhausted; an uncertain one fails it as outcome_unknown, never resent;
a permanent one fails it as permanent_error (opted_out / invalid_number when the error is
about the number, which is then flagged).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.phones import phone_lookup_hash
from notifications.directory import Contact, contacts_for_users
from notifications.email import OutgoingEmail, email_send
from notifications.errors import PermanentSendError, TransientSendError, UncertainSendError
from notifications.models import Channel, Consent, Message, MessageStatus, PhoneStatus
from notifications.phone_status import phone_flag
from notifications.rules import consent_allows, quiet_hours_release
from notifications.sms.base import InvalidNumber, OptedOutNumber, OutgoingSms, get_sms_backend
from notifications.templates import render_email, render_sms

logger = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome_unknown"
INTERNAL_ERROR = "internal_error"
EXPIRED = "expired"

# The budget clock; a module attribute so tests can drive it.
_clock = time.monotonic


@dataclass
class DispatchStats:
    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    retried: int = 0
    failed: int = 0
    reclaimed: int = 0
    released: int = 0  # claimed, not started before the time budget ran out, given back
    out_of_time: bool = False


@dataclass(frozen=True)
class Claimed:
    message: Message
    contact: Contact


def dispatch_due(*, max_batches: int | None = None) -> DispatchStats:
    """Drain what is due now, batch by batch, within the time budget. Safe to run in many
    workers at once.

    Every run gets through at least one batch of rules and one send, whatever the budget,
    so a tiny budget slows the outbox down but never stops it.
    """
    budget = settings.NOTIFY_DISPATCH_TIME_BUDGET_SECONDS
    deadline = _clock() + budget
    stats = DispatchStats()
    stats.reclaimed = reclaim_abandoned()
    batches = delivered = 0
    while max_batches is None or batches < max_batches:
        if batches and _clock() >= deadline:
            stats.out_of_time = True
            break
        due, claimed = _claim_batch(stats)
        if not due:
            break
        batches += 1
        delivered += _deliver_batch(claimed, stats, deadline, may_stop=delivered > 0)
        if stats.out_of_time:
            break
    return stats


def _deliver_batch(
    claimed: list[Claimed], stats: DispatchStats, deadline: float, *, may_stop: bool
) -> int:
    """Send the claimed messages in order; once the budget is spent, release the rest.
    Returns how many were handled. `may_stop` is False until the run has handled one.

    The release also runs when a send raises something unexpected, so this run never
    leaves a message claimed that it did not start."""
    done = 0
    try:
        for item in claimed:
            if (done or may_stop) and _clock() >= deadline:
                stats.out_of_time = True
                break
            deliver(item, stats)
            done += 1
    finally:
        if done < len(claimed):
            stats.released += _release(claimed[done:])
    return done


def _release(items: list[Claimed]) -> int:
    """Give back claims this run holds but never started: scheduled again, the attempt
    it counted undone. A claim whose send started is never released (it may be out)."""
    released = Message.objects.filter(
        pk__in=[item.message.pk for item in items],
        status=MessageStatus.CLAIMED,
        claim_token=items[0].message.claim_token,
        send_started_at__isnull=True,
    ).update(
        status=MessageStatus.SCHEDULED,
        claim_token=None,
        claimed_at=None,
        attempts=F("attempts") - 1,
    )
    if released:
        logger.info("time budget spent; released %d claimed messages", released)
    return released


def reclaim_abandoned() -> int:
    """Claims older than the timeout belong to dead workers."""
    cutoff = timezone.now() - settings.NOTIFY_CLAIM_TIMEOUT
    stale = Message.objects.filter(status=MessageStatus.CLAIMED, claimed_at__lt=cutoff)
    requeued = stale.filter(send_started_at__isnull=True).update(
        status=MessageStatus.SCHEDULED, claim_token=None, claimed_at=None
    )
    unknown = stale.filter(send_started_at__isnull=False).update(
        status=MessageStatus.FAILED, failed_at=timezone.now(), status_reason=OUTCOME_UNKNOWN
    )
    if unknown:
        logger.warning("%d abandoned messages may have been sent; not resending", unknown)
    return requeued + unknown


def _claim_batch(stats: DispatchStats) -> tuple[int, list[Claimed]]:
    """Lock one batch of due messages and apply the rules; returns how many were due and
    those claimed for sending (the others were suppressed, deferred or failed)."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.SCHEDULED, send_at__lte=now)
            .order_by("send_at", "id")[: settings.NOTIFY_BATCH_SIZE]
        )
        if not due:
            return 0, []
        recipient_ids = list({m.recipient_id for m in due})
        contacts = contacts_for_users(recipient_ids)
        consents = {
            (c.user_id, c.category, c.channel): c
            for c in Consent.objects.filter(user_id__in=recipient_ids)
        }
        phones = {
            phone
            for contact in contacts.values()
            for phone in (contact.phone, contact.unverified_phone)
            if phone
        }
        phone_status = {
            s.phone_hash: s
            for s in PhoneStatus.objects.filter(
                phone_hash__in=[phone_lookup_hash(p) for p in phones]
            )
        }
        # The daily cap counts what went out in the last 24 hours and what other
        # dispatchers hold claimed right now (about to go out), so that together they
        # cannot exceed it. A claim counts from its claim time until it is sent.
        window_start = now - timedelta(days=1)
        recent = {
            row["recipient_id"]: (row["count"], row["oldest"] or now)
            for row in Message.objects.filter(recipient_id__in=recipient_ids, urgent=False)
            .filter(Q(sent_at__gte=window_start) | Q(status=MessageStatus.CLAIMED))
            .values("recipient_id")
            .annotate(count=Count("id"), oldest=Min(Coalesce("sent_at", "claimed_at")))
        }
        claimed_now: dict[int, int] = defaultdict(int)
        claimed: list[Claimed] = []
        suppressed: dict[str, list[int]] = defaultdict(list)
        failed: list[int] = []
        deferred: list[Message] = []
        token = uuid.uuid4()
        for message in due:
            contact = contacts.get(message.recipient_id)
            if contact is not None:
                contact = contact.for_category(message.category)
            try:
                reason = _suppression_reason(message, contact, consents, phone_status)
                release = (
                    now
                    if reason or contact is None
                    else _release_time(message, contact, now, recent, claimed_now)
                )
                if _expired(message, release):
                    reason = EXPIRED
            except Exception as exc:
                # A message the rules cannot judge must not hold back the batch (an
                # exception here would roll the whole claim back, on every run).
                logger.error(  # no traceback: its text could quote values
                    "internal error applying the rules to message=%s error=%s",
                    message.public_id,
                    type(exc).__name__,
                )
                failed.append(message.pk)
                stats.failed += 1
                continue
            if reason or contact is None:
                suppressed[reason or "no_recipient"].append(message.pk)
                stats.suppressed += 1
                continue
            if release > now:
                message.send_at = release
                deferred.append(message)
                stats.deferred += 1
                continue
            if not message.urgent:
                claimed_now[message.recipient_id] += 1
            message.status = MessageStatus.CLAIMED
            message.claim_token = token
            message.claimed_at = now
            message.attempts += 1
            claimed.append(Claimed(message, contact))
        # A few set-based UPDATEs rather than bulk_update: its per-row CASE expressions
        # cost more CPU than the sends themselves (see benchmarks/).
        Message.objects.filter(pk__in=[item.message.pk for item in claimed]).update(
            status=MessageStatus.CLAIMED,
            claim_token=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
        for reason, ids in suppressed.items():
            Message.objects.filter(pk__in=ids).update(
                status=MessageStatus.SUPPRESSED, status_reason=reason, suppressed_at=now
            )
        if failed:
            Message.objects.filter(pk__in=failed).update(
                status=MessageStatus.FAILED, status_reason=INTERNAL_ERROR, failed_at=now
            )
        if deferred:
            Message.objects.bulk_update(deferred, ["send_at"])
    return len(due), claimed


def _expired(message: Message, at: datetime) -> bool:
    """Whether sending `message` at `at` would be at or past its expiry."""
    return message.expires_at is not None and at >= message.expires_at


def _suppression_reason(
    message: Message,
    contact: Contact | None,
    consents: dict[tuple[int, str, str], Consent],
    phone_status: dict[str, PhoneStatus],
) -> str:
    if contact is None:
        return "no_recipient"
    consent = consents.get((message.recipient_id, message.category, message.channel))
    if not consent_allows(consent, channel=message.channel, category=message.category):
        return "no_consent"
    if message.channel == Channel.SMS:
        if not contact.phone:
            return "phone_unverified" if contact.unverified_phone else "no_phone"
        status = phone_status.get(phone_lookup_hash(contact.phone))
        if status and status.opted_out_at:
            return "opted_out"
        if status and status.invalid_at:
            return "invalid_number"
    elif not contact.email:
        return "no_email"
    return ""


def _release_time(
    message: Message,
    contact: Contact,
    now: datetime,
    recent: dict[int, tuple[int, datetime]],
    claimed_now: dict[int, int],
) -> datetime:
    """When a non-urgent message may go: after quiet hours and under the daily cap."""
    if message.urgent:
        return now
    release = now
    count, oldest = recent.get(message.recipient_id, (0, now))
    if count + claimed_now[message.recipient_id] >= settings.NOTIFY_DAILY_CAP:
        release = max(oldest, now - timedelta(days=1)) + timedelta(days=1)
    return quiet_hours_release(release, contact.time_zone)


def deliver(item: Claimed, stats: DispatchStats) -> None:
    """Send one claimed message and record what the provider call came to."""
    message, contact = item.message, item.contact
    mine = Message.objects.filter(
        pk=message.pk, status=MessageStatus.CLAIMED, claim_token=message.claim_token
    )
    if _expired(message, timezone.now()):  # the batch took longer than the message had
        _record_outcome(
            mine.filter(send_started_at__isnull=True),
            status=MessageStatus.SUPPRESSED,
            status_reason=EXPIRED,
            suppressed_at=timezone.now(),
            claim_token=None,
        )
        stats.suppressed += 1
        return
    if not mine.filter(send_started_at__isnull=True).update(send_started_at=timezone.now()):
        return  # reclaimed by someone else meanwhile
    try:
        provider_id = _send(message, contact)
    except TransientSendError as exc:
        if message.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            _fail(mine, "retries_exhausted", exc.code, stats)
            return
        backoff = settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** (message.attempts - 1)
        _record_outcome(
            mine,
            status=MessageStatus.SCHEDULED,
            send_at=timezone.now() + timedelta(seconds=backoff),
            claim_token=None,
            claimed_at=None,
            send_started_at=None,
            provider_error_code=exc.code,
            status_reason="transient_error",
        )
        stats.retried += 1
        return
    except UncertainSendError as exc:
        _fail(mine, OUTCOME_UNKNOWN, exc.code, stats)
        return
    except OptedOutNumber as exc:
        phone_flag(phone=contact.phone, opted_out=True, source=f"provider_{exc.code}")
        _fail(mine, "opted_out", exc.code, stats)
        return
    except InvalidNumber as exc:
        phone_flag(phone=contact.phone, invalid_code=exc.code)
        _fail(mine, "invalid_number", exc.code, stats)
        return
    except PermanentSendError as exc:
        _fail(mine, "permanent_error", exc.code, stats)
        return
    except Exception as exc:
        # A bug or a misconfiguration (a template that no longer exists, a backend that
        # cannot start): end this message, keep the batch going. Only the exception type
        # and our id are logged; its text could quote the body or the number.
        logger.error(
            "internal error sending message=%s error=%s",
            message.public_id,
            type(exc).__name__,
        )
        _fail(mine, INTERNAL_ERROR, "", stats)
        return
    _record_outcome(
        mine,
        status=MessageStatus.SENT,
        sent_at=timezone.now(),
        provider_message_id=provider_id,
        provider_error_code="",
        status_reason="",
    )
    stats.sent += 1


def _record_outcome(mine: QuerySet[Message], **fields: Any) -> None:
    """Write what the provider call came to without waiting for the WAL flush.

    Safe because send_started_at was committed durably before the call: if a crash loses
    this write, the message stays claimed-and-started and ends as outcome_unknown; it is
    never sent again. Halves the flush waits per message."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        mine.update(**fields)


def _fail(mine: QuerySet[Message], reason: str, code: str, stats: DispatchStats) -> None:
    _record_outcome(
        mine,
        status=MessageStatus.FAILED,
        failed_at=timezone.now(),
        status_reason=reason,
        provider_error_code=code,
    )
    stats.failed += 1


def _send(message: Message, contact: Contact) -> str:
    if message.channel == Channel.SMS:
        body = render_sms(message.template_key, message.context)
        sent = get_sms_backend().send(
            OutgoingSms(
                to=contact.phone,
                body=body,
                message_id=str(message.public_id),
                attempt=message.attempts,
            )
        )
        return sent.provider_message_id
    subject, body = render_email(message.template_key, message.context)
    return email_send(
        OutgoingEmail(
            to=contact.email, subject=subject, body=body, message_id=str(message.public_id)
        )
    )
