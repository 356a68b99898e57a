"""Throttles: failed sign-ins and wrong codes are counted before they are checked, per
(account, IP) and per IP, whichever door (API or admin) they come through; an account under
attack from elsewhere is slowed, never locked for its owner."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.db import connection

from accounts.services import throttling
from accounts.services.mfa import mfa_code_check
from audit.models import AuditEvent
from core.errors import TooManyRequests, ValidationFailed
from core.throttling import redis_client
from tests.accounts.support import enroll, enrolled_admin, login, next_step_code, sign_in
from tests.factories import PhysicianFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_repeated_failures_on_an_account_throttle_that_ip_with_429(api, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = UserFactory()
    for _ in range(3):
        assert login(api, user.email, "bad guess").status_code == 401
    locked = login(api, user.email)  # even the right password waits out the window
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "login_throttled"
    assert int(locked["Retry-After"]) > 0
    event = AuditEvent.objects.filter(action="login_failed", detail__reason="throttled").get()
    assert (event.outcome, event.ip) == ("denied", "127.0.0.1")


def test_an_attacker_failing_on_a_physicians_account_cannot_keep_the_physician_out(api):
    user = PhysicianFactory().user
    answers = {
        login(api, user.email, "bad guess", REMOTE_ADDR="203.0.113.9").status_code
        for _ in range(50)
    }
    assert answers == {401, 429}
    assert login(api, user.email, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_past_the_soft_cap_each_ip_is_slowed_on_that_account_but_the_owner_gets_in(api, settings):
    settings.LOGIN_ACCOUNT_SOFT_CAP = 10
    user = PhysicianFactory().user
    for n in range(12):
        for _ in range(2):
            login(api, user.email, "bad guess", REMOTE_ADDR=f"203.0.113.{n}")
    assert login(api, user.email, "bad guess", REMOTE_ADDR="203.0.113.50").status_code == 401
    slowed = login(api, user.email, "bad guess", REMOTE_ADDR="203.0.113.50")
    assert slowed.status_code == 429
    assert 0 < int(slowed["Retry-After"]) <= settings.LOGIN_SLOWDOWN_MAX_SECONDS
    assert login(api, user.email, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_a_success_does_not_give_an_ip_back_its_failures_on_other_accounts(api, settings):
    settings.LOGIN_FAILURES_PER_IP = 6
    others = UserFactory.create_batch(6)
    mine = UserFactory()
    for user in others[:5]:
        assert login(api, user.email, "bad guess", REMOTE_ADDR="10.9.8.7").status_code == 401
    assert login(api, mine.email, REMOTE_ADDR="10.9.8.7").status_code == 200
    assert login(api, others[5].email, "bad guess", REMOTE_ADDR="10.9.8.7").status_code == 401
    assert login(api, mine.email, REMOTE_ADDR="10.9.8.7").status_code == 429


def test_failures_from_one_ip_throttle_other_accounts_from_that_ip(api, settings):
    settings.LOGIN_FAILURES_PER_IP = 3
    users = UserFactory.create_batch(4)
    for user in users[:3]:
        login(api, user.email, "bad guess", REMOTE_ADDR="10.9.8.7")
    assert login(api, users[3].email, REMOTE_ADDR="10.9.8.7").status_code == 429
    assert login(api, users[3].email, REMOTE_ADDR="10.9.8.8").status_code == 200


def test_success_resets_the_account_counter(api, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = UserFactory()
    login(api, user.email, "bad guess")
    login(api, user.email, "bad guess")
    assert login(api, user.email).status_code == 200
    login(api, user.email, "bad guess")
    login(api, user.email, "bad guess")
    assert login(api, user.email).status_code == 200


@pytest.mark.usefixtures("frozen_clock")
def test_repeated_wrong_codes_are_throttled(api, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = PhysicianFactory().user
    sign_in(api, user)
    secret, _ = enroll(api, user)
    sign_in(api, user)
    for _ in range(3):
        api.post("/api/auth/mfa/verify", {"code": "000000"}, format="json")
    throttled = api.post("/api/auth/mfa/verify", {"code": next_step_code(secret)}, format="json")
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "mfa_throttled"
    event = AuditEvent.objects.get(action="mfa_failed", detail__reason="throttled")
    assert (event.actor, event.outcome, event.ip) == (user, "denied", "127.0.0.1")


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_codes_get_no_more_checks_than_the_limit(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user, _ = enrolled_admin()
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def guess() -> None:
        try:
            start.wait()
            mfa_code_check(user=user, code="000000", surface="test")
            outcomes.append("accepted")
        except ValidationFailed:
            outcomes.append("wrong")
        except TooManyRequests:
            outcomes.append("throttled")
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["throttled"] * 5 + ["wrong"] * 3
    failures = AuditEvent.objects.filter(action="mfa_failed")
    assert failures.exclude(detail__has_key="reason").count() == 3
    assert failures.filter(detail__reason="throttled").count() == 5


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
    assert codes[:10] == [202] * 10
    assert codes[10:] == [429, 429]


def test_counting_never_fails_while_a_success_deletes_the_counter():
    """A success deletes the MFA counter while parallel attempts count on it: counting
    must neither fail (the key vanishing between creating and incrementing it was a 500)
    nor lose its expiry."""
    key, errors, stop = "mfa-attempts:race", [], threading.Event()

    def delete_repeatedly() -> None:
        while not stop.is_set():
            cache.delete(key)

    deleter = threading.Thread(target=delete_repeatedly)
    deleter.start()
    try:
        for _ in range(3000):
            try:
                assert throttling._count(key) >= 1
            except Exception as exc:  # kept: the assertion below reports it
                errors.append(exc)
    finally:
        stop.set()
        deleter.join()
    assert errors == []
    throttling._count(key)
    assert 0 < redis_client().ttl(cache.make_key(key)) <= throttling._window()
