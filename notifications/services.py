"""The outbox API other apps call (defined in notifications.outbox), consents, and the
answers to inbound texts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_write
from core.phones import phone_lookup_hash
from notifications import selectors
from notifications.models import (
    CONSENT_CATEGORIES,
    Category,
    Channel,
    Consent,
    ConsentEvent,
    InboundSms,
    Message,
    MessageStatus,
)
from notifications.outbox import MessageDraft as MessageDraft
from notifications.outbox import message_schedule as message_schedule
from notifications.outbox import messages_cancel as messages_cancel
from notifications.outbox import messages_schedule as messages_schedule
from notifications.phone_status import phone_flag
from notifications.sms.base import NumberFlag
from notifications.templates import (
    HELP_TEXT,
    START_CONFIRMATION,
    STOP_CONFIRMATION,
    render_system,
)

# Consent wording shown to the patient, stored with each consent change.
CONSENT_WORDING = {
    Category.CARE: "I agree to receive texts and emails about my care (reminders, follow-ups). "
    "Message frequency varies. Msg & data rates may apply. Reply STOP to opt out.",
    Category.BILLING: "I agree to receive texts and emails about my membership and payments. "
    "Reply STOP to opt out.",
    Category.MARKETING: "I agree to receive occasional news and offers from the practice by "
    "text and email. Consent is not a condition of treatment. Reply STOP to opt out.",
}


# --- consent --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentChange:
    category: str
    channel: str
    granted: bool


@transaction.atomic
def consents_set(*, user: User, changes: Iterable[ConsentChange], source: str) -> None:
    """Record consent changes: the current `Consent` row per kind (the fast lookup) and an
    append-only `ConsentEvent` per change, with the wording shown, as the history."""
    now = timezone.now()
    events = []
    for change in changes:
        wording = CONSENT_WORDING[Category(change.category)]
        consent, _ = Consent.objects.update_or_create(
            user=user,
            category=change.category,
            channel=change.channel,
            defaults={
                "granted": change.granted,
                "changed_at": now,
                "source": source,
                "wording": wording,
            },
        )
        events.append(
            ConsentEvent(
                user=user,
                category=change.category,
                channel=change.channel,
                granted=change.granted,
                at=now,
                source=source,
                wording=wording,
            )
        )
        audit_write(
            consent,
            actor=user,
            action=AuditAction.UPDATE,
            detail={
                "category": change.category,
                "channel": change.channel,
                "granted": change.granted,
                "source": source,
            },
        )
    ConsentEvent.objects.bulk_create(events)


# --- inbound texts --------------------------------------------------------------------

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# START restores these; marketing needs fresh written consent.
RESTORED_BY_START = (Category.CARE, Category.BILLING)

# A handler returns False to pass the reply on, True to claim it, or a text to claim it
# and answer with that text (the immediate reply, like HELP's).
ReplyHandler = Callable[[User, str, InboundSms], bool | str]
reply_handlers: list[tuple[str, ReplyHandler]] = []
_priorities: dict[str, int] = {}


def register_reply_handler(name: str, handler: ReplyHandler, *, priority: int = 0) -> None:
    """Other apps (e.g. check-in follow-ups) claim free-text replies; the first handler to
    claim one wins. Handlers are asked by descending `priority`, then in the order they
    were registered, so a more specific handler (a reply to a question just asked) can go
    before a general one whatever the order of INSTALLED_APPS."""
    if name in {registered for registered, _ in reply_handlers}:
        return
    _priorities[name] = priority
    position = sum(1 for other, _ in reply_handlers if _priorities.get(other, 0) >= priority)
    reply_handlers.insert(position, (name, handler))


def _keyword(body: str) -> str:
    return re.sub(r"\s+", " ", body.strip()).upper().rstrip(".!")


@transaction.atomic
def inbound_sms_receive(*, provider_message_id: str, from_phone: str, body: str) -> str | None:
    """Store an inbound text and act on it; returns the reply to send, if any: a keyword's
    answer, or the text a reply handler answered with (never to a number that opted out).

    A provider retry of the same text (same id) does nothing and answers nothing.
    """
    phone_hash = phone_lookup_hash(from_phone)
    users = selectors.users_for_phone(from_phone)
    keyword = _keyword(body)
    opted_out = selectors.number_opted_out(from_phone)
    if keyword in STOP_WORDS:
        kind = "stop"
    elif keyword in START_WORDS and (keyword != "YES" or opted_out):
        kind = "start"  # a plain YES only means START for a number that opted out
    elif keyword in HELP_WORDS:
        kind = "help"
    else:
        kind = "reply" if users else "unknown_sender"
    try:
        with transaction.atomic():
            inbound = InboundSms.objects.create(
                provider_message_id=provider_message_id,
                from_phone=from_phone,
                from_phone_hash=phone_hash,
                body=body,
                kind=kind,
                user=users[0] if len(users) == 1 else None,
            )
    except IntegrityError:
        return None
    audit_write(inbound, actor=None, action=AuditAction.CREATE)

    if kind == "stop":
        if opted_out:
            return None  # one confirmation only
        phone_flag(phone=from_phone, opted_out=True, source="sms_keyword")
        for user in users:
            consents_set(
                user=user,
                source="sms_keyword",
                changes=[
                    ConsentChange(category, Channel.SMS, False) for category in CONSENT_CATEGORIES
                ],
            )
        Message.objects.filter(
            recipient__in=users, channel=Channel.SMS, status=MessageStatus.SCHEDULED
        ).update(
            status=MessageStatus.CANCELED, canceled_at=timezone.now(), status_reason="opted_out"
        )
        return render_system(STOP_CONFIRMATION)
    if kind == "start":
        phone_flag(phone=from_phone, opted_out=False, source="sms_keyword")
        for user in users:
            consents_set(
                user=user,
                source="sms_keyword",
                changes=[
                    ConsentChange(category, Channel.SMS, True) for category in RESTORED_BY_START
                ],
            )
        return render_system(START_CONFIRMATION)
    if kind == "help":
        return render_system(HELP_TEXT)
    if kind == "reply" and len(users) == 1:
        for name, handler in reply_handlers:
            outcome = handler(users[0], body, inbound)
            if outcome:
                inbound.handled_by = name
                inbound.save(update_fields=["handled_by"])
                # Never a word to a number that opted out, whatever the handler says.
                return outcome if isinstance(outcome, str) and not opted_out else None
    return None


# --- delivery reports -----------------------------------------------------------------

_OUTCOME_UNKNOWN = Q(status=MessageStatus.FAILED, status_reason="outcome_unknown")
# Which statuses each report may move a message from: statuses only ever move forward, so
# repeated and out-of-order reports change nothing.
_MOVES_FROM = {
    MessageStatus.SENT: Q(status=MessageStatus.CLAIMED) | _OUTCOME_UNKNOWN,
    MessageStatus.DELIVERED: Q(status__in=[MessageStatus.CLAIMED, MessageStatus.SENT])
    | _OUTCOME_UNKNOWN,
    MessageStatus.FAILED: Q(status__in=[MessageStatus.CLAIMED, MessageStatus.SENT]),
}
_STATUS_TIME = {
    MessageStatus.SENT: "sent_at",
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.FAILED: "failed_at",
}


def message_status_report(
    *,
    message_id: str,
    provider_message_id: str,
    status: str | None,
    error_code: str = "",
    number_flag: NumberFlag | None = None,
    to_phone: str = "",
    attempt: int | None = None,
) -> bool:
    """Apply a provider delivery report, in our words (see `sms.base.DeliveryReport`);
    returns whether the message changed.

    `status` is the MessageStatus the report means (None: nothing to do). A report naming
    an `attempt` applies only to that attempt of the message, so a late report about an
    earlier attempt never touches a message that was sent again.

    A failure because the handset was unreachable is retried a few times
    (NOTIFY_UNREACHABLE_MAX_ATTEMPTS, with the usual backoff): the provider did not
    deliver it, so sending it again cannot make a duplicate. Any other number-level error
    flags `to_phone`, the number the text actually went to, which may no longer be the one
    on file."""
    if status not in _MOVES_FROM:
        return False
    new_status = MessageStatus(status)
    try:
        match = Q(public_id=uuid.UUID(message_id))
    except ValueError:
        if not provider_message_id:
            return False
        match = Q(provider_message_id=provider_message_id)
    message = Message.objects.filter(match).first()
    if message is None:
        return False
    this_attempt = Q(pk=message.pk) & _MOVES_FROM[new_status]
    if attempt is not None:
        this_attempt &= Q(attempts=attempt)
    if new_status == MessageStatus.FAILED and number_flag == "unreachable":
        return _unreachable(message, this_attempt, error_code)
    updates: dict[str, Any] = {
        "status": new_status,
        _STATUS_TIME[new_status]: timezone.now(),
        "provider_message_id": message.provider_message_id or provider_message_id,
        "claim_token": None,
    }
    if new_status == MessageStatus.FAILED:
        updates |= {"status_reason": "undelivered", "provider_error_code": error_code}
    else:
        updates["status_reason"] = ""
    changed = Message.objects.filter(this_attempt).update(**updates)
    if changed and to_phone and number_flag in ("opted_out", "invalid"):
        opted_out = number_flag == "opted_out"
        phone_flag(
            phone=to_phone,
            opted_out=True if opted_out else None,
            invalid_code="" if opted_out else error_code,
            source=f"provider_{error_code}",
        )
    return bool(changed)


def _unreachable(message: Message, this_attempt: Q, error_code: str) -> bool:
    """Back to the queue with the usual backoff while attempts remain, else failed."""
    limit = settings.NOTIFY_UNREACHABLE_MAX_ATTEMPTS
    now = timezone.now()
    if message.attempts < limit:
        backoff = settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** max(message.attempts - 1, 0)
        updates: dict[str, Any] = {
            "status": MessageStatus.SCHEDULED,
            "send_at": now + timedelta(seconds=backoff),
            "status_reason": "unreachable_retry",
            "provider_error_code": error_code,
            "claim_token": None,
            "claimed_at": None,
            "send_started_at": None,
            "sent_at": None,
            # The next attempt gets its own provider id; this one is spent.
            "provider_message_id": "",
        }
        # Only while attempts is still what we read: a concurrent claim or report wins.
        this_attempt &= Q(attempts=message.attempts)
    else:
        updates = {
            "status": MessageStatus.FAILED,
            "failed_at": now,
            "status_reason": "unreachable",
            "provider_error_code": error_code,
            "claim_token": None,
        }
    return bool(Message.objects.filter(this_attempt).update(**updates))
