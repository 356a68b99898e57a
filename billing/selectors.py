"""Reads of the membership mirror, and the membership gate other apps ask.

    from billing.selectors import membership_gate

    gate = membership_gate(patient)
    if not gate.allowed:
        raise Conflict("...", code=gate.reason)

Membership states (what the patient and ops see), from the mirrored subscription:
- `none`: never subscribed; `incomplete`: a first payment is still pending;
- `active`: paid up (also after a cancellation is requested, until the period ends);
- `past_due`: a renewal failed, within the grace period (MEMBERSHIP_GRACE_DAYS): still allowed;
- `paused`: past due beyond the grace period (or unpaid at the gateway): check-in booking,
  refills and deliveries are refused until a payment succeeds;
- `canceled`: ended.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import JSONObject
from django.utils import timezone

from billing.gateways.base import GatewayError, UpcomingInvoice
from billing.gateways.registry import gateway
from billing.models import Invoice, Subscription, SubscriptionStatus
from patients.models import Patient

NONE: Final = "none"
INCOMPLETE: Final = "incomplete"
ACTIVE: Final = "active"
PAST_DUE: Final = "past_due"
PAUSED: Final = "paused"
CANCELED: Final = "canceled"
MEMBERSHIP_STATES: Final = (NONE, INCOMPLETE, ACTIVE, PAST_DUE, PAUSED, CANCELED)

# Refusal reasons, stable codes for the callers' error responses.
REASONS: Final = {
    NONE: "membership_required",
    INCOMPLETE: "membership_incomplete",
    PAUSED: "membership_paused",
    CANCELED: "membership_canceled",
}

_LIVE: Final = (
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
    SubscriptionStatus.INCOMPLETE,
)


def grace_period() -> timedelta:
    return timedelta(days=settings.MEMBERSHIP_GRACE_DAYS)


def _deciding_first(subscriptions: QuerySet[Subscription]) -> QuerySet[Subscription]:
    """The subscription that decides the membership first: the newest live one, else the
    newest."""
    live_first = Case(When(status__in=_LIVE, then=Value(0)), default=Value(1))
    return subscriptions.annotate(live_first=live_first).order_by(
        "live_first", "-created_at", "-id"
    )


def current_subscription(patient: Patient) -> Subscription | None:
    """The subscription that decides the membership: the newest live one, else the newest."""
    return _deciding_first(Subscription.objects.filter(patient=patient)).first()


def membership_state(subscription: Subscription | None, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if subscription is None:
        return NONE
    status = subscription.status
    if status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        period_end = subscription.current_period_end
        # A cancellation takes effect at the period end even if its webhook is late.
        if subscription.cancel_at_period_end and period_end and period_end <= now:
            return CANCELED
        return ACTIVE
    if status == SubscriptionStatus.PAST_DUE:
        return PAST_DUE if now < grace_ends_at(subscription) else PAUSED
    if status in (SubscriptionStatus.UNPAID, SubscriptionStatus.PAUSED):
        return PAUSED
    if status == SubscriptionStatus.INCOMPLETE:
        return INCOMPLETE
    return CANCELED


def grace_ends_at(subscription: Subscription) -> datetime:
    return (subscription.past_due_since or subscription.updated_at) + grace_period()


@dataclass(frozen=True)
class MembershipGate:
    allowed: bool
    state: str
    reason: str = ""  # a REASONS code when refused
    grace_ends_at: datetime | None = None  # while past_due


def gate_for(subscription: Subscription | None, now: datetime | None = None) -> MembershipGate:
    state = membership_state(subscription, now)
    if state in (ACTIVE, PAST_DUE):
        grace_end = grace_ends_at(subscription) if subscription and state == PAST_DUE else None
        return MembershipGate(allowed=True, state=state, grace_ends_at=grace_end)
    return MembershipGate(allowed=False, state=state, reason=REASONS[state])


# What membership_state reads of the deciding subscription.
_GATE_FIELDS: Final = (
    "status",
    "current_period_end",
    "cancel_at_period_end",
    "past_due_since",
    "updated_at",
)
_GATE_TIMES: Final = ("current_period_end", "past_due_since", "updated_at")


def membership_facts(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotate each patient with what the gate reads of their deciding subscription (one
    JSON column), so that a caller asking other gates of the patient reads this one in
    the same query; `membership_gate_of` decides from a row read through it."""
    deciding = _deciding_first(Subscription.objects.filter(patient=OuterRef("pk")))
    fields = JSONObject(**{name: name for name in _GATE_FIELDS})
    return patients.annotate(membership_facts=Subquery(deciding.values(facts=fields)[:1]))


def membership_gate_of(facts: Patient, now: datetime | None = None) -> MembershipGate:
    """membership_gate of a patient read through `membership_facts`."""
    row: dict[str, Any] | None = facts.membership_facts  # type: ignore[attr-defined]
    if row is None:
        return gate_for(None, now)
    times = {name: _instant(row[name]) for name in _GATE_TIMES}
    subscription = Subscription(
        status=row["status"], cancel_at_period_end=row["cancel_at_period_end"], **times
    )
    return gate_for(subscription, now)


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def membership_gate(patient: Patient) -> MembershipGate:
    """Whether the patient's membership allows check-in booking, prescriptions, refills and
    deliveries now. The free assessment and the first consultation do not ask. One
    query."""
    patients = Patient.objects.filter(pk=patient.pk).only("pk")
    return membership_gate_of(membership_facts(patients).get())


_NO_INVOICE: Final = "none"


def next_invoice_preview(subscription: Subscription) -> UpcomingInvoice | None:
    """The gateway's preview of the subscription's next invoice, or None when there will be
    none. Also None while the gateway is down: the membership page still loads.

    Cached for BILLING_PREVIEW_CACHE_SECONDS per state of the subscription (every page
    load would otherwise be a Stripe call, which a patient could repeat at will); any
    change to the mirror row names a new key, so a change is never answered stale."""
    state = (
        subscription.pk,
        subscription.gateway_subscription_id,
        subscription.status,
        subscription.cancel_at_period_end,
        subscription.current_period_end,
        subscription.updated_at,
    )
    key = "billing:next-invoice:" + hashlib.sha256(repr(state).encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return None if cached == _NO_INVOICE else cached
    customer = subscription.patient.billing_customer
    try:
        preview = gateway().upcoming_invoice(
            customer_id=customer.gateway_customer_id,
            subscription_id=subscription.gateway_subscription_id,
        )
    except GatewayError:
        return None  # not cached: the next load tries again
    timeout = settings.BILLING_PREVIEW_CACHE_SECONDS
    cache.set(key, _NO_INVOICE if preview is None else preview, timeout)
    return preview


def invoices_of(patient: Patient) -> QuerySet[Invoice]:
    return Invoice.objects.filter(patient=patient).order_by("-issued_at", "-id")


def state_filter(state: str, now: datetime | None = None) -> Q:
    """`membership_state(...) == state` as a database condition (same rules)."""
    now = now or timezone.now()
    paid_up = Q(status__in=(SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING))
    ended_by_cancellation = Q(cancel_at_period_end=True, current_period_end__lte=now)
    in_grace = Q(past_due_since__gt=now - grace_period())
    past_due = Q(status=SubscriptionStatus.PAST_DUE)
    conditions = {
        INCOMPLETE: Q(status=SubscriptionStatus.INCOMPLETE),
        ACTIVE: paid_up & ~ended_by_cancellation,
        PAST_DUE: past_due & in_grace,
        PAUSED: (past_due & ~in_grace)
        | Q(status__in=(SubscriptionStatus.UNPAID, SubscriptionStatus.PAUSED)),
        CANCELED: Q(status__in=(SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED))
        | (paid_up & ended_by_cancellation),
    }
    return conditions[state]


def deciding_subscriptions() -> QuerySet[Subscription]:
    """Each patient's deciding subscription (see `current_subscription`), one per patient."""
    live_first = Case(
        When(status__in=_LIVE, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    deciding_ids = (
        Subscription.objects.annotate(live_first=live_first)
        .order_by("patient_id", "live_first", "-created_at", "-id")
        .distinct("patient_id")
        .values("id")
    )
    return Subscription.objects.filter(id__in=deciding_ids)


def memberships_for_ops() -> QuerySet[Subscription]:
    """One row per patient who ever subscribed, newest first (filter a state with
    `state_filter`)."""
    return deciding_subscriptions().select_related("patient").order_by("-created_at", "-id")


@dataclass(frozen=True)
class MembershipSummary:
    active: int
    past_due: int
    paused: int
    canceled_this_month: int
    monthly_recurring_revenue_cents: int
    currency: str


def membership_summary(now: datetime | None = None) -> MembershipSummary:
    """Counts by state; MRR is what active and past-due (in grace) memberships bill per
    month (all plans are monthly), a requested cancellation counting until it ends."""
    now = now or timezone.now()
    deciding = deciding_subscriptions()
    counts = deciding.aggregate(
        active=Count("id", filter=state_filter(ACTIVE, now)),
        past_due=Count("id", filter=state_filter(PAST_DUE, now)),
        paused=Count("id", filter=state_filter(PAUSED, now)),
        mrr=Sum("amount_cents", filter=state_filter(ACTIVE, now) | state_filter(PAST_DUE, now)),
    )
    month_start = timezone.localtime(now, ZoneInfo(settings.PRACTICE_TIME_ZONE)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    # Patients whose membership (their deciding subscription) ended this month: one who
    # re-joined since is a member again, not a cancellation.
    canceled = deciding.filter(state_filter(CANCELED, now), canceled_at__gte=month_start)
    return MembershipSummary(
        active=counts["active"],
        past_due=counts["past_due"],
        paused=counts["paused"],
        canceled_this_month=canceled.count(),
        monthly_recurring_revenue_cents=counts["mrr"] or 0,
        currency=settings.MEMBERSHIP_CURRENCY,
    )
