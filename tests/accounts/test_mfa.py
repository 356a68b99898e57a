"""MFA through the API: TOTP enrollment (staff with an enrollment token), verification on
each sign-in, recovery codes, and the reset for a lost device."""

from __future__ import annotations

import datetime as dt
import io

import pyotp
import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import MfaEnrollmentToken, RecoveryCode, TotpDevice, User
from audit.models import AuditEvent
from tests.accounts.support import (
    bearer,
    enroll,
    enrolled_admin,
    enrollment_token,
    login,
    next_step_code,
    sign_in,
)
from tests.factories import PhysicianFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


@pytest.mark.parametrize("role", ["physician", "ops_admin"])
def test_staff_must_enroll_before_the_token_works(api, role):
    user = UserFactory(role=role)
    assert sign_in(api, user)["mfa"] == "enrollment_required"
    refused = api.get("/api/me")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "mfa_required"

    enrollment = api.post(
        "/api/auth/mfa/enroll", {"enrollment_token": enrollment_token(user)}, format="json"
    )
    assert enrollment.status_code == 201
    assert enrollment.json()["provisioning_uri"].startswith("otpauth://totp/")
    secret = enrollment.json()["secret"]
    confirmed = api.post(
        "/api/auth/mfa/enroll/confirm", {"code": pyotp.TOTP(secret).now()}, format="json"
    )
    assert confirmed.status_code == 200
    assert len(confirmed.json()["recovery_codes"]) == 10
    assert api.get("/api/me").status_code == 200


def test_enrolled_staff_verifies_code_on_each_login(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enroll(api, user)
    assert sign_in(api, user)["mfa"] == "required"
    assert api.get("/api/me").status_code == 403
    verified = api.post("/api/auth/mfa/verify", {"code": next_step_code(secret)}, format="json")
    assert verified.status_code == 204
    assert api.get("/api/me").status_code == 200


def test_wrong_code_is_refused_and_audited(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    enroll(api, user)
    sign_in(api, user)
    wrong = api.post("/api/auth/mfa/verify", {"code": "000000"}, format="json")
    assert wrong.status_code == 400
    assert "code" in wrong.json()["error"]["fields"]
    assert api.get("/api/me").status_code == 403
    assert AuditEvent.objects.filter(action="mfa_failed", actor=user).count() == 1


def test_a_code_cannot_be_replayed(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enroll(api, user)
    code = next_step_code(secret)
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": code}, format="json").status_code == 204
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": code}, format="json").status_code == 400


def test_recovery_code_works_once_and_is_stored_hashed(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    _, codes = enroll(api, user)
    stored = set(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert not stored & set(codes)
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": codes[0]}, format="json").status_code == 204
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": codes[0]}, format="json").status_code == 400


def test_pending_session_cannot_replace_a_confirmed_device(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    enroll(api, user)
    sign_in(api, user)  # password only: MFA not yet passed
    assert api.post("/api/auth/mfa/enroll").status_code == 409


def test_totp_secret_is_encrypted_at_rest(api):
    from django.db import connection

    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enroll(api, user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice")
        (raw,) = cursor.fetchone()
    assert secret not in raw
    assert TotpDevice.objects.get().secret == secret


def test_patient_without_mfa_is_not_asked(api):
    assert sign_in(api, UserFactory())["mfa"] == "not_required"
    assert api.get("/api/me").status_code == 200


def test_completed_mfa_is_audited_as_a_login_step(api):
    user, secret = enrolled_admin()
    sign_in(api, user)
    api.post("/api/auth/mfa/verify", {"code": pyotp.TOTP(secret).now()}, format="json")
    steps = list(AuditEvent.objects.filter(action="login").values_list("detail", flat=True))
    assert steps == [{}, {"step": "mfa"}]


def start(api, token: str) -> int:
    """Start enrollment with an enrollment token: the status code."""
    return api.post("/api/auth/mfa/enroll", {"enrollment_token": token}, format="json").status_code


def test_staff_cannot_enroll_with_the_password_alone(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    for body in ({}, {"enrollment_token": "guessed"}):
        refused = api.post("/api/auth/mfa/enroll", body, format="json")
        assert refused.status_code == 400
        assert "enrollment_token" in refused.json()["error"]["fields"]
    assert not TotpDevice.objects.exists()
    assert (
        AuditEvent.objects.filter(
            action="mfa_failed", actor=user, detail__reason="enrollment_token"
        ).count()
        == 2
    )


def test_an_enrollment_token_works_once_for_its_user_within_a_day(api):
    user, other = PhysicianFactory().user, PhysicianFactory().user
    token = enrollment_token(user)
    assert MfaEnrollmentToken.objects.get().digest != token
    sign_in(api, other)
    assert start(api, token) == 400
    sign_in(api, user)
    assert start(api, token) == 201
    assert start(api, token) == 400
    late = enrollment_token(user)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=24, seconds=1)):
        sign_in(api, user)
        assert start(api, late) == 400


def test_a_patient_enrolls_without_a_token(api):
    user = UserFactory()
    sign_in(api, user)
    enroll(api, user)
    assert TotpDevice.objects.get(user=user).confirmed_at is not None


def test_staff_invite_creates_the_account_and_shows_the_token_once(api):
    out = io.StringIO()
    call_command("staff_invite", "New.Admin@example.test", role="ops_admin", stdout=out)
    lines = dict(line.split(" (shown once): ") for line in out.getvalue().splitlines())
    user = User.objects.with_email("new.admin@example.test").get()
    assert (user.role, user.is_staff) == ("ops_admin", True)
    bearer(api, login(api, user.email, lines["initial password"]).json()["access_token"])
    enrolled = api.post(
        "/api/auth/mfa/enroll", {"enrollment_token": lines["enrollment token"]}, format="json"
    )
    assert enrolled.status_code == 201


def test_staff_invite_refuses_a_physician_without_credentials_and_a_role_change():
    with pytest.raises(CommandError):
        call_command("staff_invite", "nobody@example.test", role="physician")
    patient = UserFactory()
    with pytest.raises(CommandError):
        call_command("staff_invite", patient.email, role="ops_admin")
    assert not MfaEnrollmentToken.objects.exists()


def test_mfa_reset_removes_the_device_ends_sessions_audits_and_issues_a_token(api):
    user, _ = enrolled_admin()
    RecoveryCode.objects.create(user=user, code_hash="x")
    tokens = login(api, user.email).json()
    out = io.StringIO()
    call_command("mfa_reset", user.email, reason="lost phone", stdout=out)
    assert not TotpDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert bearer(api, tokens["access_token"]).get("/api/me").status_code == 401
    event = AuditEvent.objects.get(detail__event="mfa_reset")
    assert (event.object_id, event.detail["reason"]) == (str(user.public_id), "lost phone")
    token = out.getvalue().split("(shown once): ")[1].strip()
    sign_in(api, user)
    assert start(api, token) == 201


def test_seed_demo_prints_an_enrollment_token_for_each_demo_staff_member(api):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    tokens = dict(
        line.split()
        for line in out.getvalue().split("enrollment_token")[-1].splitlines()[1:]
        if line.strip()
    )
    assert set(tokens) == set(User.objects.exclude(role="patient").values_list("email", flat=True))
    user = User.objects.with_email("ops@demo.example").get()
    sign_in(api, user, password="demo-password-2026")
    assert start(api, tokens[user.email]) == 201
