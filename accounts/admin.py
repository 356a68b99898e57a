from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest

from accounts import services
from accounts.models import (
    AuthSession,
    CdsRegistration,
    DeaRegistration,
    PhysicianProfile,
    StateLicense,
    User,
)
from audit import context
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from config.errors import TooManyRequests


class MfaAdminLoginForm(AdminAuthenticationForm):
    """Admin sign-in: password, then the authenticator (or recovery) code, for every user."""

    otp_code = forms.CharField(label="Authenticator or recovery code", max_length=32)

    def clean(self) -> dict[str, Any]:
        email = services.normalize_email(self.data.get("username", ""))
        ip = context.current().ip
        try:
            services.login_throttle_check(email=email, ip=ip)
        except TooManyRequests as exc:
            raise forms.ValidationError(exc.message) from exc
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            services.login_failure_record(email=email, ip=ip, surface="admin")
            raise
        user = self.get_user()
        if not services.mfa_code_valid(user=user, code=cleaned.get("otp_code", "")):
            audit_record(
                actor=user,
                action=AuditAction.MFA_FAILED,
                outcome=AuditOutcome.DENIED,
                object_type="admin",
                detail={"surface": "admin"},
            )
            raise forms.ValidationError(
                "Enter a valid authenticator code (set up MFA through the API first)."
            )
        audit_record(
            actor=user, action=AuditAction.LOGIN, object_type="admin", detail={"surface": "admin"}
        )
        return cleaned


admin.site.login_form = MfaAdminLoginForm
admin.site.site_header = "Practice operations"


class LicenceInline(admin.TabularInline):
    model = StateLicense
    extra = 0


class DeaInline(admin.TabularInline):
    model = DeaRegistration
    extra = 0
    readonly_fields = ["verification_problems"]


class CdsInline(admin.TabularInline):
    model = CdsRegistration
    extra = 0


@admin.register(PhysicianProfile)
class PhysicianProfileAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "npi"]
    search_fields = ["last_name", "npi"]
    inlines = [LicenceInline, DeaInline, CdsInline]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active"]
    search_fields = ["email"]
    fields = ["public_id", "email", "role", "is_active", "is_staff", "date_joined", "last_login"]
    readonly_fields = ["public_id", "date_joined", "last_login"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: audit rows keep pointing at the user


@admin.register(AuthSession)
class AuthSessionAdmin(admin.ModelAdmin):
    list_display = ["public_id", "user", "created_at", "last_seen_at", "revoked_at"]
    list_select_related = ["user"]
    fields = ["public_id", "user", "created_at", "last_seen_at", "revoked_at", "ip"]
    readonly_fields = ["public_id", "user", "created_at", "last_seen_at", "ip"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
