"""The dispatcher: claim due messages, apply the rules, send, record the outcome.

Exactly-once, as far as a provider without idempotency keys allows:
- claiming is `SELECT ... FOR UPDATE SKIP LOCKED` + status `claimed` with a fresh token,
  so two dispatchers never hold the same message;
- `send_started_at` is committed just before the provider call, and every later write is
  conditional on the claim token;
- a claim abandoned by a dead worker is returned to the queue only if the provider was
  never called; otherwise it ends as failed/outcome_unknown (the provider's status
  callback, which names our message id, still moves it to sent or delivered).
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from notifications.models import Channel, Consent, Message, MessageStatus, PhoneStatus
from notifications.rules import quiet_hours_release
from notifications.services import consent_allows, phone_flag
from notifications.sms import get_sms_backend
from notifications.sms.base import (
    InvalidNumber,
    OptedOutNumber,
    OutgoingSms,
    PermanentSmsError,
    TransientSmsError,
    UncertainSmsError,
)
from notifications.templates import render_email, render_sms
from patients.models import phone_lookup_hash
from patients.selectors import Contact, contacts_for_users

logger = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome_unknown"


@dataclass
class DispatchStats:
    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    retried: int = 0
    failed: int = 0
    reclaimed: int = 0


@dataclass(frozen=True)
class Claimed:
    message: Message
    contact: Contact


def dispatch_due(*, max_batches: int | None = None) -> DispatchStats:
    """Drain what is due now, batch by batch. Safe to run in many workers at once."""
    stats = DispatchStats()
    stats.reclaimed = reclaim_abandoned()
    batches = 0
    while max_batches is None or batches < max_batches:
        claimed = _claim_batch(stats)
        if not claimed:
            break
        for item in claimed:
            _deliver(item, stats)
        batches += 1
    return stats


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


def _claim_batch(stats: DispatchStats) -> list[Claimed]:
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.SCHEDULED, send_at__lte=now)
            .order_by("send_at", "id")[: settings.NOTIFY_BATCH_SIZE]
        )
        if not due:
            return []
        recipient_ids = list({m.recipient_id for m in due})
        contacts = contacts_for_users(recipient_ids)
        consents = {
            (c.user_id, c.category, c.channel): c
            for c in Consent.objects.filter(user_id__in=recipient_ids)
        }
        phones = {contact.phone for contact in contacts.values() if contact.phone}
        phone_status = {
            s.phone_hash: s
            for s in PhoneStatus.objects.filter(
                phone_hash__in=[phone_lookup_hash(p) for p in phones]
            )
        }
        window_start = now - timedelta(days=1)
        recent = {
            row["recipient_id"]: (row["count"], row["oldest"])
            for row in Message.objects.filter(
                recipient_id__in=recipient_ids, urgent=False, sent_at__gte=window_start
            )
            .values("recipient_id")
            .annotate(count=Count("id"), oldest=Min("sent_at"))
        }
        claimed_now: dict[int, int] = defaultdict(int)
        claimed: list[Claimed] = []
        token = uuid.uuid4()
        for message in due:
            contact = contacts.get(message.recipient_id)
            reason = _suppression_reason(message, contact, consents, phone_status)
            if reason or contact is None:
                message.status = MessageStatus.SUPPRESSED
                message.status_reason = reason or "no_recipient"
                message.suppressed_at = now
                stats.suppressed += 1
                continue
            release = _release_time(message, contact, now, recent, claimed_now)
            if release > now:
                message.send_at = release
                stats.deferred += 1
                continue
            if not message.urgent:
                claimed_now[message.recipient_id] += 1
            message.status = MessageStatus.CLAIMED
            message.claim_token = token
            message.claimed_at = now
            message.attempts += 1
            claimed.append(Claimed(message, contact))
        Message.objects.bulk_update(
            due,
            [
                "status",
                "status_reason",
                "suppressed_at",
                "send_at",
                "claim_token",
                "claimed_at",
                "attempts",
            ],
        )
    return claimed


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
            return "no_phone"
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


def _deliver(item: Claimed, stats: DispatchStats) -> None:
    message, contact = item.message, item.contact
    mine = Message.objects.filter(
        pk=message.pk, status=MessageStatus.CLAIMED, claim_token=message.claim_token
    )
    if not mine.filter(send_started_at__isnull=True).update(send_started_at=timezone.now()):
        return  # reclaimed by someone else meanwhile
    try:
        provider_id = _send(message, contact)
    except TransientSmsError as exc:
        if message.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            _fail(mine, "retries_exhausted", exc.code, stats)
            return
        backoff = settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** (message.attempts - 1)
        mine.update(
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
    except UncertainSmsError as exc:
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
    except PermanentSmsError as exc:
        _fail(mine, "permanent_error", exc.code, stats)
        return
    mine.update(
        status=MessageStatus.SENT,
        sent_at=timezone.now(),
        provider_message_id=provider_id,
        provider_error_code="",
        status_reason="",
    )
    stats.sent += 1


def _fail(mine: QuerySet[Message], reason: str, code: str, stats: DispatchStats) -> None:
    mine.update(
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
            OutgoingSms(to=contact.phone, body=body, message_id=str(message.public_id))
        )
        return sent.provider_message_id
    subject, body = render_email(message.template_key, message.context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [contact.email])
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentSmsError("recipient refused", code="smtp_recipient_refused") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientSmsError("mail server unavailable", code="smtp_unavailable") from exc
    return f"email-{message.public_id}"
