"""Fixtures shared by the Twilio webhook tests (helpers live in support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import User
from notifications import services
from tests.notifications.support import BASE, PHONE, TOKEN, Twilio


@pytest.fixture
def twilio_webhook_settings(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = BASE


@pytest.fixture
def texting_patient(patient: User) -> User:
    """The `patient` actor with a phone number on file."""
    patient.patient.set_phone(PHONE)
    patient.patient.save()
    return patient


@pytest.fixture
def reply_handlers() -> Iterator[list[tuple[str, Any]]]:
    """The module-level handler registry, restored after the test."""
    saved = list(services.reply_handlers)
    yield services.reply_handlers
    services.reply_handlers[:] = saved


@pytest.fixture(params=["webhook", "service"])
def twilio(request: pytest.FixtureRequest, api: Any) -> Twilio:
    return Twilio(api, request.param)
