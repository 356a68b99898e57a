from celery import shared_task

from patients.services.measurement import questionnaire_reminders_schedule


@shared_task(ignore_result=True)
def schedule_questionnaire_reminders() -> int:
    """Beat runs this hourly: a "questionnaire_due" text for each patient in care with a
    PHQ-9 or GAD-7 due. No arguments; running it twice schedules each reminder once."""
    return questionnaire_reminders_schedule()
