from celery import shared_task

from notifications.dispatch import dispatch_due


@shared_task(ignore_result=True)
def dispatch_due_messages() -> int:
    """Beat runs this every NOTIFY_DISPATCH_INTERVAL_SECONDS; scheduling runs it on commit."""
    return dispatch_due().sent
