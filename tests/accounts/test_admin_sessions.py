"""Sessions in the admin: read-only, revocable (never un-revocable), and every view of
users and sessions there is a read event."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin

from accounts.admin import AuditedAdmin
from accounts.models import AuthSession
from accounts.services.sessions import auth_session_issue
from audit.models import AuditEvent
from tests.accounts.support import enrolled_staff
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


def live_session() -> AuthSession:
    return auth_session_issue(user=UserFactory()).session


def test_revoke_action_ends_sessions_and_is_audited():
    admin, browser = enrolled_staff("ops_admin")
    session, other = live_session(), live_session()
    response = browser.post(
        "/admin/accounts/authsession/",
        {"action": "revoke", "_selected_action": [str(session.pk)]},
    )
    assert response.status_code == 302
    session.refresh_from_db()
    other.refresh_from_db()
    assert session.revoked_at is not None
    assert other.revoked_at is None
    event = AuditEvent.objects.get(action="logout", object_id=str(session.public_id))
    assert event.actor == admin


def test_a_session_cannot_be_edited_or_unrevoked():
    _, browser = enrolled_staff("ops_admin")
    session = live_session()
    browser.post(
        "/admin/accounts/authsession/", {"action": "revoke", "_selected_action": [str(session.pk)]}
    )
    session.refresh_from_db()
    revoked_at = session.revoked_at
    url = f"/admin/accounts/authsession/{session.pk}/change/"
    assert browser.get(url).status_code == 200  # visible, read-only
    assert browser.post(url, {"revoked_at_0": "", "revoked_at_1": ""}).status_code == 403
    session.refresh_from_db()
    assert session.revoked_at == revoked_at is not None


def test_admin_list_and_row_views_are_read_events():
    admin, browser = enrolled_staff("ops_admin")
    target = UserFactory()
    live_session()
    assert browser.get("/admin/accounts/user/").status_code == 200
    assert browser.get(f"/admin/accounts/user/{target.pk}/change/").status_code == 200
    assert browser.get("/admin/accounts/authsession/").status_code == 200
    reads = AuditEvent.objects.filter(action="read", actor=admin)
    assert set(reads.values_list("object_type", "object_id")) == {
        ("accounts.user", ""),
        ("accounts.user", str(target.public_id)),
        ("accounts.authsession", ""),
    }


def test_every_model_admin_is_audited():
    registered = [model for model in apps.get_models() if admin.site.is_registered(model)]
    assert registered
    for model in registered:
        assert isinstance(admin.site.get_model_admin(model), AuditedAdmin), model
