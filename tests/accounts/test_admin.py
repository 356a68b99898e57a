"""The Django admin: sign-in with password and code, and audited changes."""

from __future__ import annotations

import pyotp
import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.accounts.support import enrolled_admin
from tests.factories import PASSWORD, PhysicianFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


def test_admin_login_needs_password_and_code():
    user, secret = enrolled_admin()
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
    assert browser.get("/admin/accounts/user/").status_code == 200


def test_admin_refuses_non_staff_even_with_code():
    user = PhysicianFactory().user
    browser = Client()
    response = browser.post(
        "/admin/login/", {"username": user.email, "password": PASSWORD, "otp_code": "123456"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in browser.session


def test_admin_login_stops_guessing_codes_after_the_limit(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user, secret = enrolled_admin()
    browser = Client()
    form = {"username": user.email, "password": PASSWORD}
    for _ in range(3):
        browser.post("/admin/login/", {**form, "otp_code": "000000"})
    right = browser.post("/admin/login/", {**form, "otp_code": pyotp.TOTP(secret).now()})
    assert right.status_code == 200  # the form again: throttled, not signed in
    assert "_auth_user_id" not in browser.session
    wrong = AuditEvent.objects.filter(action="mfa_failed", actor=user).exclude(
        detail__has_key="reason"
    )
    assert wrong.count() == 3


def test_admin_changes_are_audited_with_the_fields_changed():
    user, secret = enrolled_admin()
    target = UserFactory()
    browser = Client()
    browser.post(
        "/admin/login/",
        {"username": user.email, "password": PASSWORD, "otp_code": pyotp.TOTP(secret).now()},
    )
    response = browser.post(
        f"/admin/accounts/user/{target.pk}/change/",
        {"email": target.email, "role": "patient", "is_active": ""},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="update", object_id=str(target.public_id))
    assert event.detail == {
        "fields": ["is_active"],
        "role": "patient",
        "sessions_revoked": 0,
    }
    assert event.actor == user
