"""What the booking tests share: a clock, a physician's office hours, patients ready for
each kind of visit, and the API calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from accounts.models import PhysicianProfile, User
from notifications.models import Message, MessageStatus
from patients.models import ConsentKind, IntakeStatus
from patients.selectors.consent import consent_document_current
from patients.services.consent import consent_sign
from scheduling.models import PhysicianSchedule
from tests.actors import client_for
from tests.billing.support import become_member
from tests.patients.support import intake_for
from tests.scheduling.support import schedule_for

# Wednesday 2 December 2026, 10:00 Eastern. The slots: Monday 7 December, Eastern office
# hours (9:00-17:00) on the physician's side.
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
SLOT = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10:00 Eastern, 09:00 Central
OTHER_SLOT = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
LICENSE_NUMBER = "ME-12345"


def office(physician: PhysicianProfile, **kwargs: Any) -> PhysicianSchedule:
    """Weekday hours 9-17 Eastern, a title and a board certification to disclose."""
    schedule = schedule_for(physician, **kwargs)
    schedule.title = "MD"
    schedule.board_certification = "American Board of Psychiatry and Neurology"
    schedule.save()
    physician.licenses.filter(state="FL").update(number=LICENSE_NUMBER)
    return schedule


def ready_for_consultation(user: User) -> None:
    """A submitted intake: what the free consultation asks."""
    intake_for(user.patient, status=IntakeStatus.SUBMITTED, submitted_at=NOW - timedelta(days=1))


def cleared(user: User) -> None:
    """Clinical clearance: an approved recent intake and the consents of care."""
    intake_for(user.patient, status=IntakeStatus.APPROVED, submitted_at=NOW - timedelta(days=2))
    for kind in (ConsentKind.TREATMENT, ConsentKind.TELEHEALTH):
        document = consent_document_current(kind)
        assert document is not None
        record = user.patient
        name = f"{record.legal_first_name} {record.legal_last_name}"
        consent_sign(patient=record, document=document, typed_name=name)


def ready_for_check_in(user: User) -> None:
    cleared(user)
    become_member(user)


def book(
    user: User,
    physician: PhysicianProfile,
    *,
    kind: str = "consultation",
    starts_at: datetime = SLOT,
    patient: User | None = None,
    client: Any = None,
) -> Any:
    body: dict[str, Any] = {
        "kind": kind,
        "starts_at": starts_at.isoformat(),
        "physician": str(physician.user.public_id),
    }
    if patient is not None:
        body["patient"] = str(patient.patient.public_id)
    return (client or client_for(user)).post("/api/scheduling/appointments", body, format="json")


def error(response: Any) -> tuple[str, dict[str, list[str]]]:
    body = response.json()["error"]
    return body["code"], body["fields"]


def pending_keys(prefix: str = "appointment:") -> set[str]:
    """Dedupe keys of the messages still scheduled."""
    return set(
        Message.objects.filter(
            status=MessageStatus.SCHEDULED, dedupe_key__startswith=prefix
        ).values_list("dedupe_key", flat=True)
    )
