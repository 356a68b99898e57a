from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuthSession, User
from audit.models import AuditEvent
from tests.actors import actor_user, client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "a sturdy passphrase 4 tests"


def login(api, email, password=PASSWORD, **extra):
    return api.post(
        "/api/auth/login", {"email": email, "password": password}, format="json", **extra
    )


def bearer(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_patient_registers_and_is_signed_in(api):
    response = api.post(
        "/api/auth/register", {"email": "New@Example.test", "password": STRONG}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["mfa"] == "not_required"
    user = User.objects.get()
    assert (user.email, user.role) == ("new@example.test", "patient")
    assert user.password.startswith("argon2")
    me = bearer(api, response.json()["access_token"]).get("/api/me")
    assert me.status_code == 200
    assert me.json()["email"] == "new@example.test"


def test_registration_refuses_weak_password_with_field_error(api):
    response = api.post(
        "/api/auth/register", {"email": "a@example.test", "password": "12345678"}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()["error"]["fields"]
    assert not User.objects.exists()


def test_registration_twice_with_same_email_any_case_is_409(api):
    api.post("/api/auth/register", {"email": "dup@example.test", "password": STRONG}, format="json")
    again = api.post(
        "/api/auth/register", {"email": "DUP@example.test", "password": STRONG}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "email_taken"
    assert User.objects.count() == 1


def test_login_writes_audit_event_and_failed_login_too(api):
    user = UserFactory()
    assert login(api, user.email).status_code == 200
    assert login(api, user.email, "wrong password").status_code == 401
    assert login(api, "nobody@example.test", "wrong password").status_code == 401
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_id", "outcome"))
    assert actions == [
        ("login", user.pk, "success"),
        ("login_failed", user.pk, "denied"),
        ("login_failed", None, "denied"),
    ]


def test_wrong_password_is_401_in_error_format(api):
    user = UserFactory()
    body = login(api, user.email, "not the password").json()
    assert body["error"]["code"] == "invalid_credentials"


def test_repeated_failures_lock_the_account_with_429(api, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = UserFactory()
    for _ in range(3):
        assert login(api, user.email, "bad guess").status_code == 401
    locked = login(api, user.email)  # even the right password waits out the window
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "login_throttled"
    assert int(locked["Retry-After"]) > 0


def test_failures_from_one_ip_throttle_other_accounts_from_that_ip(api, settings):
    settings.LOGIN_FAILURES_PER_IP = 3
    users = UserFactory.create_batch(4)
    for user in users[:3]:
        login(api, user.email, "bad guess", REMOTE_ADDR="10.9.8.7")
    assert login(api, users[3].email, REMOTE_ADDR="10.9.8.7").status_code == 429
    assert login(api, users[3].email, REMOTE_ADDR="10.9.8.8").status_code == 200


def test_success_resets_the_account_counter(api, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = UserFactory()
    login(api, user.email, "bad guess")
    login(api, user.email, "bad guess")
    assert login(api, user.email).status_code == 200
    login(api, user.email, "bad guess")
    login(api, user.email, "bad guess")
    assert login(api, user.email).status_code == 200


def test_inactive_user_cannot_log_in(api):
    user = UserFactory(is_active=False)
    assert login(api, user.email).status_code == 401


def test_logout_revokes_the_token(api):
    user = UserFactory()
    token = login(api, user.email).json()["access_token"]
    bearer(api, token)
    assert api.post("/api/auth/logout").status_code == 204
    after = api.get("/api/me")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_token"
    assert AuditEvent.objects.filter(action="logout", actor=user).exists()


def test_expired_access_token_is_refused_and_refresh_issues_a_new_pair(api):
    user = UserFactory()
    tokens = login(api, user.email).json()
    AuthSession.objects.update(access_expires_at=timezone.now() - dt.timedelta(seconds=1))
    expired = bearer(api, tokens["access_token"]).get("/api/me")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_expired"
    assert "Bearer" in expired["WWW-Authenticate"]

    api.credentials()
    fresh = api.post("/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert fresh.status_code == 200
    assert bearer(api, fresh.json()["access_token"]).get("/api/me").status_code == 200
    # The refresh token rotated: the old one no longer works.
    api.credentials()
    reused = api.post(
        "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert reused.status_code == 401


def test_refresh_after_logout_is_refused(api):
    user = UserFactory()
    tokens = login(api, user.email).json()
    bearer(api, tokens["access_token"]).post("/api/auth/logout")
    api.credentials()
    refused = api.post(
        "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert refused.status_code == 401


def test_staff_session_ends_after_idle_timeout(ops_admin):
    client = client_for(ops_admin)
    assert client.get("/api/me").status_code == 200
    AuthSession.objects.update(last_seen_at=timezone.now() - dt.timedelta(minutes=16))
    idle = client.get("/api/me")
    assert idle.status_code == 401
    assert idle.json()["error"]["code"] == "session_idle"
    assert AuthSession.objects.get().revoked_at is not None


def test_patient_session_survives_idle_within_token_lifetime(patient):
    client = client_for(patient)
    AuthSession.objects.update(last_seen_at=timezone.now() - dt.timedelta(minutes=16))
    assert client.get("/api/me").status_code == 200


def test_malformed_authorization_header_is_401(api):
    api.credentials(HTTP_AUTHORIZATION="Token abc")
    response = api.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_header"


def test_me_for_physician_includes_credentials_and_audits(physician):
    body = client_for(physician.user).get("/api/me").json()
    assert body["role"] == "physician"
    assert body["id"] == str(physician.user.public_id)
    assert sorted(lic["state"] for lic in body["physician"]["licenses"]) == ["FL", "NJ"]
    assert (
        AuditEvent.objects.filter(
            action="read", actor=physician.user, object_id=str(physician.user.public_id)
        ).count()
        == 1
    )


@pytest.mark.parametrize("actor", ["patient", "ops_admin", "physician"])
def test_me_for_each_role_and_anonymous(api, request, actor):
    user = actor_user(request, actor)
    assert client_for(user).get("/api/me").json()["role"] == user.role
    assert api.get("/api/me").status_code == 401


def test_ids_in_responses_are_uuids_not_sequential(patient):
    body = client_for(patient).get("/api/me").json()
    assert body["id"] == str(patient.public_id)
    assert str(patient.pk) != body["id"]
