from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications.services import register_reply_handler
        from scheduling.services.follow_up import (
            REPLY_HANDLER_NAME,
            REPLY_HANDLER_PRIORITY,
            follow_up_reply_handle,
        )

        # The answer to the day-after follow-up, asked before patients' general mood
        # handler, which would store it unlinked to the visit.
        register_reply_handler(
            REPLY_HANDLER_NAME, follow_up_reply_handle, priority=REPLY_HANDLER_PRIORITY
        )
