from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import AuditedAdmin
from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(AuditedAdmin):
    """Who read or changed what, about which patient: privacy officers only (User.has_perm
    gives the audit app to no other role). Every list and row view is itself audited."""

    list_display = [
        "occurred_at",
        "action",
        "outcome",
        "actor_role",
        "actor",
        "object_type",
        "object_id",
        "ip",
        "seq",
    ]
    list_filter = ["action", "outcome", "actor_role"]
    search_fields = ["object_id", "request_id"]
    list_select_related = ["actor"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
