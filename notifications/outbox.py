"""Putting messages in the outbox, and taking them out again before they are sent.

`messages_schedule(drafts)` is the one definition of scheduling; `message_schedule` is
its one-draft call. The rules, whatever the number of drafts:

- One row per dedupe key: scheduling a key that exists keeps the first, unless that one
  was canceled: then it is revived with the new details (a conditional UPDATE, so of two
  schedulers reviving it at once exactly one does; the other keeps what that one wrote).
  Within one call, the first draft of a key is the one that counts.
- Only the context keys the template declares (never PHI: ids for links). Every draft
  is checked before anything is written: a bad one writes nothing.
- A message still unsent at `expires_at` is never sent.
- Anything created or revived that is due now is dispatched on commit.

Cost: one INSERT ... ON CONFLICT DO NOTHING RETURNING for every draft, whatever the number
of drafts; then, only when some key already had a row, one SELECT of those rows and an
UPDATE per canceled key revived (rare). Two transactions scheduling the same keys at once
get one row per key and no IntegrityError: PostgreSQL makes the second INSERT wait for the
first transaction and then skip the key (not returned), and the SELECT that follows (read
committed) sees the winner's row. Rows are inserted in
dedupe-key order, so two calls sharing keys take their locks in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone

from accounts.models import User
from notifications.models import Category, Channel, Message, MessageStatus
from notifications.tasks import dispatch_due_messages
from notifications.templates import TEMPLATES


@dataclass(frozen=True)
class MessageDraft:
    """One message to schedule: the arguments of `message_schedule`."""

    recipient: User
    template_key: str
    category: str
    channel: str
    dedupe_key: str
    context: Mapping[str, Any] | None = None
    send_at: datetime | None = None
    urgent: bool = False
    expires_at: datetime | None = None


def message_schedule(
    *,
    recipient: User,
    template_key: str,
    category: str,
    channel: str,
    dedupe_key: str,
    context: Mapping[str, Any] | None = None,
    send_at: datetime | None = None,
    urgent: bool = False,
    expires_at: datetime | None = None,
) -> Message:
    """Put one message in the outbox (see `messages_schedule` for the rules); returns its
    row: the one created, revived, or kept."""
    draft = MessageDraft(
        recipient=recipient,
        template_key=template_key,
        category=category,
        channel=channel,
        dedupe_key=dedupe_key,
        context=context,
        send_at=send_at,
        urgent=urgent,
        expires_at=expires_at,
    )
    return messages_schedule([draft])[0]


def messages_schedule(drafts: Sequence[MessageDraft]) -> list[Message]:
    """Put messages in the outbox in a constant number of statements (module docstring);
    returns the row of each draft, in the order of the drafts.

    Raises KeyError (unknown template) or ValueError (undeclared context key, unknown
    category or channel) before writing anything."""
    now = timezone.now()
    fields: dict[str, dict[str, Any]] = {}
    for draft in drafts:
        row = _fields(draft, now)
        fields.setdefault(draft.dedupe_key, row)  # the first draft of a key counts
    if not fields:
        return []
    rows = _write(fields, now)
    return [rows[draft.dedupe_key] for draft in drafts]


def _fields(draft: MessageDraft, now: datetime) -> dict[str, Any]:
    """The columns of a draft, refused when the template does not declare its context."""
    context = dict(draft.context or {})
    template = TEMPLATES[draft.template_key]
    if unknown := set(context) - template.context_keys:
        raise ValueError(f"template {draft.template_key} takes no context keys {sorted(unknown)}")
    return {
        "recipient": draft.recipient,
        "template_key": draft.template_key,
        "category": Category(draft.category),
        "channel": Channel(draft.channel),
        "context": context,
        "send_at": draft.send_at or now,
        "urgent": draft.urgent,
        "expires_at": draft.expires_at,
    }


# The caller's transaction, or one of our own when there is none: no savepoint, as any
# error here (checks are done before) aborts the PostgreSQL transaction anyway.
@transaction.atomic(savepoint=False)
def _write(fields: dict[str, dict[str, Any]], now: datetime) -> dict[str, Message]:
    drafted = {
        key: Message(dedupe_key=key, created_at=now, **fields[key]) for key in sorted(fields)
    }
    rows = _insert_new(list(drafted.values()))
    created = set(rows)
    if taken := [key for key in drafted if key not in created]:
        rows |= {row.dedupe_key: row for row in Message.objects.filter(dedupe_key__in=taken)}
    canceled = [key for key in sorted(rows) if rows[key].status == MessageStatus.CANCELED]
    revived: set[str] = set()
    for key in canceled:
        # Conditional on still being canceled: of two schedulers reviving it at once,
        # one does; the other, like any later one, keeps what that one scheduled.
        if Message.objects.filter(pk=rows[key].pk, status=MessageStatus.CANCELED).update(
            **fields[key], **_FRESH_STATE
        ):
            revived.add(key)
    if canceled:
        again = Message.objects.in_bulk([rows[key].pk for key in canceled])
        rows |= {key: again[rows[key].pk] for key in canceled}
    if any(fields[key]["send_at"] <= timezone.now() for key in created | revived):
        _dispatch_soon()
    return rows


def _insert_new(drafts: list[Message]) -> dict[str, Message]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the drafts this statement stored, by
    key, with their pk. bulk_create(ignore_conflicts=True) builds the same INSERT but does
    not say which rows went in, which then costs a SELECT of every key; this asks Django's
    own insert compiler for it with the RETURNING that PostgreSQL allows there."""
    opts = Message._meta
    query = InsertQuery(Message, on_conflict=OnConflict.IGNORE)
    query.insert_values([f for f in opts.concrete_fields if f is not opts.pk], list[Model](drafts))
    using = router.db_for_write(Message)
    compiler = query.get_compiler(using=using)
    returned = compiler.execute_sql(returning_fields=[opts.pk, opts.get_field("dedupe_key")])
    by_key = {draft.dedupe_key: draft for draft in drafts}
    stored: dict[str, Message] = {}
    for row in returned:
        if row is None:  # a single draft whose key was taken: no row came back
            continue
        pk, key = row
        message = by_key[key]
        message.pk = pk
        message._state.adding, message._state.db = False, using
        stored[key] = message
    return stored


# Everything a revived message forgets of its previous life.
_FRESH_STATE: dict[str, Any] = {
    "status": MessageStatus.SCHEDULED,
    "status_reason": "",
    "attempts": 0,
    "claim_token": None,
    "claimed_at": None,
    "send_started_at": None,
    "sent_at": None,
    "delivered_at": None,
    "failed_at": None,
    "canceled_at": None,
    "suppressed_at": None,
    "provider_message_id": "",
    "provider_error_code": "",
}


def _dispatch_soon() -> None:
    transaction.on_commit(dispatch_due_messages.delay)


def messages_cancel(*, dedupe_prefix: str) -> int:
    """Cancel every still-scheduled message whose dedupe key starts with the prefix.

    An empty (or blank) prefix is refused: it would match, and cancel, every message."""
    if not dedupe_prefix.strip():
        raise ValueError("messages_cancel needs a non-empty dedupe_prefix")
    return Message.objects.filter(
        status=MessageStatus.SCHEDULED, dedupe_key__startswith=dedupe_prefix
    ).update(status=MessageStatus.CANCELED, canceled_at=timezone.now(), status_reason="canceled")
