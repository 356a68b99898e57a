from __future__ import annotations

import contextlib
import uuid
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.models import (
    CREDENTIALING_PERMISSION,
    AuthSession,
    CdsRegistration,
    DeaRegistration,
    PhysicianProfile,
    StateLicense,
    User,
    email_lookup_hash,
    normalize_email,
)
from accounts.services.credentials import (
    physician_credential_cds_set,
    physician_credential_dea_set,
    physician_credential_license_set,
    physician_credential_profile_add,
    user_access_change,
)
from accounts.services.mfa import mfa_code_check
from accounts.services.sessions import auth_sessions_revoke
from accounts.services.throttling import (
    login_attempt_begin,
    login_attempt_succeeded,
    login_failure_record,
)
from audit import context
from audit.models import AuditAction
from audit.services import audit_record
from core.errors import ApplicationError, TooManyRequests, ValidationFailed


class MfaAdminLoginForm(AdminAuthenticationForm):
    """Admin sign-in: password, then the authenticator (or recovery) code, for every user.
    Attempts count against the same limits as the API's (accounts.services.throttling)."""

    otp_code = forms.CharField(label="Authenticator or recovery code", max_length=32)

    def clean(self) -> dict[str, Any]:
        email = normalize_email(self.data.get("username", ""))
        ip = context.current().ip
        try:
            login_attempt_begin(email=email, ip=ip, surface="admin")
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


def admin_actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def admin_object_id(obj: Model) -> str:
    # Audit rows name objects by public id where the model has one, never a sequential id.
    return str(getattr(obj, "public_id", "") or obj.pk)


class AuditedAdmin(admin.ModelAdmin):
    """The base of every ModelAdmin: every write through the admin is an audit event (saves
    naming the fields that changed, inline rows, deletes), and so is every list or object
    view (a read event)."""

    def _audit(self, request: HttpRequest, obj: Model, action: str, **detail: Any) -> None:
        audit_record(
            actor=admin_actor(request),
            action=action,
            object_type=obj._meta.label_lower,
            object_id=admin_object_id(obj),
            detail={"surface": "admin", **detail},
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        action = AuditAction.UPDATE if change else AuditAction.CREATE
        self._audit(request, obj, action, fields=sorted(form.changed_data))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            self._audit(request, obj, AuditAction.CREATE, fields=[])
        for obj, fields in formset.changed_objects:
            self._audit(request, obj, AuditAction.UPDATE, fields=sorted(fields))
        for obj in formset.deleted_objects:
            self._audit(request, obj, AuditAction.DELETE)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._audit(request, obj, AuditAction.DELETE)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self._audit(request, obj, AuditAction.DELETE)
        super().delete_queryset(request, queryset)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if response.status_code == 200 and (actor := admin_actor(request)) is not None:
            audit_record(
                actor=actor,
                action=AuditAction.READ,
                object_type=self.model._meta.label_lower,
                detail={"surface": "admin", "view": "list"},
            )
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        actor = admin_actor(request)
        if request.method == "GET" and response.status_code == 200 and actor is not None:
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                self._audit(request, obj, AuditAction.READ, view="object")
        return response


admin.site.login_form = MfaAdminLoginForm
admin.site.site_header = "Practice operations"
# Permissions are not granted through groups here (see User.has_perm): nothing to edit.
admin.site.unregister(Group)


def may_credential(request: HttpRequest) -> bool:
    return request.user.has_perm(CREDENTIALING_PERMISSION)


def as_admin_error(exc: ApplicationError) -> PermissionDenied:
    """A refusal from a service inside an admin save: the admin's transaction rolls back and
    the user sees a 403 with the reason."""
    return PermissionDenied(f"{exc.message} {exc.fields or ''}".strip())


class CredentialForm(forms.ModelForm):
    """A credential row as a credentialing user edits it: saying where it was verified is
    part of every change; an existing row keeps its state (add a row for another state)."""

    verified_against = forms.CharField(
        max_length=200, required=False, label="Verified against (board lookup, DEA, ...)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "state" in self.fields:
            self.fields["state"].disabled = True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.has_changed() and not cleaned.get("verified_against", "").strip():
            self.add_error("verified_against", "Say where you verified this credential.")
        return cleaned


class CredentialInline(admin.TabularInline):
    """Read-only unless the user holds `credentialing`; rows are saved by the credentialing
    services (PhysicianProfileAdmin.save_formset), never directly."""

    form = CredentialForm
    extra = 0
    can_delete = False  # a credential ends by its status (inactive, revoked), not deletion
    editable: ClassVar[list[str]] = []
    readonly_fields = ["verification_source", "verified_by", "verified_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        extra = ["verified_against"] if may_credential(request) else []
        return [*self.editable, *extra, *self.readonly_fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_credential(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_credential(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("accounts.view_physicianprofile")


class LicenseInline(CredentialInline):
    model = StateLicense
    editable: ClassVar[list[str]] = ["state", "number", "status", "expires_on"]


class DeaForm(CredentialForm):
    manually_verified = forms.BooleanField(
        required=False, label="Verified by hand (a number whose check failed)"
    )


class DeaInline(CredentialInline):
    """dea_registration_set runs the checks and holds a failing number for manual
    verification, which a credentialing user records here."""

    model = DeaRegistration
    form = DeaForm
    editable: ClassVar[list[str]] = ["state", "number", "schedules", "expires_on"]
    readonly_fields = [
        "verification",
        "verification_problems",
        "verification_source",
        "verified_by",
        "verified_at",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)
        return [*fields, "manually_verified"] if may_credential(request) else fields


class CdsInline(CredentialInline):
    model = CdsRegistration
    editable: ClassVar[list[str]] = ["state", "number", "status", "expires_on"]


def credential_save(
    actor: User, physician: PhysicianProfile, model: type[Model], data: dict[str, Any]
) -> Model:
    """Hand one edited inline row to its credentialing service."""
    common = {
        "actor": actor,
        "physician": physician,
        "state": data["state"],
        "number": data["number"],
        "expires_on": data["expires_on"],
        "verification_source": data["verified_against"],
    }
    if model is StateLicense:
        return physician_credential_license_set(**common, status=data["status"])
    if model is CdsRegistration:
        return physician_credential_cds_set(**common, status=data["status"])
    return physician_credential_dea_set(
        **common,
        schedules=data["schedules"],
        manually_verified=data.get("manually_verified", False),
    )


@admin.register(PhysicianProfile)
class PhysicianProfileAdmin(AuditedAdmin):
    """Ops admins see physicians and their credentials; only a credentialing user adds a
    profile or changes credentials, and then through the credentialing services."""

    list_display = ["last_name", "first_name", "npi"]
    search_fields = ["last_name", "npi"]
    inlines = [LicenseInline, DeaInline, CdsInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Name and NPI are set when the profile is added; the user is fixed for good.
        return [] if obj is None else ["user", "first_name", "last_name", "npi"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_credential(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_credential(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = admin_actor(request)
        assert actor is not None
        if change:
            if form.has_changed():  # the practice address only
                super().save_model(request, obj, form, change)
            return
        try:
            physician_credential_profile_add(actor=actor, profile=obj)
        except ApplicationError as exc:
            raise as_admin_error(exc) from exc

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        actor = admin_actor(request)
        assert actor is not None
        # What the admin's change message lists (set by formset.save(), not called here).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in formset.forms:
            if not row.has_changed():
                continue
            try:
                saved = credential_save(actor, form.instance, formset.model, row.cleaned_data)
            except ApplicationError as exc:
                raise as_admin_error(exc) from exc
            if row.instance.pk:
                formset.changed_objects.append((saved, row.changed_data))
            else:
                formset.new_objects.append(saved)


ACCESS_FIELDS = ("role", "is_staff", "is_active")


class UserAdminForm(forms.ModelForm):
    def clean_email(self) -> str:
        """One account per address: the unique hash would refuse it at save, as a 500."""
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.with_email(email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another account has this email address.")
        return email


@admin.register(User)
class UserAdmin(AuditedAdmin):
    """Email, role and staff flag are read-only except to a credentialing user; a change of
    role, staff or active flag goes through user_access_change (which ends the user's
    sessions). Users are created by registration and invitation, not here."""

    form = UserAdminForm
    list_display = ["address", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active"]
    # The address is encrypted: the search is by the exact address (any case), through its
    # keyed hash, or by public id (get_search_results); never a substring.
    search_fields = ["email"]
    search_help_text = "An exact email address (any case) or a user's public id."
    fields = ["public_id", "email", "role", "is_active", "is_staff", "date_joined", "last_login"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["public_id", "date_joined", "last_login"]
        # The email is the login (and where a password reset goes): changing it is taking
        # over the account, so it is as guarded as the role.
        return fixed if may_credential(request) else [*fixed, "email", "role", "is_staff"]

    @admin.display(description="email")
    def address(self, obj: User) -> str:
        return obj.email  # not sortable: the column holds ciphertext

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(email_hash=email_lookup_hash(term))
        with contextlib.suppress(ValueError):
            match |= Q(public_id=uuid.UUID(term))
        return queryset.filter(match), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: audit rows keep pointing at the user

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = admin_actor(request)
        assert actor is not None
        wanted = {name: getattr(obj, name) for name in ACCESS_FIELDS}
        current = User.objects.get(pk=obj.pk)
        for name in ACCESS_FIELDS:
            setattr(obj, name, getattr(current, name))
        other = sorted(set(form.changed_data) - set(ACCESS_FIELDS))
        if other:
            obj.save(update_fields=other)
            self._audit(request, obj, AuditAction.UPDATE, fields=other)
        try:
            user_access_change(actor=actor, user=obj, **wanted)
        except ApplicationError as exc:
            raise as_admin_error(exc) from exc


@admin.register(AuthSession)
class AuthSessionAdmin(AuditedAdmin):
    """Read-only: a session can be revoked (the action), never edited or un-revoked."""

    list_display = ["public_id", "user", "created_at", "last_seen_at", "revoked_at"]
    list_select_related = ["user"]
    fields = ["public_id", "user", "created_at", "last_seen_at", "revoked_at", "ip"]
    readonly_fields = ["public_id", "user", "created_at", "last_seen_at", "revoked_at", "ip"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_authsession")

    @admin.action(description="Revoke the selected sessions", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[AuthSession]) -> None:
        actor = admin_actor(request)
        assert actor is not None
        count = auth_sessions_revoke(actor=actor, sessions=queryset)
        self.message_user(request, f"{count} sessions revoked.", messages.SUCCESS)
