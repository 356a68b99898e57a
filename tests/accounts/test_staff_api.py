"""Staff accounts through the API, for a credentialing user only: inviting a staff member,
issuing their MFA enrollment token, resetting their MFA after a lost device. Everyone else
is refused (403) before any lookup; a credentialing user gets 404 for an id that is not an
active staff member's, 403 for their own."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthSession, MfaEnrollmentToken, RecoveryCode, TotpDevice, User
from accounts.services.credentials import credentialing_grant
from accounts.services.sessions import auth_session_issue
from audit.models import AuditEvent
from tests.accounts.support import bearer, enrolled_admin, sign_in
from tests.actors import client_for
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


@pytest.fixture
def credentialer() -> User:
    user = UserFactory(role="ops_admin", is_staff=True)
    credentialing_grant(user=user)
    return user


def token_url(user: User) -> str:
    return f"/api/staff/{user.public_id}/mfa-enrollment-token"


def reset_url(user: User) -> str:
    return f"/api/staff/{user.public_id}/mfa-reset"


def enroll_status(user: User, token: str) -> int:
    """Sign `user` in with the password and start enrollment with `token`."""
    api = APIClient()
    sign_in(api, user)
    return api.post("/api/auth/mfa/enroll", {"enrollment_token": token}, format="json").status_code


# --- the enrollment token ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["physician", "ops_admin", "privacy_officer"])
def test_a_credentialing_user_issues_a_staff_members_token_once_audited(credentialer, role):
    member = UserFactory(role=role, is_staff=True)
    response = client_for(credentialer).post(token_url(member))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"] == str(member.public_id)
    assert response["Cache-Control"] == "no-store, private"
    row = MfaEnrollmentToken.objects.get(user=member)
    assert row.issued_by == credentialer
    assert body["enrollment_token"] not in row.digest  # stored as a digest only
    event = AuditEvent.objects.get(detail__event="mfa_enrollment_token_issued")
    assert (event.actor_id, event.detail["user"]) == (credentialer.pk, str(member.public_id))

    assert enroll_status(member, body["enrollment_token"]) == 201


def test_a_new_token_replaces_the_unused_one(credentialer):
    member = UserFactory(role="physician", is_staff=True)
    api = client_for(credentialer)
    first = api.post(token_url(member)).json()["enrollment_token"]
    second = api.post(token_url(member)).json()["enrollment_token"]
    assert enroll_status(member, first) == 400
    assert enroll_status(member, second) == 201


@pytest.mark.parametrize("target", ["patient", "unknown", "inactive staff"])
def test_an_id_that_is_not_an_active_staff_member_is_404(credentialer, patient, target):
    public_id = {
        "patient": patient.public_id,
        "unknown": uuid.uuid4(),
        "inactive staff": UserFactory(role="ops_admin", is_staff=True, is_active=False).public_id,
    }[target]
    response = client_for(credentialer).post(f"/api/staff/{public_id}/mfa-enrollment-token")
    assert response.status_code == 404
    assert not MfaEnrollmentToken.objects.exists()


def test_nobody_issues_their_own_token(credentialer):
    response = client_for(credentialer).post(token_url(credentialer))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "own_credentials"
    assert not MfaEnrollmentToken.objects.exists()


@pytest.mark.parametrize("existing", [True, False])
def test_without_credentialing_it_is_403_whatever_the_id(ops_admin, existing):
    """An ops admin cannot hand out tokens, nor learn which ids are staff."""
    member = UserFactory(role="physician", is_staff=True)
    url = token_url(member) if existing else f"/api/staff/{uuid.uuid4()}/mfa-enrollment-token"
    assert client_for(ops_admin).post(url).status_code == 403
    assert not MfaEnrollmentToken.objects.exists()


def test_credentialing_needs_mfa_done_on_this_session(credentialer):
    member = UserFactory(role="physician", is_staff=True)
    pending = auth_session_issue(user=credentialer, mfa_verified_at=None)
    response = bearer(APIClient(), pending.access_token).post(token_url(member))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "mfa_required"
    assert not MfaEnrollmentToken.objects.exists()


def test_a_revoked_grant_stops_working_at_once(credentialer):
    member = UserFactory(role="physician", is_staff=True)
    api = client_for(credentialer)
    credentialing_grant(user=credentialer, granted=False)
    assert api.post(token_url(member)).status_code == 403


# --- the MFA reset after a lost device ------------------------------------------------------


def test_a_credentialing_user_resets_a_staff_members_mfa(credentialer):
    member, _ = enrolled_admin()
    RecoveryCode.objects.create(user=member, code_hash="x")
    their_session = auth_session_issue(user=member, mfa_verified_at=timezone.now()).session
    response = client_for(credentialer).post(
        reset_url(member), {"reason": "lost phone"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert not TotpDevice.objects.filter(user=member).exists()
    assert not RecoveryCode.objects.filter(user=member).exists()
    assert AuthSession.objects.get(pk=their_session.pk).revoked_at is not None
    event = AuditEvent.objects.get(detail__event="mfa_reset")
    assert (event.actor_id, event.object_id, event.detail["reason"]) == (
        credentialer.pk,
        str(member.public_id),
        "lost phone",
    )
    assert MfaEnrollmentToken.objects.filter(user=member, used_at__isnull=True).count() == 1
    assert enroll_status(member, response.json()["enrollment_token"]) == 201


@pytest.mark.parametrize("reason", ["", "   ", "lost\u202ephone"])
def test_a_reset_needs_a_plain_reason(credentialer, reason):
    member, _ = enrolled_admin()
    response = client_for(credentialer).post(reset_url(member), {"reason": reason}, format="json")
    assert response.status_code == 400
    assert TotpDevice.objects.filter(user=member).exists()


def test_only_a_credentialing_user_resets_and_never_their_own(ops_admin, credentialer):
    member, _ = enrolled_admin()
    body = {"reason": "lost phone"}
    assert client_for(ops_admin).post(reset_url(member), body, format="json").status_code == 403
    mine = client_for(credentialer).post(reset_url(credentialer), body, format="json")
    assert mine.status_code == 403
    assert TotpDevice.objects.filter(user=member).exists()
    assert not AuditEvent.objects.filter(detail__event="mfa_reset").exists()


# --- the invitation ---------------------------------------------------------------------


def test_an_invitation_creates_the_account_without_showing_a_password(
    credentialer, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(credentialer).post(
            "/api/staff/invitations",
            {"email": "New.Officer@Practice.example", "role": "privacy_officer"},
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"user", "enrollment_token", "expires_at"}
    member = User.objects.get(public_id=body["user"])
    assert (member.role, member.is_staff) == ("privacy_officer", True)
    # Its owner chooses the password through the emailed link.
    (message,) = mailoutbox
    assert message.to == [member.email]
    assert "/reset-password" in message.body
    assert AuditEvent.objects.filter(detail__event="staff_invited", actor=credentialer).exists()


def test_an_existing_staff_member_keeps_the_account_and_gets_a_token(credentialer, mailoutbox):
    member = UserFactory(role="ops_admin", is_staff=True)
    response = client_for(credentialer).post(
        "/api/staff/invitations", {"email": member.email, "role": "ops_admin"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["user"] == str(member.public_id)
    assert enroll_status(member, response.json()["enrollment_token"]) == 201
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("physician", 400),  # a physician's account comes from credentialing first
        ("patient", 400),
        ("superuser", 400),
    ],
)
def test_invitations_only_for_staff_roles_that_need_no_credentials(credentialer, role, status):
    response = client_for(credentialer).post(
        "/api/staff/invitations", {"email": "someone@practice.example", "role": role}, format="json"
    )
    assert response.status_code == status
    assert not User.objects.with_email("someone@practice.example").exists()


def test_an_invitation_never_changes_a_role(credentialer, patient):
    response = client_for(credentialer).post(
        "/api/staff/invitations", {"email": patient.email, "role": "ops_admin"}, format="json"
    )
    assert response.status_code == 409
    patient.refresh_from_db()
    assert (patient.role, patient.is_staff) == ("patient", False)


def test_nobody_invites_themself_and_others_may_not_invite(credentialer, ops_admin):
    mine = client_for(credentialer).post(
        "/api/staff/invitations", {"email": credentialer.email, "role": "ops_admin"}, format="json"
    )
    assert mine.status_code == 403
    other = client_for(ops_admin).post(
        "/api/staff/invitations", {"email": "x@practice.example", "role": "ops_admin"}, "json"
    )
    assert other.status_code == 403
    assert not MfaEnrollmentToken.objects.exists()
    assert not User.objects.with_email("x@practice.example").exists()
