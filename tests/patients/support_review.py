"""Helpers for the physician review tests (test_review_*.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from accounts.models import PhysicianProfile
from patients.models import Intake
from tests.actors import client_for
from tests.factories import LicenseFactory, PhysicianFactory

SELF_HARM = {"phq9": [2, 2, 1, 1, 1, 2, 1, 2, 1]}


def fl_only_physician() -> PhysicianProfile:
    doctor = PhysicianFactory(last_name="Florida")
    LicenseFactory(physician=doctor, state="FL")
    return doctor


def queue(user: Any, query: str = "") -> Any:
    return client_for(user).get(f"/api/review/intakes{query}")


def act(user: Any, intake: Intake, action: str, body: dict[str, Any] | None = None) -> Any:
    return client_for(user).post(
        f"/api/review/intakes/{intake.public_id}/{action}", body or {}, format="json"
    )


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def set_submitted_at(intake: Intake, days_ago: int) -> None:
    Intake.objects.filter(pk=intake.pk).update(
        submitted_at=timezone.now() - dt.timedelta(days=days_ago)
    )
