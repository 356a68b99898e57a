"""Email ownership: a signed link that expires, a resend for the signed-in user, and the
checkout that waits for it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import unquote

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services.registration import email_verification_token
from audit.models import AuditEvent
from tests.accounts.support import STRONG
from tests.actors import client_for
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def link_token(body: str) -> str:
    found = re.search(r"/verify-email\?token=(\S+)", body)
    assert found, body
    return unquote(found.group(1))


def verify(api: Any, token: str) -> Any:
    return api.post("/api/auth/email/verify", {"token": token}, format="json")


def test_the_emailed_link_verifies_the_address(
    api, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.PUBLIC_APP_URL = "https://app.example.test/app/"
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            "/api/auth/register", {"email": "new@example.test", "password": STRONG}, format="json"
        )
    (message,) = mailoutbox
    assert message.body.count("https://app.example.test/app/verify-email?token=") == 1
    user = User.objects.get()
    assert user.email_verified_at is None
    assert verify(api, link_token(message.body)).status_code == 204
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert AuditEvent.objects.filter(actor=user, detail={"email_verified": True}).exists()


def test_an_expired_or_tampered_link_is_refused():
    user = UserFactory(email_verified_at=None)
    token = email_verification_token(user)
    api = APIClient()
    assert verify(api, token[:-2] + "xx").json()["error"]["code"] == "invalid_token"
    with time_machine.travel(timezone.now() + dt.timedelta(hours=48, minutes=1)):
        assert verify(api, token).status_code == 400
    user.refresh_from_db()
    assert user.email_verified_at is None
    assert verify(api, token).status_code == 204


def test_a_link_stops_working_once_the_email_changes(api):
    user = UserFactory(email_verified_at=None)
    token = email_verification_token(user)
    changed = User.objects.get(pk=user.pk)
    changed.email = "changed@example.test"
    changed.save(update_fields=["email"])
    assert verify(api, token).status_code == 400


def test_resend_mails_a_fresh_link_until_verified(mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory(email_verified_at=None)
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/auth/email/verify/resend").status_code == 202
    (message,) = mailoutbox
    assert message.to == [user.email]
    assert verify(client, link_token(message.body)).status_code == 204
    again = client.post("/api/auth/email/verify/resend")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "email_already_verified")


def test_checkout_waits_for_a_verified_email():
    user = PatientFactory(user__email_verified_at=None).user
    response = client_for(user).post("/api/billing/checkout")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "email_unverified")
