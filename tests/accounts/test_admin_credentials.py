"""The admin is no way around the API's rules: roles, the staff flag and physician
credentials change only for a credentialing user, through the credentialing services."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from accounts.models import AuthSession, PhysicianProfile, StateLicense, User
from accounts.services.credentials import credentialing_grant
from accounts.services.sessions import auth_session_issue
from audit.models import AuditEvent
from tests.accounts.support import enrolled_staff
from tests.factories import LicenseFactory, PhysicianFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


def user_form(user: User, **changes: Any) -> dict[str, Any]:
    form = {"email": user.email, "role": user.role, "is_active": "on" if user.is_active else ""}
    if user.is_staff:
        form["is_staff"] = "on"
    return {**form, **changes}


def credential_forms(**license_rows: str) -> dict[str, str]:
    """The three inline management forms, with one new license row when given."""
    data = {"practice_address": ""}
    for prefix in ("licenses", "dea_registrations", "cds_registrations"):
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    if license_rows:
        data["licenses-TOTAL_FORMS"] = "1"
        data |= {f"licenses-0-{name}": value for name, value in license_rows.items()}
    return data


NJ_LICENSE = {
    "state": "NJ",
    "number": "25MA0000001",
    "status": "active",
    "expires_on": "2031-01-01",
    "verified_against": "NJ Division of Consumer Affairs license lookup",
}


def credentialing_user() -> tuple[User, Any]:
    user, browser = enrolled_staff("ops_admin")
    credentialing_grant(user=user)
    return user, browser


def test_ops_admin_cannot_change_role_or_staff_flag():
    _, browser = enrolled_staff("ops_admin")
    target = UserFactory(role="patient")
    response = browser.post(
        f"/admin/accounts/user/{target.pk}/change/",
        user_form(target, role="physician", is_staff="on"),
    )
    assert response.status_code == 302  # saved what may be saved, ignored the rest
    target.refresh_from_db()
    assert (target.role, target.is_staff) == ("patient", False)


def test_deactivating_a_user_revokes_their_sessions():
    _, browser = enrolled_staff("ops_admin")
    target = UserFactory(role="patient")
    session = auth_session_issue(user=target).session
    browser.post(f"/admin/accounts/user/{target.pk}/change/", user_form(target, is_active=""))
    session.refresh_from_db()
    assert session.revoked_at is not None


def test_credentialing_user_changes_a_role_and_the_sessions_end():
    actor, browser = credentialing_user()
    target = UserFactory(role="patient")
    session = auth_session_issue(user=target).session
    response = browser.post(
        f"/admin/accounts/user/{target.pk}/change/",
        user_form(target, role="physician", is_staff="on"),
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.role, target.is_staff) == ("physician", True)
    assert AuthSession.objects.get(pk=session.pk).revoked_at is not None
    event = AuditEvent.objects.get(action="update", object_id=str(target.public_id))
    assert event.actor == actor
    assert event.detail["fields"] == ["role", "is_staff"]


def test_nobody_changes_their_own_role():
    actor, browser = credentialing_user()
    response = browser.post(
        f"/admin/accounts/user/{actor.pk}/change/", user_form(actor, role="physician")
    )
    assert response.status_code == 403
    actor.refresh_from_db()
    assert actor.role == "ops_admin"


def test_ops_admin_cannot_add_a_physician_profile():
    admin, browser = enrolled_staff("ops_admin")
    patient = UserFactory(role="patient")
    own = {"user": str(admin.pk), "first_name": "A", "last_name": "B", "npi": "1234567893"}
    assert browser.get("/admin/accounts/physicianprofile/add/").status_code == 403
    for user in (admin, patient):
        form = {**credential_forms(**NJ_LICENSE), **own, "user": str(user.pk)}
        response = browser.post("/admin/accounts/physicianprofile/add/", form)
        assert response.status_code == 403
    assert not PhysicianProfile.objects.exists()


def test_ops_admin_cannot_widen_a_physicians_states():
    _, browser = enrolled_staff("ops_admin")
    physician = LicenseFactory(state="FL").physician
    url = f"/admin/accounts/physicianprofile/{physician.pk}/change/"
    assert browser.get(url).status_code == 200  # visible, read-only
    response = browser.post(url, credential_forms(**NJ_LICENSE))
    assert response.status_code == 403
    assert list(physician.licenses.values_list("state", flat=True)) == ["FL"]


def test_credentialing_user_adds_a_license_with_its_verification():
    actor, browser = credentialing_user()
    physician = PhysicianFactory()
    url = f"/admin/accounts/physicianprofile/{physician.pk}/change/"
    response = browser.post(url, credential_forms(**NJ_LICENSE))
    assert response.status_code == 302
    license_ = StateLicense.objects.get(physician=physician)
    assert (license_.state, license_.verified_by) == ("NJ", actor)
    assert license_.verification_source == NJ_LICENSE["verified_against"]
    assert license_.verified_at is not None
    event = AuditEvent.objects.get(action="update", object_id=str(physician.user.public_id))
    assert event.object_type == "accounts.physicianprofile"
    assert event.detail["credential"] == "license"
    assert event.detail["verified_by"] == str(actor.public_id)
    assert event.detail["verification_source"] == NJ_LICENSE["verified_against"]


def test_a_license_change_needs_its_source():
    _, browser = credentialing_user()
    physician = PhysicianFactory()
    url = f"/admin/accounts/physicianprofile/{physician.pk}/change/"
    response = browser.post(url, credential_forms(**{**NJ_LICENSE, "verified_against": ""}))
    assert response.status_code == 200  # the form again, with the error
    assert not StateLicense.objects.exists()


def test_credentialing_user_adds_a_profile_only_to_a_physician_account():
    _, browser = credentialing_user()
    patient, doctor = UserFactory(role="patient"), UserFactory(role="physician")
    profile = {"first_name": "Ada", "last_name": "Byrd", "npi": "1234567893"}
    refused = browser.post(
        "/admin/accounts/physicianprofile/add/",
        {**credential_forms(), **profile, "user": str(patient.pk)},
    )
    assert refused.status_code == 403
    added = browser.post(
        "/admin/accounts/physicianprofile/add/",
        {**credential_forms(), **profile, "user": str(doctor.pk)},
    )
    assert added.status_code == 302
    assert PhysicianProfile.objects.get().user == doctor


def test_grant_credentialing_grants_and_revokes(capsys):
    user = UserFactory(role="ops_admin", is_staff=True)
    assert not user.has_perm("accounts.credentialing")
    call_command("grant_credentialing", user.email.upper())
    assert User.objects.get(pk=user.pk).has_perm("accounts.credentialing")
    call_command("grant_credentialing", user.email, "--revoke")
    assert not User.objects.get(pk=user.pk).has_perm("accounts.credentialing")
    assert "revoked from" in capsys.readouterr().out


def test_superusers_do_not_credential_without_the_grant():
    superuser = UserFactory(role="ops_admin", is_staff=True, is_superuser=True)
    assert superuser.has_perm("accounts.change_user")
    assert not superuser.has_perm("accounts.credentialing")


def test_ops_admin_cannot_change_an_email():
    _, browser = enrolled_staff("ops_admin")
    target = UserFactory(role="physician")
    browser.post(
        f"/admin/accounts/user/{target.pk}/change/", user_form(target, email="me@evil.test")
    )
    target.refresh_from_db()
    assert target.email != "me@evil.test"
