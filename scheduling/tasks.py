from celery import shared_task

# --- follow-ups and check-in cadence (issue 10, "Messages" and "Check-in cadence") -------


@shared_task(ignore_result=True)
def follow_ups_schedule() -> int:
    """Beat runs this every few minutes: the day-after "how are you feeling" text of each
    recently completed check-in. No arguments; running it twice schedules each once."""
    from scheduling.services.follow_up import follow_ups_schedule as schedule

    return schedule()


@shared_task(ignore_result=True)
def check_in_nudges_schedule() -> int:
    """Beat runs this hourly: one "time to book your check-in" text per patient and due
    date. No arguments; running it twice schedules each nudge once."""
    from scheduling.services.cadence import check_in_nudges_schedule as schedule

    return schedule()


# --- end of follow-ups and check-in cadence ----------------------------------------------
