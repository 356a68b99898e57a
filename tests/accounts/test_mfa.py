from __future__ import annotations

from datetime import datetime

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import RecoveryCode, TotpDevice
from audit.models import AuditEvent
from tests.factories import PASSWORD, PhysicianFactory, UserFactory

pytestmark = pytest.mark.django_db


def sign_in(api, user):
    response = api.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return response.json()


def enrol(api):
    secret = api.post("/api/auth/mfa/enrol").json()["secret"]
    codes = api.post(
        "/api/auth/mfa/enrol/confirm", {"code": pyotp.TOTP(secret).now()}, format="json"
    ).json()["recovery_codes"]
    return secret, codes


def next_step_code(secret):
    """A valid code for the next 30 s step, so it is not a replay of the one just used."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(datetime.now()) + 1)


@pytest.mark.parametrize("role", ["physician", "ops_admin"])
def test_staff_must_enrol_before_the_token_works(api, role):
    user = UserFactory(role=role)
    assert sign_in(api, user)["mfa"] == "enrolment_required"
    refused = api.get("/api/me")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "mfa_required"

    enrolment = api.post("/api/auth/mfa/enrol")
    assert enrolment.status_code == 201
    assert enrolment.json()["provisioning_uri"].startswith("otpauth://totp/")
    secret = enrolment.json()["secret"]
    confirmed = api.post(
        "/api/auth/mfa/enrol/confirm", {"code": pyotp.TOTP(secret).now()}, format="json"
    )
    assert confirmed.status_code == 200
    assert len(confirmed.json()["recovery_codes"]) == 10
    assert api.get("/api/me").status_code == 200


def test_enrolled_staff_verifies_code_on_each_login(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enrol(api)
    assert sign_in(api, user)["mfa"] == "required"
    assert api.get("/api/me").status_code == 403
    verified = api.post("/api/auth/mfa/verify", {"code": next_step_code(secret)}, format="json")
    assert verified.status_code == 204
    assert api.get("/api/me").status_code == 200


def test_wrong_code_is_refused_and_audited(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    enrol(api)
    sign_in(api, user)
    wrong = api.post("/api/auth/mfa/verify", {"code": "000000"}, format="json")
    assert wrong.status_code == 400
    assert "code" in wrong.json()["error"]["fields"]
    assert api.get("/api/me").status_code == 403
    assert AuditEvent.objects.filter(action="mfa_failed", actor=user).count() == 1


def test_repeated_wrong_codes_are_throttled(api, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enrol(api)
    sign_in(api, user)
    for _ in range(3):
        api.post("/api/auth/mfa/verify", {"code": "000000"}, format="json")
    throttled = api.post("/api/auth/mfa/verify", {"code": next_step_code(secret)}, format="json")
    assert throttled.status_code == 429


def test_a_code_cannot_be_replayed(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enrol(api)
    code = next_step_code(secret)
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": code}, format="json").status_code == 204
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": code}, format="json").status_code == 400


def test_recovery_code_works_once_and_is_stored_hashed(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    _, codes = enrol(api)
    stored = set(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert not stored & set(codes)
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": codes[0]}, format="json").status_code == 204
    sign_in(api, user)
    assert api.post("/api/auth/mfa/verify", {"code": codes[0]}, format="json").status_code == 400


def test_pending_session_cannot_replace_a_confirmed_device(api):
    user = PhysicianFactory().user
    sign_in(api, user)
    enrol(api)
    sign_in(api, user)  # password only: MFA not yet passed
    assert api.post("/api/auth/mfa/enrol").status_code == 409


def test_totp_secret_is_encrypted_at_rest(api):
    from django.db import connection

    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enrol(api)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice")
        (raw,) = cursor.fetchone()
    assert secret not in raw
    assert TotpDevice.objects.get().secret == secret


def test_patient_without_mfa_is_not_asked(api):
    assert sign_in(api, UserFactory())["mfa"] == "not_required"
    assert api.get("/api/me").status_code == 200


def test_admin_login_needs_password_and_code():
    user = UserFactory(role="ops_admin", is_staff=True)
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    browser = Client()
    without = browser.post(
        "/admin/login/", {"username": user.email, "password": PASSWORD, "otp_code": "000000"}
    )
    assert without.status_code == 200  # form shown again with the error
    assert "_auth_user_id" not in browser.session
    with_code = browser.post(
        "/admin/login/",
        {"username": user.email, "password": PASSWORD, "otp_code": pyotp.TOTP(secret).now()},
    )
    assert with_code.status_code == 302
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/admin/audit/auditevent/").status_code == 200


def test_admin_refuses_non_staff_even_with_code():
    user = PhysicianFactory().user
    browser = Client()
    response = browser.post(
        "/admin/login/", {"username": user.email, "password": PASSWORD, "otp_code": "123456"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in browser.session
