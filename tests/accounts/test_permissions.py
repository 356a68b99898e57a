"""Each endpoint against each role and anonymous."""

from __future__ import annotations

import pytest

from tests.actors import actor_user, client_for

pytestmark = pytest.mark.django_db

SIGNED_IN_ONLY = [
    ("get", "/api/me"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/mfa/enroll"),
    ("post", "/api/auth/mfa/enroll/confirm"),
    ("post", "/api/auth/mfa/verify"),
]
ANONYMOUS_OK = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
]


@pytest.mark.parametrize(("method", "path"), SIGNED_IN_ONLY)
def test_anonymous_gets_401(api, method, path):
    response = getattr(api, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), ANONYMOUS_OK)
def test_anonymous_endpoints_answer_validation_not_auth_errors(api, method, path):
    response = getattr(api, method)(path, {}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("actor", ["patient", "other_patient", "ops_admin", "physician"])
def test_every_role_reads_only_itself_on_me(request, actor):
    user = actor_user(request, actor)
    body = client_for(user).get("/api/me").json()
    assert (body["id"], body["role"]) == (str(user.public_id), user.role)


@pytest.mark.parametrize("actor", ["patient", "ops_admin", "physician"])
def test_every_role_can_log_out(request, actor):
    client = client_for(actor_user(request, actor))
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("actor", ["ops_admin", "physician"])
def test_staff_with_password_only_session_is_limited_to_mfa_endpoints(request, actor):
    from django.utils import timezone

    from accounts.models import AuthSession
    from accounts.services.mfa import mfa_enrollment_token_issue

    user = actor_user(request, actor)
    client = client_for(user)
    AuthSession.objects.update(mfa_verified_at=None)
    assert client.get("/api/me").status_code == 403
    token = mfa_enrollment_token_issue(user=user, issued_by=None)
    enrolled = client.post("/api/auth/mfa/enroll", {"enrollment_token": token}, format="json")
    assert enrolled.status_code == 201
    AuthSession.objects.update(mfa_verified_at=timezone.now())
    assert client.get("/api/me").status_code == 200


def test_patient_cannot_use_the_admin(patient):
    from django.test import Client

    browser = Client()
    browser.force_login(patient)
    assert browser.get("/admin/").status_code == 302
