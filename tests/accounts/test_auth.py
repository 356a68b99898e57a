"""Registration, sign-in, bearer tokens, refresh, logout, idle timeout and /api/me."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuthSession, User
from accounts.services.sessions import auth_session_issue
from audit.models import AuditEvent
from tests.accounts.support import STRONG, bearer, login
from tests.actors import actor_user, client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_patient_registers_then_signs_in(api):
    response = api.post(
        "/api/auth/register", {"email": "New@Example.test", "password": STRONG}, format="json"
    )
    assert response.status_code == 202
    assert response.json() == {"detail": "Check your email to continue."}
    user = User.objects.get()
    assert (user.email, user.role) == ("new@example.test", "patient")
    assert user.password.startswith("argon2")
    assert not AuthSession.objects.exists()  # registering signs nobody in
    token = login(api, "new@example.test", STRONG).json()["access_token"]
    me = bearer(api, token).get("/api/me")
    assert me.status_code == 200
    assert me.json()["email"] == "new@example.test"


def test_registration_refuses_weak_password_with_field_error(api):
    response = api.post(
        "/api/auth/register", {"email": "a@example.test", "password": "12345678"}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()["error"]["fields"]
    assert not User.objects.exists()


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


def test_refresh_is_audited_and_an_idle_staff_refresh_is_revoked_for_good(api, ops_admin):
    tokens = auth_session_issue(user=ops_admin, mfa_verified_at=timezone.now())
    fresh = api.post("/api/auth/refresh", {"refresh_token": tokens.refresh_token}, format="json")
    assert fresh.status_code == 200
    assert AuditEvent.objects.filter(action="login", detail={"step": "refresh"}).count() == 1
    AuthSession.objects.update(last_seen_at=timezone.now() - dt.timedelta(minutes=16))
    idle = api.post(
        "/api/auth/refresh", {"refresh_token": fresh.json()["refresh_token"]}, format="json"
    )
    assert idle.json()["error"]["code"] == "session_idle"
    assert AuthSession.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(action="logout", detail={"reason": "idle"}).count() == 1


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
    assert sorted(lic["state"] for lic in body["physician"]["licenses"]) == ["FL", "NJ"]
    assert (
        AuditEvent.objects.filter(
            action="read", actor=physician.user, object_id=str(physician.user.public_id)
        ).count()
        == 1
    )


@pytest.mark.parametrize("actor", ["patient", "ops_admin", "physician"])
def test_me_names_each_role_by_its_public_id(request, actor):
    user = actor_user(request, actor)
    body = client_for(user).get("/api/me").json()
    assert (body["role"], body["id"]) == (user.role, str(user.public_id))


def test_me_for_anonymous_is_401(api):
    assert api.get("/api/me").status_code == 401
