"""Registration reveals nothing about which emails have accounts; the owner learns of it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import base_user

from accounts.models import AuthSession, User
from audit.models import AuditEvent
from tests.accounts.support import STRONG
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def register(api: Any, email: str, password: str = STRONG) -> Any:
    return api.post("/api/auth/register", {"email": email, "password": password}, format="json")


def test_taken_email_gets_the_same_answer_as_a_new_one(
    api, mailoutbox, django_capture_on_commit_callbacks
):
    UserFactory(email="taken@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        fresh = register(api, "fresh@example.test")
        taken = register(api, "TAKEN@example.test")
    assert (taken.status_code, taken.json()) == (fresh.status_code, fresh.json())
    assert fresh.status_code == 202
    assert set(fresh.json()) == {"detail"}  # no tokens: login is the way in
    assert not AuthSession.objects.exists()
    assert User.objects.with_email("taken@example.test").count() == 1
    by_address = {message.to[0]: message for message in mailoutbox}
    assert set(by_address) == {"fresh@example.test", "taken@example.test"}
    assert "verify-email?token=" in by_address["fresh@example.test"].body
    notice = by_address["taken@example.test"]
    assert "tried to create an account" in notice.body
    assert "token" not in notice.body


def test_both_paths_hash_the_password_once(api, monkeypatch):
    UserFactory(email="taken@example.test")
    calls: list[str] = []
    real = base_user.make_password

    def counting(password: str | None, *args: Any, **kwargs: Any) -> str:
        calls.append("hash")
        return real(password, *args, **kwargs)

    monkeypatch.setattr(base_user, "make_password", counting)
    register(api, "fresh@example.test")
    fresh_hashes = len(calls)
    calls.clear()
    register(api, "taken@example.test")
    assert fresh_hashes == len(calls) == 1


def test_taken_email_is_audited_without_naming_the_account(api):
    UserFactory(email="taken@example.test")
    register(api, "taken@example.test")
    denied = AuditEvent.objects.get(outcome="denied")
    assert (denied.action, denied.actor_id, denied.detail) == (
        "create",
        None,
        {"reason": "email_taken"},
    )
    assert denied.object_id == ""  # the attempt names no account
