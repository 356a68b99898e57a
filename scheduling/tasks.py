"""Scheduling's periodic work. Tasks take no arguments (ids at most): no PHI in the broker."""

from __future__ import annotations

from celery import shared_task

from scheduling.services.visits import appointments_mark_no_show

# --- video visits ---------------------------------------------------------------------


@shared_task(ignore_result=True)
def mark_no_shows() -> int:
    """Every SCHEDULING_NO_SHOW_INTERVAL_SECONDS (beat): visits never started become
    no-shows; a second run finds nothing left to mark."""
    return appointments_mark_no_show()
