"""The daily purge of exchanged refresh-token digests: only sessions past their absolute
lifetime (by the user's current role, as accounts.services.sessions decides), and a second
run deletes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import AuthSession, RotatedRefreshToken, User
from accounts.services.sessions import auth_session_issue, session_absolute_expiry
from accounts.tasks import purge_rotated_refresh_tokens
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STAFF = settings.SESSION_ABSOLUTE_TTL_STAFF
PATIENT = settings.SESSION_ABSOLUTE_TTL_PATIENT
SECOND = timedelta(seconds=1)


def rotated_token_of(user: User, *, age: timedelta) -> RotatedRefreshToken:
    session = auth_session_issue(user=user, mfa_verified_at=timezone.now()).session
    AuthSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - age)
    session.refresh_from_db()
    return RotatedRefreshToken.objects.create(
        session=session, digest=f"{session.pk:064d}", rotated_at=timezone.now()
    )


def survivors() -> set[int]:
    return set(RotatedRefreshToken.objects.values_list("pk", flat=True))


def test_beat_runs_it_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["accounts-purge-rotated-refresh-tokens"]
    assert entry == {"task": "accounts.tasks.purge_rotated_refresh_tokens", "schedule": 86400.0}


def test_only_sessions_past_their_absolute_lifetime_lose_their_rotated_tokens():
    patient = UserFactory(role="patient")
    physician = UserFactory(role="physician", is_staff=True)
    privacy = UserFactory(role="privacy_officer", is_staff=True)
    cases = {
        # (user, session age): gone?
        (patient, PATIENT + SECOND): True,
        (patient, PATIENT - 60 * SECOND): False,
        # A patient's lifetime is longer than staff's: past staff's, still alive.
        (patient, STAFF + 60 * SECOND): False,
        (physician, STAFF + SECOND): True,
        (physician, STAFF - 60 * SECOND): False,
        (privacy, STAFF + SECOND): True,
    }
    rows = {key: rotated_token_of(key[0], age=key[1]) for key in cases}
    now = timezone.now()
    for (_, age), row in rows.items():
        # The purge agrees with the rule sessions are refused by.
        assert (session_absolute_expiry(row.session) <= now) is cases[(row.session.user, age)]

    deleted = purge_rotated_refresh_tokens()

    gone = {row.pk for key, row in rows.items() if cases[key]}
    assert deleted == len(gone) == 3
    assert survivors() == {row.pk for row in rows.values()} - gone


def test_the_lifetime_follows_the_current_role():
    """A session started as a patient whose user is now staff has the staff lifetime."""
    user = UserFactory(role="patient")
    row = rotated_token_of(user, age=STAFF + SECOND)
    User.objects.filter(pk=user.pk).update(role="ops_admin", is_staff=True)
    assert purge_rotated_refresh_tokens() == 1
    assert not RotatedRefreshToken.objects.filter(pk=row.pk).exists()


def test_runs_twice_one_side_effect():
    old = rotated_token_of(UserFactory(role="patient"), age=PATIENT + SECOND)
    young = rotated_token_of(UserFactory(role="patient"), age=timedelta(hours=1))
    assert purge_rotated_refresh_tokens() == 1
    assert purge_rotated_refresh_tokens() == 0
    assert survivors() == {young.pk}
    assert old.pk not in survivors()


def test_purges_past_one_batch(monkeypatch):
    monkeypatch.setattr("accounts.services.token_cleanup.PURGE_BATCH", 2)
    user = UserFactory(role="patient")
    for _ in range(5):
        rotated_token_of(user, age=PATIENT + SECOND)
    assert purge_rotated_refresh_tokens() == 5
    assert survivors() == set()
