"""Password change (ends the other sessions) and reset by email (same answer for unknown
addresses, single use, 30 minutes, ends every session), throttled per IP."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import unquote

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthSession
from accounts.services.passwords import password_reset_token
from accounts.services.sessions import auth_session_issue
from audit.models import AuditEvent
from tests.accounts.support import STRONG, login
from tests.actors import client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW = "another sturdy passphrase 5"


def change(client: APIClient, current: str, new: str = NEW) -> Any:
    return client.post(
        "/api/auth/password/change",
        {"current_password": current, "new_password": new},
        format="json",
    )


def confirm(api: APIClient, token: str, new: str = NEW) -> Any:
    return api.post(
        "/api/auth/password/reset/confirm", {"token": token, "new_password": new}, format="json"
    )


def reset_link_token(body: str) -> str:
    found = re.search(r"/reset-password\?token=(\S+)", body)
    assert found, body
    return unquote(found.group(1))


def test_change_needs_the_current_password_and_a_strong_new_one():
    user = UserFactory()
    client = client_for(user)
    wrong = change(client, "not my password")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "invalid_current_password")
    weak = change(client, PASSWORD, "12345678")
    assert "new_password" in weak.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_change_ends_the_other_sessions_and_keeps_this_one(api):
    user = UserFactory()
    other = auth_session_issue(user=user)
    client = client_for(user)
    assert change(client, PASSWORD).status_code == 204
    assert client.get("/api/me").status_code == 200
    assert AuthSession.objects.get(pk=other.session.pk).revoked_at is not None
    assert login(api, user.email, NEW).status_code == 200
    assert login(api, user.email, PASSWORD).status_code == 401
    assert AuditEvent.objects.filter(actor=user, detail={"password": "changed"}).exists()


# The token carries a timestamp in seconds: the clock must not tick between link and check.
@pytest.mark.usefixtures("frozen_clock")
def test_reset_answers_the_same_for_unknown_emails(
    api, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        known = api.post("/api/auth/password/reset", {"email": user.email}, format="json")
        unknown = api.post(
            "/api/auth/password/reset", {"email": "nobody@example.test"}, format="json"
        )
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202
    (message,) = mailoutbox
    assert message.to == [user.email]
    assert reset_link_token(message.body) == password_reset_token(user)
    requested = AuditEvent.objects.filter(detail={"password": "reset_requested"})
    assert list(requested.values_list("object_id", flat=True)) == [str(user.public_id)]


def test_reset_sets_the_password_once_and_ends_every_session(api):
    user = UserFactory()
    client = client_for(user)
    token = password_reset_token(user)
    assert confirm(api, token).status_code == 204
    assert client.get("/api/me").status_code == 401
    assert not AuthSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert login(api, user.email, NEW).status_code == 200
    again = confirm(api, token, STRONG)
    assert (again.status_code, again.json()["error"]["code"]) == (400, "invalid_token")
    assert AuditEvent.objects.filter(actor=user, detail={"password": "reset"}).exists()


@pytest.mark.parametrize("token", ["", "garbage", "0" * 32 + ".abc-def", "not-a-uuid.abc"])
def test_reset_refuses_malformed_tokens(api, token):
    UserFactory()
    assert confirm(api, token).status_code == 400


def test_reset_token_expires_after_30_minutes(api):
    user = UserFactory()
    token = password_reset_token(user)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31)):
        assert confirm(api, token).status_code == 400
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_reset_endpoints_are_throttled_per_ip(api, settings):
    settings.NUM_PROXIES = 0
    codes = [
        api.post("/api/auth/password/reset", {"email": f"r{n}@example.test"}, format="json")
        for n in range(4)
    ] + [confirm(api, "garbage") for _ in range(2)]
    assert [r.status_code for r in codes] == [202] * 4 + [400, 429]
