"""MFA through the API: TOTP enrollment, verification on each sign-in, recovery codes."""

from __future__ import annotations

import pyotp
import pytest

from accounts.models import RecoveryCode, TotpDevice
from audit.models import AuditEvent
from tests.accounts.support import enroll, enrolled_admin, next_step_code, sign_in
from tests.factories import PhysicianFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


@pytest.mark.parametrize("role", ["physician", "ops_admin"])
def test_staff_must_enroll_before_the_token_works(api, role):
    user = UserFactory(role=role)
    assert sign_in(api, user)["mfa"] == "enrollment_required"
    refused = api.get("/api/me")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "mfa_required"

    enrollment = api.post("/api/auth/mfa/enroll")
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
    secret, _ = enroll(api)
    assert sign_in(api, user)["mfa"] == "required"
    assert api.get("/api/me").status_code == 403
    verified = api.post("/api/auth/mfa/verify", {"code": next_step_code(secret)}, format="json")
    assert verified.status_code == 204
    assert api.get("/api/me").status_code == 200


def test_wrong_code_is_refused_and_audited(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    enroll(api)
    sign_in(api, user)
    wrong = api.post("/api/auth/mfa/verify", {"code": "000000"}, format="json")
    assert wrong.status_code == 400
    assert "code" in wrong.json()["error"]["fields"]
    assert api.get("/api/me").status_code == 403
    assert AuditEvent.objects.filter(action="mfa_failed", actor=user).count() == 1


def test_a_code_cannot_be_replayed(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enroll(api)
    code = next_step_code(secret)
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": code}, format="json").status_code == 204
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": code}, format="json").status_code == 400


def test_recovery_code_works_once_and_is_stored_hashed(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    _, codes = enroll(api)
    stored = set(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert not stored & set(codes)
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": codes[0]}, format="json").status_code == 204
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": codes[0]}, format="json").status_code == 400


def test_pending_session_cannot_replace_a_confirmed_device(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    enroll(api)
    sign_in(api, user)  # password only: MFA not yet passed
    assert api.post("/api/auth/mfa/enroll").status_code == 409


def test_totp_secret_is_encrypted_at_rest(api):
    from django.db import connection

    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enroll(api)
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
