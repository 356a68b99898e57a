from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import AuditedAdmin
from notifications.models import Message


@admin.register(Message)
class MessageAdmin(AuditedAdmin):
    """Template and status only: bodies are rendered at send time and never stored, and
    neither the recipient nor the dedupe key (which names the appointment, refill or
    invoice a message is about) is shown."""

    list_display = [
        "public_id",
        "channel",
        "category",
        "template_key",
        "status",
        "status_reason",
        "send_at",
        "attempts",
    ]
    list_filter = ["status", "category", "channel", "template_key"]
    date_hierarchy = "created_at"
    exclude = ["context", "claim_token", "dedupe_key", "recipient"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
