"""Finding a user by phone number (notifications' contact directory, as patients fills it)."""

from __future__ import annotations

import pytest

from notifications.directory import user_ids_for_phone

pytestmark = pytest.mark.django_db


def test_phone_lookup_matches_however_the_number_is_written(patient):
    patient.patient.set_phone("+13055550142")
    patient.patient.save()
    assert user_ids_for_phone("(305) 555-0142") == [patient.pk]
    assert user_ids_for_phone("1-305-555-0142") == [patient.pk]
