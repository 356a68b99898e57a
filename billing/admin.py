from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import AuditedAdmin
from billing.models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(AuditedAdmin):
    """Which gateway events arrived and what each did (ids and types only: no payloads)."""

    list_display = ["event_id", "type", "object_id", "created", "received_at", "outcome"]
    list_filter = ["outcome", "type"]
    search_fields = ["event_id", "object_id"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
