"""Throttles that count before checking, proxies, schedules and the practice's calendar."""

from __future__ import annotations

import datetime as dt
import threading

import pyotp
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import TotpDevice
from accounts.selectors import physician_authority, physician_with_credentials
from audit.models import AuditEvent
from core.errors import ValidationFailed
from tests.factories import PASSWORD, LicenseFactory, PhysicianFactory, UserFactory

pytestmark = pytest.mark.django_db


def enrolled_admin():
    user = UserFactory(role="ops_admin", is_staff=True)
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    return user, secret


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
    assert AuditEvent.objects.filter(action="mfa_failed", actor=user).count() == 3


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_codes_get_no_more_checks_than_the_limit(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user, _ = enrolled_admin()
    start = threading.Barrier(8)

    def guess() -> None:
        try:
            start.wait()
            services.mfa_attempt_begin(user)
            if not services.mfa_code_valid(user=user, code="000000"):
                services.mfa_failure_record(user, surface="test")
        except Exception:  # the throttled ones
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert AuditEvent.objects.filter(action="mfa_failed").count() == 3


def test_registration_throttle_ignores_spoofed_forwarded_for(api, settings):
    settings.NUM_PROXIES = 0
    codes = [
        api.post(
            "/api/auth/register",
            {"email": f"r{n}@example.test", "password": "a sturdy passphrase 4 tests"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(12)
    ]
    assert codes[:10] == [201] * 10
    assert codes[10:] == [429, 429]


def test_completed_mfa_is_audited_as_a_login_step(api):
    user, secret = enrolled_admin()
    tokens = api.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    ).json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    api.post("/api/auth/mfa/verify", {"code": pyotp.TOTP(secret).now()}, format="json")
    steps = list(AuditEvent.objects.filter(action="login").values_list("detail", flat=True))
    assert steps == [{}, {"step": "mfa"}]


@pytest.mark.parametrize(
    ("given", "stored"),
    [(["3N"], ["IIIN"]), (["2", "3", "4", "5"], ["II", "III", "IV", "V"]), (["III", "3"], ["III"])],
)
def test_dea_schedules_as_printed_on_certificates(given, stored):
    doctor = PhysicianFactory(last_name="Byrd")
    LicenseFactory(physician=doctor, state="FL")
    registration = services.dea_registration_set(
        physician=doctor,
        number="BB1234563",
        state="FL",
        schedules=given,
        expires_on=timezone.localdate() + dt.timedelta(days=30),
    )
    assert registration.schedules == stored
    authority = physician_authority(physician_with_credentials(doctor.user_id), "FL")
    assert authority.may_prescribe == ("III" in stored or "IIIN" in stored)


def test_unknown_schedule_is_a_field_error():
    doctor = PhysicianFactory(last_name="Byrd")
    with pytest.raises(ValidationFailed) as refused:
        services.dea_registration_set(
            physician=doctor,
            number="BB1234563",
            state="FL",
            schedules=["VI"],
            expires_on=dt.date(2030, 1, 1),
        )
    assert "schedules" in refused.value.fields


def test_licence_expiry_follows_the_practices_calendar_not_utc():
    doctor = PhysicianFactory()
    LicenseFactory(physician=doctor, state="FL", expires_on=dt.date(2026, 7, 14))
    # 02:00 UTC on the 15th is still 22:00 on the 14th in Eastern time.
    with time_machine.travel(dt.datetime(2026, 7, 15, 2, 0, tzinfo=dt.UTC), tick=False):
        assert physician_authority(physician_with_credentials(doctor.user_id), "FL").may_treat
    with time_machine.travel(dt.datetime(2026, 7, 15, 5, 0, tzinfo=dt.UTC), tick=False):
        assert not physician_authority(physician_with_credentials(doctor.user_id), "FL").may_treat


def test_phone_lookup_matches_however_the_number_is_written(patient):
    from notifications.directory import user_ids_for_phone

    patient.patient.set_phone("+13055550142")
    patient.patient.save()
    assert user_ids_for_phone("(305) 555-0142") == [patient.pk]
    assert user_ids_for_phone("1-305-555-0142") == [patient.pk]


def test_refresh_is_audited_and_an_idle_staff_refresh_is_revoked_for_good(api, ops_admin):
    from accounts.models import AuthSession
    from accounts.services import _issue_tokens

    tokens = _issue_tokens(
        AuthSession(user=ops_admin, mfa_required=True, mfa_verified_at=timezone.now())
    )
    tokens.session.save()
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
    assert event.detail == {"surface": "admin", "fields": ["is_active"]}
    assert event.actor == user
