"""Helpers shared by the accounts tests: signing in through the API, enrolling MFA."""

from __future__ import annotations

from typing import Any

import pyotp
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import TotpDevice, User
from accounts.services.mfa import mfa_enrollment_token_issue
from tests.factories import PASSWORD, UserFactory

STRONG = "a sturdy passphrase 4 tests"


def login(api: APIClient, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return api.post(
        "/api/auth/login", {"email": email, "password": password}, format="json", **extra
    )


def bearer(api: APIClient, token: str) -> APIClient:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def sign_in(api: APIClient, user: User, password: str = PASSWORD) -> dict[str, Any]:
    """Sign `user` in with the password; `api` then carries the new access token."""
    body = login(api, user.email, password).json()
    bearer(api, body["access_token"])
    return body


def enrollment_token(user: User) -> str:
    """A fresh enrollment token for a staff member, as `manage.py staff_invite` hands out."""
    return mfa_enrollment_token_issue(user=user, issued_by=None)


def enroll(api: APIClient, user: User) -> tuple[str, list[str]]:
    """Enroll the signed-in `user` in MFA (with an enrollment token if staff): the TOTP
    secret and the recovery codes."""
    body = {"enrollment_token": enrollment_token(user)} if user.is_staff_role else {}
    secret = api.post("/api/auth/mfa/enroll", body, format="json").json()["secret"]
    codes = api.post(
        "/api/auth/mfa/enroll/confirm", {"code": pyotp.TOTP(secret).now()}, format="json"
    ).json()["recovery_codes"]
    return secret, codes


def next_step_code(secret: str) -> str:
    """A valid code for the next 30 s step, so it is not a replay of the one just used."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(timezone.now()) + 1)


def enrolled_admin() -> tuple[User, str]:
    """An ops admin with a confirmed TOTP device, and its secret."""
    user = UserFactory(role="ops_admin", is_staff=True)
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    return user, secret


def admin_browser(user: User, secret: str) -> Client:
    """A browser signed in to the Django admin as `user` (password and TOTP code). The clock
    stands still while it signs in: the code cannot fall on the other side of a 30 s step."""
    browser = Client()
    with time_machine.travel(timezone.now(), tick=False):
        response = browser.post(
            "/admin/login/",
            {"username": user.email, "password": PASSWORD, "otp_code": pyotp.TOTP(secret).now()},
        )
    assert response.status_code == 302, "the admin sign-in failed"
    return browser


def enrolled_staff(role: str) -> tuple[User, Client]:
    """A staff user of `role` with MFA, signed in to the admin."""
    user = UserFactory(role=role, is_staff=True)
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    return user, admin_browser(user, secret)
