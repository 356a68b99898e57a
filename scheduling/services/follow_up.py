"""The day-after follow-up of a completed check-in, and the patient's answer.

- Scheduling (`follow_ups_schedule`, a beat task every few minutes): each check-in
  completed in the last FOLLOW_UP_LOOKBACK without a VisitFollowUp gets one, whose
  `asked_at` is the send time: FOLLOW_UP_HOUR (10:00) on the day after the visit, both in
  the patient's zone (or now, when that time has passed), and the "checkin_followup" SMS
  (dedupe key `followup:<appointment>`), in one transaction. The follow-up row is unique
  per appointment and the text deduped, so running twice, or twice at once, schedules one.
  It reads completed visits, so it needs nothing from the completion service.
- The answer (`follow_up_reply_handle`, registered in SchedulingConfig.ready ahead of
  patients' general mood handler): while a follow-up is open (asked, and asked less than
  FOLLOW_UP_OPEN_FOR ago), a reply patients' parser reads as 1-10 becomes a mood entry
  (source "sms") linked to the visit; a second answer replaces the first entry's score.
  An unreadable or out-of-range reply to a follow-up not yet answered gets one help text
  as the immediate reply (`help_sent_at`); later ones go on to the other handlers.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from notifications.models import InboundSms
from notifications.selectors import number_opted_out
from notifications.services import message_schedule
from notifications.templates import render_sms
from patients.selectors.measurement import patient_zone
from patients.selectors.own_record import patient_of
from patients.services.measurement import mood_record, mood_reply_parse, mood_score_update
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus, VisitFollowUp

# Check-ins completed this long ago or less are followed up (covers the day after at
# 10:00 from any completion time, plus a worker outage of several hours).
FOLLOW_UP_LOOKBACK = timedelta(days=2)
# A follow-up takes answers this long after it was asked.
FOLLOW_UP_OPEN_FOR = timedelta(days=3)
FOLLOW_UP_PATH = "/mood"
FOLLOW_UP_OBJECT_TYPE = VisitFollowUp._meta.label_lower
REPLY_HANDLER_NAME = "scheduling.follow_up"
# Before patients' general mood handler (priority 0).
REPLY_HANDLER_PRIORITY = 10


def follow_up_dedupe_key(appointment: Appointment) -> str:
    return f"followup:{appointment.public_id}"


def follow_up_send_at(completed_at: datetime, zone: ZoneInfo) -> datetime:
    """FOLLOW_UP_HOUR on the day after `completed_at`, both in `zone` (DST-safe: the
    wall-clock hour is resolved on that day)."""
    next_day = timezone.localdate(completed_at, timezone=zone) + timedelta(days=1)
    return datetime.combine(next_day, time(settings.FOLLOW_UP_HOUR), tzinfo=zone)


def follow_ups_schedule(*, now: datetime | None = None) -> int:
    """Create the follow-up of each recently completed check-in that has none, and schedule
    its text. Returns how many were created by this run."""
    now = now or timezone.now()
    candidates = (
        Appointment.objects.filter(
            kind=AppointmentKind.CHECK_IN,
            status=AppointmentStatus.COMPLETED,
            follow_up__isnull=True,
        )
        .annotate(done_at=Coalesce("completed_at", "ends_at"))
        .filter(done_at__gte=now - FOLLOW_UP_LOOKBACK, done_at__lte=now)
        .select_related("patient__user")
        .order_by("done_at")
    )
    return sum(_follow_up_create(appointment, now) for appointment in candidates)


@transaction.atomic
def _follow_up_create(appointment: Appointment, now: datetime) -> bool:
    patient = appointment.patient
    done_at: datetime = appointment.done_at  # type: ignore[attr-defined]
    asked_at = max(follow_up_send_at(done_at, patient_zone(patient)), now)
    # Unique per appointment: a concurrent run's insert wins and this one reads it.
    _, created = VisitFollowUp.objects.get_or_create(
        appointment=appointment, defaults={"asked_at": asked_at}
    )
    if not created:
        return False
    message_schedule(
        recipient=patient.user,
        template_key="checkin_followup",
        category="care",
        channel="sms",
        dedupe_key=follow_up_dedupe_key(appointment),
        context={"path": FOLLOW_UP_PATH},
        send_at=asked_at,
    )
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        object_type=FOLLOW_UP_OBJECT_TYPE,
        object_id=str(appointment.public_id),
        patient_id=patient.public_id,
        detail={"asked_at": asked_at.isoformat()},
    )
    return True


@transaction.atomic
def follow_up_reply_handle(user: User, body: str, inbound: InboundSms) -> bool | str:
    """SMS reply handler (see the module docstring): True when the reply was the answer,
    the help text when it gets one, False to leave it to the other handlers."""
    patient = patient_of(user)
    if patient is None:
        return False
    now = timezone.now()
    # The most recent open follow-up, locked: two replies at once are applied in turn.
    follow_up = (
        VisitFollowUp.objects.select_for_update()
        .filter(
            appointment__patient=patient,
            asked_at__lte=now,
            asked_at__gt=now - FOLLOW_UP_OPEN_FOR,
        )
        .select_related("appointment")
        .order_by("-asked_at")
        .first()
    )
    if follow_up is None:
        return False
    follow_up.appointment.patient = patient
    score = mood_reply_parse(body)
    if score is None:
        if follow_up.answered_at is not None or follow_up.help_sent_at is not None:
            return False
        if number_opted_out(inbound.from_phone):
            return False  # no text to a number that replied STOP
        follow_up.help_sent_at = now
        follow_up.save(update_fields=["help_sent_at"])
        return render_sms("followup_help", {})
    replaced = follow_up.mood_entry is not None
    if follow_up.mood_entry is None:
        follow_up.mood_entry = mood_record(patient=patient, score=score, source="sms")
    else:
        follow_up.mood_entry.patient = patient
        mood_score_update(entry=follow_up.mood_entry, score=score, actor=user)
    follow_up.answered_at = now
    follow_up.save(update_fields=["mood_entry", "answered_at"])
    audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        object_type=FOLLOW_UP_OBJECT_TYPE,
        object_id=str(follow_up.appointment.public_id),
        patient_id=patient.public_id,
        detail={"answered": True, "replaced": replaced},
    )
    return True
