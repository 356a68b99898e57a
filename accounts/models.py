from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from accounts.validators import validate_npi
from core.crypto import EncryptedEmailField, EncryptedTextField, keyed_hash


class Role(models.TextChoices):
    PATIENT = "patient"
    PHYSICIAN = "physician"
    OPS_ADMIN = "ops_admin"
    # Reads the audit log (in the admin) and nothing clinical: no patients in the API.
    PRIVACY_OFFICER = "privacy_officer"


STAFF_ROLES = frozenset({Role.PHYSICIAN, Role.OPS_ADMIN, Role.PRIVACY_OFFICER})
# Changes physician credentials, roles and the staff flag (accounts.services.credentials).
# Granted to nobody by default, superusers included: `manage.py grant_credentialing EMAIL`.
CREDENTIALING_PERMISSION = "accounts.credentialing"


class State(models.TextChoices):
    FL = "FL", "Florida"
    NJ = "NJ", "New Jersey"


EMAIL_HASH_PURPOSE = "account-email"


def normalize_email(email: str) -> str:
    """The one form of an address we store and hash: stripped and lower-cased."""
    return email.strip().lower()


def email_lookup_hash(email: str) -> str:
    """The keyed hash that finds an account by its address, whatever its case or spaces."""
    return keyed_hash(normalize_email(email), purpose=EMAIL_HASH_PURPOSE)


class EmailHashField(models.CharField):
    """`email_lookup_hash` of the row's `email`, computed whenever the row is written
    (save and bulk_create), so it cannot drift from the address. QuerySet.update(email=)
    bypasses it: change an address with save()."""

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = email_lookup_hash(model_instance.email)  # type: ignore[attr-defined]
        setattr(model_instance, self.attname, value)
        return value


class UserQuerySet(models.QuerySet["User"]):
    def with_email(self, email: str) -> UserQuerySet:
        """The account (at most one) with this address, in any case or spacing."""
        return self.filter(email_hash=email_lookup_hash(email))


class UserManager(BaseUserManager["User"]):
    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def with_email(self, email: str) -> UserQuerySet:
        return self.get_queryset().with_email(email)

    def get_by_natural_key(self, username: str | None) -> User:
        # ModelBackend (API and admin sign-in) and createsuperuser come here.
        return self.with_email(username or "").get()

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(role=Role.OPS_ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """One person, one login (no shared accounts). URLs name users by `public_id`.

    PermissionsMixin only stores the one explicit grant (`credentialing`); what a role may
    do in the admin is decided by has_perm below, not by groups."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Encrypted at rest; found by `email_hash` (User.objects.with_email), never by value.
    email = EncryptedEmailField()
    # Unique: one account per address, case and spaces ignored.
    email_hash = EmailHashField(max_length=64, unique=True, editable=False)
    role = models.CharField(max_length=16, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    # Django admin access (ops admins only); superusers exist for break-fix by engineers.
    is_staff = models.BooleanField(default=False)
    is_superuser = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Set when the owner follows the signed link we emailed; paying needs it.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

    # The address is what a person types to sign in (admin form, createsuperuser); its
    # uniqueness is `email_hash`'s, which Django's check cannot see: auth.E003 is silenced
    # in settings for that reason.
    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return f"{self.role} {self.public_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if "email" not in self.get_deferred_fields():
            self.email = normalize_email(self.email)
            # Loaded (no longer deferred), so a save of the loaded fields writes it too.
            self.email_hash = email_lookup_hash(self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_hash"}
        super().save(*args, **kwargs)

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES

    # Django admin asks these. Ops admins manage what the admin exposes except the audit
    # log (privacy officers only) and credentials (an explicit grant, never implied).
    def has_perm(self, perm: str, obj: Any = None) -> bool:
        if not self.is_active:
            return False
        if perm == CREDENTIALING_PERMISSION:
            app_label, _, codename = perm.partition(".")
            return self.user_permissions.filter(
                content_type__app_label=app_label, codename=codename
            ).exists()
        return self.has_module_perms(perm.partition(".")[0])

    def has_module_perms(self, app_label: str) -> bool:
        if not self.is_active:
            return False
        if app_label == "audit":
            return self.role == Role.PRIVACY_OFFICER
        return self.is_superuser or self.role == Role.OPS_ADMIN


class PhysicianProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="physician")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    npi = models.CharField(max_length=10, unique=True, validators=[validate_npi])
    practice_address = models.CharField(max_length=300, blank=True)

    class Meta:
        permissions = [("credentialing", "Can verify and change physician credentials")]

    def __str__(self) -> str:
        return f"Dr. {self.first_name} {self.last_name}"


class VerifiedCredential(models.Model):
    """Who verified a credential, when, and against what source (a board lookup, the DEA
    registrant validation, a copy of the certificate): set by the credentialing services."""

    verified_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_source = models.CharField(max_length=200, blank=True)

    class Meta:
        abstract = True


class LicenseStatus(models.TextChoices):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class StateLicense(VerifiedCredential):
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.CASCADE, related_name="licenses"
    )
    state = models.CharField(max_length=2, choices=State.choices)
    number = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=LicenseStatus.choices, default=LicenseStatus.ACTIVE
    )
    expires_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["physician", "state"], name="one_license_per_state"),
        ]

    def __str__(self) -> str:
        return f"{self.state} {self.number}"


class VerificationStatus(models.TextChoices):
    VERIFIED = "verified"
    NEEDS_MANUAL_VERIFICATION = "needs_manual_verification"
    REJECTED = "rejected"


class DeaRegistration(VerifiedCredential):
    """A DEA registration is per state; a failing check is held, never accepted as valid."""

    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.CASCADE, related_name="dea_registrations"
    )
    number = models.CharField(max_length=9)
    state = models.CharField(max_length=2, choices=State.choices)
    schedules = ArrayField(models.CharField(max_length=4), default=list)
    expires_on = models.DateField()
    verification = models.CharField(max_length=32, choices=VerificationStatus.choices)
    verification_problems = ArrayField(models.CharField(max_length=32), default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["physician", "state"], name="one_dea_per_state"),
        ]

    def __str__(self) -> str:
        return f"DEA {self.number} ({self.state})"


class CdsRegistration(VerifiedCredential):
    """A state controlled-dangerous-substance registration (New Jersey requires one)."""

    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.CASCADE, related_name="cds_registrations"
    )
    state = models.CharField(max_length=2, choices=State.choices)
    number = models.CharField(max_length=32)
    expires_on = models.DateField()
    status = models.CharField(
        max_length=16, choices=LicenseStatus.choices, default=LicenseStatus.ACTIVE
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["physician", "state"], name="one_cds_per_state"),
        ]

    def __str__(self) -> str:
        return f"CDS {self.state} {self.number}"


class AuthSession(models.Model):
    """One login: an access token and a refresh token, stored only as SHA-256 digests."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    access_digest = models.CharField(max_length=64, unique=True)
    refresh_digest = models.CharField(max_length=64, unique=True)
    access_expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField()
    mfa_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    # Not a column: whether the user has a confirmed authenticator, loaded with the session
    # on the request path (accounts.services.sessions.session_mfa_required); None until then.
    mfa_enrolled: bool | None = None

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="authsession_user_idx")]

    def __str__(self) -> str:
        return f"session {self.public_id}"


class RotatedRefreshToken(models.Model):
    """The digest of a refresh token that was exchanged: presenting it again means two
    parties hold the session's tokens, so the session is revoked (reuse detection)."""

    session = models.ForeignKey(AuthSession, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    rotated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"rotated refresh token of session {self.session_id}"


class MfaEnrollmentToken(models.Model):
    """A single-use, expiring permission for a staff member to enroll an authenticator,
    handed over out of band (`manage.py staff_invite`, `manage.py mfa_reset`), so that a
    leaked password alone cannot enroll someone else's device. Stored as a SHA-256 digest."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"MFA enrollment token {self.public_id}"


class TotpDevice(models.Model):
    """A TOTP secret; usable for login only once `confirmed_at` is set."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = EncryptedTextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Refuse a code whose time step was already used (replay inside the 30 s window).
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"totp for {self.user_id}"

    @property
    def public_id(self) -> uuid.UUID:
        """A device has no id of its own to show: it is named by its user (one per user)."""
        return self.user.public_id


class RecoveryCode(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=128)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code {self.pk}"
