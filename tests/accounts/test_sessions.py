"""Sessions by the user's current role: MFA on every request, the absolute lifetime that
refresh cannot extend, and refresh token reuse detection."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuthSession, User
from accounts.services.sessions import auth_session_issue
from audit.models import AuditEvent
from tests.accounts.support import bearer, login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def refresh(api, token: str):
    api.credentials()
    return api.post("/api/auth/refresh", {"refresh_token": token}, format="json")


def test_a_patient_session_needs_mfa_the_moment_the_user_becomes_staff(api):
    user = UserFactory()
    tokens = login(api, user.email).json()
    assert tokens["mfa"] == "not_required"
    bearer(api, tokens["access_token"])
    assert api.get("/api/me").status_code == 200

    User.objects.filter(pk=user.pk).update(role="ops_admin")
    refused = api.get("/api/me")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "mfa_required"
    # The MFA endpoints still answer: this session can go on to enroll.
    pending = api.post("/api/auth/mfa/verify", {"code": "123456"}, format="json")
    assert pending.json()["error"]["code"] == "mfa_enrollment_required"


def test_a_patient_session_gets_the_staff_lifetime_when_the_user_becomes_staff(api):
    user = UserFactory()
    tokens = auth_session_issue(user=user, mfa_verified_at=timezone.now())
    AuthSession.objects.update(created_at=timezone.now() - dt.timedelta(hours=13))
    bearer(api, tokens.access_token)
    assert api.get("/api/me").status_code == 200
    User.objects.filter(pk=user.pk).update(role="ops_admin")
    ended = api.get("/api/me")
    assert ended.status_code == 401
    assert ended.json()["error"]["code"] == "session_expired"


def test_refresh_cannot_extend_a_patient_session_past_its_absolute_lifetime(api):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        token = login(api, UserFactory().email).json()["refresh_token"]
        for day in (10, 20, 29):
            clock.move_to(start + dt.timedelta(days=day))
            fresh = refresh(api, token)
            assert fresh.status_code == 200
            token = fresh.json()["refresh_token"]
        end = start + dt.timedelta(days=30)
        assert dt.datetime.fromisoformat(fresh.json()["refresh_expires_at"]) <= end
        access = fresh.json()["access_token"]
        clock.move_to(end + dt.timedelta(seconds=1))
        assert refresh(api, token).status_code == 401
        assert bearer(api, access).get("/api/me").status_code == 401


def test_a_staff_session_ends_twelve_hours_after_sign_in(api, ops_admin, settings):
    settings.STAFF_IDLE_TIMEOUT = dt.timedelta(days=1)  # the idle timeout is tested elsewhere
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        token = auth_session_issue(user=ops_admin, mfa_verified_at=start).refresh_token
        clock.move_to(start + dt.timedelta(hours=11, minutes=59))
        fresh = refresh(api, token)
        assert fresh.status_code == 200
        end = start + dt.timedelta(hours=12)
        assert dt.datetime.fromisoformat(fresh.json()["access_expires_at"]) <= end
        clock.move_to(end + dt.timedelta(seconds=1))
        refused = refresh(api, fresh.json()["refresh_token"])
        assert refused.status_code == 401
    assert AuditEvent.objects.filter(
        action="login_failed", detail={"step": "refresh", "reason": "expired"}
    ).exists()


def test_a_reused_refresh_token_revokes_the_whole_session_and_is_audited(api):
    user = UserFactory()
    first = login(api, user.email).json()
    second = refresh(api, first["refresh_token"]).json()

    reused = refresh(api, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "invalid_refresh_token"
    assert AuthSession.objects.get().revoked_at is not None
    assert refresh(api, second["refresh_token"]).status_code == 401
    assert bearer(api, second["access_token"]).get("/api/me").status_code == 401
    event = AuditEvent.objects.get(detail={"step": "refresh", "reason": "reused"})
    assert (event.action, event.outcome, event.actor) == ("login_failed", "denied", user)
    assert event.ip == "127.0.0.1"


def test_an_unknown_refresh_token_is_audited_with_the_ip(api):
    assert refresh(api, secrets.token_urlsafe(32)).status_code == 401
    event = AuditEvent.objects.get(action="login_failed")
    assert (event.outcome, event.actor, event.ip) == ("denied", None, "127.0.0.1")
    assert event.detail == {"step": "refresh", "reason": "unknown"}
