from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from audit import context
from audit.models import AuditAction, AuditEvent, AuditOutcome

if TYPE_CHECKING:
    from accounts.models import User

GENESIS_HASH = "0" * 64
anchor_logger = logging.getLogger("audit.anchor")
_SEAL_LOCK_KEY = 0x41554454  # "AUDT": one sealer at a time across all workers


_COLUMNS = (
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "request_id",
    "client_request_id",
    "ip",
    "user_agent",
    "outcome",
    "detail",
    "prev_hash",
    "hash",
)
_ONE_ROW = (
    "VALUES (%s::timestamptz, %s::bigint, %s, %s, %s, %s, %s::uuid, %s, %s, %s::inet, %s, %s,"
    " %s::jsonb, '', '')"
)
# One actor's reads in one request: what differs from row to row comes in three arrays.
_READS = (
    "SELECT %s::timestamptz, %s::bigint, %s, %s, r.object_type, r.object_id, r.patient_id,"
    " %s, %s, %s::inet, %s, %s, r.detail, '', ''"
    " FROM unnest(%s::text[], %s::text[], %s::uuid[], %s::jsonb[])"
    " AS r(object_type, object_id, patient_id, detail)"
)


@functools.cache
def _insert_sql(source: str, *, commit_async: bool) -> str:
    if commit_async:
        source = (
            f"SELECT v.* FROM ({source}) AS v CROSS JOIN "  # noqa: S608
            "(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"
        )
    # Only constant SQL text is formatted in; every value is a bound parameter.
    return f"INSERT INTO audit_auditevent ({', '.join(_COLUMNS)}) {source}"


# A read event's values in _COLUMNS order, with the object and patient ids to fill in.
_READ_VALUES = (
    "%(audit_at)s::timestamptz, %(audit_actor)s::bigint, %(audit_role)s::text,"
    " %(audit_action)s::text, {values},"
    " %(audit_request_id)s::text, %(audit_client_request_id)s::text,"
    " %(audit_ip)s::inet, %(audit_user_agent)s::text,"
    " %(audit_outcome)s::text, '{{}}'::jsonb, '', ''"
)


@functools.cache
def audit_reads_sql(
    rows: str,
    object_id: str,
    patient_id: str,
    *,
    commit_async: bool,
    object_type: str = "%(audit_object_type)s",
) -> str:
    """An INSERT of one read event per row of `rows` (a FROM item of the caller's statement,
    such as a CTE), to run as a data-modifying CTE of the statement that reads them: the
    rows and their audit in one round trip, and atomically. `object_id` and `patient_id`
    are SQL expressions over `rows` (the object's and its patient's public ids); every
    value comes from audit_reads_params() as a named parameter (audit_*); `object_type`
    names another parameter when one statement audits two kinds of rows."""
    values = f"{object_type}::text, ({object_id})::text, ({patient_id})::uuid"
    source = f"SELECT {_READ_VALUES.format(values=values)} FROM {rows}"  # noqa: S608
    if commit_async:  # see _insert_events
        source += " CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS a"
    # Only constant SQL text is formatted in; every value is a bound parameter.
    return f"INSERT INTO audit_auditevent ({', '.join(_COLUMNS)}) {source}"


def audit_reads_params(*, actor: User, object_type: str) -> tuple[dict[str, Any], bool]:
    """The parameters of audit_reads_sql(), and whether its statement may commit without
    waiting for the WAL flush (a read written on its own: see _insert_events)."""
    ctx = context.current()
    params = {
        "audit_at": timezone.now(),
        "audit_actor": actor.pk,
        "audit_role": getattr(actor, "role", "") or "",
        "audit_action": AuditAction.READ.value,
        "audit_object_type": object_type,
        "audit_request_id": ctx.request_id,
        "audit_client_request_id": ctx.client_request_id,
        "audit_ip": ctx.ip,
        "audit_user_agent": ctx.user_agent,
        "audit_outcome": AuditOutcome.SUCCESS.value,
    }
    return params, _commit_async(reads=True)


def _commit_async(*, reads: bool) -> bool:
    return reads and settings.AUDIT_READS_ASYNC_COMMIT and not connection.in_atomic_block


def _insert_events(source: str, params: list[Any], *, reads: bool) -> None:
    """Append events with one statement: no lock, no read of the chain, no ORM.

    This runs on every audited request, where Model.save()/bulk_create cost more than the
    insert itself (see benchmarks/). The statement text is the same whatever the number
    of rows, so psycopg parses it once and PostgreSQL runs it prepared.

    A batch of read events written on its own (not inside a transaction that writes PHI)
    also skips the wait for the WAL flush, by setting (AUDIT_READS_ASYNC_COMMIT): the
    flush wait is most of what a read audit costs, and the price is that a PostgreSQL
    crash can lose the read events of its last fraction of a second (never writes, logins
    or other security events, never a half-written row). set_config(..., true) lasts
    until this statement's own commit, so nothing else is affected; inside a caller's
    transaction it is never used."""
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(source, commit_async=_commit_async(reads=reads)), params)


def _row(
    actor: User | None,
    action: str,
    object_type: str,
    object_id: str,
    patient_id: uuid.UUID | None,
    outcome: str,
    detail: dict[str, Any] | None,
) -> tuple[Any, ...]:
    ctx = context.current()
    return (
        timezone.now(),
        actor.pk if actor else None,
        getattr(actor, "role", "") or "",
        action,
        object_type,
        object_id,
        patient_id,
        ctx.request_id,
        ctx.client_request_id,
        ctx.ip,
        ctx.user_agent,
        outcome,
        json.dumps(detail or {}),
    )


def audit_record(
    *,
    actor: User | None,
    action: str,
    object_type: str = "",
    object_id: str = "",
    patient_id: uuid.UUID | None = None,
    outcome: str = AuditOutcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event."""
    row = _row(actor, action, object_type, object_id, patient_id, outcome, detail)
    _insert_events(_ONE_ROW, list(row), reads=action == AuditAction.READ)


def audit_write(
    obj: models.Model,
    *,
    actor: User | None,
    action: str,
    outcome: str = AuditOutcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append the event of `actor` doing `action` to `obj`. The object is named by its type
    ("app.model") and `public_id` (never a sequential id), and the patient whose data it
    is by the model's `audit_patient_id`, so no caller types either by hand."""
    audit_record(
        actor=actor,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.public_id),  # type: ignore[attr-defined]
        patient_id=getattr(obj, "audit_patient_id", None),
        outcome=outcome,
        detail=detail,
    )


class PhiRead(NamedTuple):
    """One read for audit_phi_reads: the object's type ("app.model") and public id, the
    patient whose data it is, and optional detail (codes and counts, never PHI)."""

    object_type: str
    object_id: uuid.UUID | str
    patient_id: uuid.UUID | None
    detail: dict[str, Any] | None = None


def audit_phi_read(
    *, actor: User, objects: Iterable[models.Model], patient_id_of: Any = None
) -> None:
    """Record that `actor` read each of `objects`, in one statement for any number.

    An object is named by its `public_id` (never a sequential id), which every audited
    model has; `patient_id_of(obj)` names the patient whose data it is, when the model
    cannot say so itself (else its `audit_patient_id`).
    """
    audit_phi_reads(
        actor=actor,
        reads=[
            PhiRead(
                obj._meta.label_lower,
                obj.public_id,  # type: ignore[attr-defined]
                patient_id_of(obj) if patient_id_of else getattr(obj, "audit_patient_id", None),
            )
            for obj in objects
        ],
    )


def audit_phi_reads(*, actor: User, reads: Iterable[PhiRead]) -> None:
    """audit_phi_read for reads that are not (only) model instances: rows read with
    hand-written SQL, or an aggregate such as a trend. One statement for any number."""
    object_types, object_ids, patient_ids, details = [], [], [], []
    for read in reads:
        object_types.append(read.object_type)
        object_ids.append(str(read.object_id))
        # One type per array: a str id next to a UUID would not bind.
        patient_ids.append(None if read.patient_id is None else uuid.UUID(str(read.patient_id)))
        details.append(json.dumps(read.detail or {}))
    if not object_ids:
        return
    ctx = context.current()
    now, role = timezone.now(), getattr(actor, "role", "") or ""
    if len(object_ids) == 1:  # the one-row statement: no arrays to build
        row = (now, actor.pk, role, AuditAction.READ, object_types[0], object_ids[0],
               patient_ids[0], ctx.request_id, ctx.client_request_id, ctx.ip, ctx.user_agent,
               AuditOutcome.SUCCESS, details[0])  # fmt: skip
        _insert_events(_ONE_ROW, list(row), reads=True)
        return
    shared = [now, actor.pk, role, AuditAction.READ, ctx.request_id, ctx.client_request_id]
    shared += [ctx.ip, ctx.user_agent, AuditOutcome.SUCCESS]
    arrays = [object_types, object_ids, patient_ids, details]
    _insert_events(_READS, [*shared, *arrays], reads=True)


def audit_event_digest(prev_hash: str, event: AuditEvent) -> str:
    """The hash sealing `event` after the event whose hash is `prev_hash` (HMAC-SHA256 over
    the event's canonical JSON): what audit_seal_chain stores and audit_verify_chain checks."""
    payload = {
        "seq": event.seq,
        "id": event.pk,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "patient_id": str(event.patient_id) if event.patient_id else None,
        "request_id": event.request_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "outcome": event.outcome,
        "detail": event.detail,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    # Keyed (HMAC): someone who can edit the table but does not hold the key cannot
    # recompute the chain after an edit.
    key = settings.AUDIT_CHAIN_KEY.encode()
    return hmac.new(key, (prev_hash + canonical).encode(), hashlib.sha256).hexdigest()


def audit_seal_chain(*, batch_size: int | None = None) -> int:
    """Seal every committed unsealed event, oldest id first; returns how many were sealed.

    An event whose transaction commits late is simply sealed in a later batch with a
    later `seq`, so the chain never has holes and inserts never wait for it.
    """
    batch_size = batch_size or settings.AUDIT_SEAL_BATCH_SIZE
    sealed = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_SEAL_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    return sealed
            last = (
                AuditEvent.objects.filter(seq__isnull=False)
                .order_by("-seq")
                .values_list("seq", "hash")
                .first()
            )
            seq, prev_hash = (int(last[0] or 0), last[1]) if last else (0, GENESIS_HASH)
            batch = list(AuditEvent.objects.filter(seq__isnull=True).order_by("id")[:batch_size])
            for event in batch:
                seq += 1
                event.seq = seq
                event.prev_hash = prev_hash
                event.hash = prev_hash = audit_event_digest(prev_hash, event)
            AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"], batch_size=1000)
        sealed += len(batch)
        if len(batch) < batch_size:
            return sealed


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ValueError("an anchor is SEQ:HASH, as audit_anchor printed it")
        return cls(int(seq), digest.lower())


def audit_chain_head() -> ChainHead | None:
    sealed = AuditEvent.objects.filter(seq__isnull=False).order_by("-seq")
    head = sealed.values_list("seq", "hash").first()
    return ChainHead(int(head[0] or 0), head[1]) if head else None


def audit_anchor() -> ChainHead | None:
    """Publish the chain head outside the database (the log, which production ships to a
    store database administrators cannot edit). The chain itself cannot show that its
    newest rows were deleted; a published head can (`audit_verify --anchor`)."""
    head = audit_chain_head()
    if head is not None:
        anchor_logger.warning("audit chain head %s", head)
    return head


@dataclass(frozen=True)
class ChainReport:
    sealed: int
    unsealed: int
    first_broken_seq: int | None
    first_broken_id: int | None

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


def audit_anchor_check(anchor: ChainHead) -> str | None:
    """Whether the chain still holds the published head; the problem when not."""
    row = AuditEvent.objects.filter(seq=anchor.seq).values_list("hash", flat=True).first()
    if row is None:
        return f"seq {anchor.seq} of the anchor is gone: rows were removed after it was published"
    if row != anchor.hash:
        return f"seq {anchor.seq} no longer has the anchored hash: the chain was rewritten"
    return None


def audit_verify_chain() -> ChainReport:
    """Walk the sealed chain in seq order; report the first row whose hash does not follow."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in AuditEvent.objects.filter(seq__isnull=False).order_by("seq").iterator(2000):
        intact = (
            event.seq == expected_seq
            and event.prev_hash == prev_hash
            and event.hash == audit_event_digest(prev_hash, event)
        )
        if not intact:
            return ChainReport(checked, _unsealed_count(), event.seq, event.pk)
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    return ChainReport(checked, _unsealed_count(), None, None)


def _unsealed_count() -> int:
    return AuditEvent.objects.filter(seq__isnull=True).count()
