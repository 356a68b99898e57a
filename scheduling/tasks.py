"""Scheduling's periodic work. Tasks take ids at most (a video room's name, a keyed hash
or random): no PHI in the broker."""

from __future__ import annotations

from celery import shared_task

from scheduling.services import cadence, follow_up
from scheduling.services.authority_alerts import visits_without_authority_alert
from scheduling.services.video_rooms import video_room_delete
from scheduling.services.visits import appointments_mark_no_show, unfinished_visits_remind
from scheduling.video.base import TransientVideoError


@shared_task(ignore_result=True)
def mark_no_shows() -> int:
    """Every SCHEDULING_NO_SHOW_INTERVAL_SECONDS (beat): visits never started become
    no-shows; a second run finds nothing left to mark."""
    return appointments_mark_no_show()


@shared_task(ignore_result=True)
def follow_ups_schedule() -> int:
    """Beat runs this every few minutes: the day-after "how are you feeling" text of each
    recently completed check-in; running it twice schedules each once."""
    return follow_up.follow_ups_schedule()


@shared_task(ignore_result=True)
def check_in_nudges_schedule() -> int:
    """Beat runs this hourly: one "time to book your check-in" text per patient and due
    date; running it twice schedules each nudge once."""
    return cadence.check_in_nudges_schedule()


@shared_task(ignore_result=True)
def unfinished_visits_reminders() -> int:
    """Beat runs this every 15 minutes: one "complete this visit" email per visit left in
    progress; running it twice reminds once."""
    return unfinished_visits_remind()


@shared_task(ignore_result=True)
def alert_visits_without_authority() -> int:
    """Beat runs this daily (VISIT_AUTHORITY_INTERVAL_SECONDS): each ops admin is alerted
    once per booked visit whose physician may no longer see the patient there; running it
    twice alerts once."""
    return visits_without_authority_alert()


@shared_task(
    ignore_result=True,
    autoretry_for=(TransientVideoError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=8,  # about 45 minutes of provider outage
)
def delete_video_room(room_name: str) -> None:
    """After a visit is canceled or moved: delete its room (by name: no PHI), retried
    while the provider is down; a repeat finds it gone (services.video_rooms)."""
    video_room_delete(name=room_name)
