"""Factory users can sign in with PASSWORD whatever hashers an earlier test switched to."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

FAST = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_factory_passwords_follow_the_hashers_in_force():
    # Like tests/config/test_schema_fuzz.py's fast hashing: its users, made with a hasher
    # the default settings do not accept, must not leak into the users of later tests.
    with override_settings(PASSWORD_HASHERS=FAST):
        fast = UserFactory()
        assert fast.password.startswith("md5$")
        assert fast.check_password(PASSWORD)
    later = UserFactory()
    assert not later.password.startswith("md5$")
    assert later.check_password(PASSWORD)
