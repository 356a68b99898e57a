from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest

from accounts.models import (
    AuthSession,
    CdsRegistration,
    DeaRegistration,
    PhysicianProfile,
    StateLicense,
    User,
)
from accounts.services.mfa import mfa_code_check
from accounts.services.registration import normalize_email
from accounts.services.throttling import (
    login_attempt_begin,
    login_attempt_succeeded,
    login_failure_record,
)
from audit import context
from audit.models import AuditAction
from audit.services import audit_record
from core.errors import TooManyRequests, ValidationFailed


class MfaAdminLoginForm(AdminAuthenticationForm):
    """Admin sign-in: password, then the authenticator (or recovery) code, for every user.
    Attempts count against the same limits as the API's (accounts.services.throttling)."""

    otp_code = forms.CharField(label="Authenticator or recovery code", max_length=32)

    def clean(self) -> dict[str, Any]:
        email = normalize_email(self.data.get("username", ""))
        ip = context.current().ip
        try:
            login_attempt_begin(email=email, ip=ip)
        except TooManyRequests as exc:
            raise forms.ValidationError(exc.message) from exc
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failure_record(email=email, surface="admin")
            raise
        user = self.get_user()
        if user is None:  # a field was missing: its own error is already on the form
            return cleaned
        login_attempt_succeeded(email=email, ip=ip)
        try:
            mfa_code_check(user=user, code=cleaned.get("otp_code", ""), surface="admin")
        except TooManyRequests as exc:
            raise forms.ValidationError(exc.message) from exc
        except ValidationFailed as exc:
            raise forms.ValidationError(
                "Enter a valid authenticator code (set up MFA through the API first)."
            ) from exc
        audit_record(
            actor=user, action=AuditAction.LOGIN, object_type="admin", detail={"surface": "admin"}
        )
        return cleaned


class AuditedAdmin(admin.ModelAdmin):
    """Every save through the admin is an audit event naming the fields that changed."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user if isinstance(request.user, User) else None,
            action=AuditAction.UPDATE if change else AuditAction.CREATE,
            object_type=obj._meta.label_lower,
            object_id=str(getattr(obj, "public_id", "") or obj.pk),
            detail={"surface": "admin", "fields": sorted(form.changed_data)},
        )


admin.site.login_form = MfaAdminLoginForm
admin.site.site_header = "Practice operations"


class LicenseInline(admin.TabularInline):
    model = StateLicense
    extra = 0


class DeaInline(admin.TabularInline):
    """Registrations go through dea_registration_set, which runs the checks and holds a
    failing number for manual verification; here staff can only record that verification."""

    model = DeaRegistration
    extra = 0
    can_delete = False
    readonly_fields = ["number", "state", "schedules", "expires_on", "verification_problems"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CdsInline(admin.TabularInline):
    model = CdsRegistration
    extra = 0


@admin.register(PhysicianProfile)
class PhysicianProfileAdmin(AuditedAdmin):
    list_display = ["last_name", "first_name", "npi"]
    search_fields = ["last_name", "npi"]
    inlines = [LicenseInline, DeaInline, CdsInline]


@admin.register(User)
class UserAdmin(AuditedAdmin):
    list_display = ["email", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active"]
    search_fields = ["email"]
    fields = ["public_id", "email", "role", "is_active", "is_staff", "date_joined", "last_login"]
    readonly_fields = ["public_id", "date_joined", "last_login"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: audit rows keep pointing at the user


@admin.register(AuthSession)
class AuthSessionAdmin(AuditedAdmin):
    list_display = ["public_id", "user", "created_at", "last_seen_at", "revoked_at"]
    list_select_related = ["user"]
    fields = ["public_id", "user", "created_at", "last_seen_at", "revoked_at", "ip"]
    readonly_fields = ["public_id", "user", "created_at", "last_seen_at", "ip"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
