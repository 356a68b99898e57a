from celery import shared_task

from accounts.services.token_cleanup import rotated_refresh_tokens_purge


@shared_task(ignore_result=True)
def purge_rotated_refresh_tokens() -> int:
    """Beat runs this daily (accounts.services.token_cleanup)."""
    return rotated_refresh_tokens_purge()
