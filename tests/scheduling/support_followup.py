"""What the follow-up and cadence tests share: completed check-ins, and texts from the
patients' phones."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from accounts.models import PhysicianProfile, User
from notifications.services import inbound_sms_receive
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from tests.scheduling.support import MINUTES, appointment_for

PATIENT_PHONE = "+13055550123"
OTHER_PATIENT_PHONE = "+12015550123"


def completed_check_in(
    patient: User, physician: PhysicianProfile, completed_at: datetime
) -> Appointment:
    """A check-in that ended, and was completed, at `completed_at`."""
    appointment = appointment_for(
        patient,
        physician,
        completed_at - timedelta(minutes=MINUTES[AppointmentKind.CHECK_IN]),
        kind=AppointmentKind.CHECK_IN,
        status=AppointmentStatus.COMPLETED,
    )
    appointment.completed_at = completed_at
    appointment.save(update_fields=["completed_at"])
    return appointment


def with_phone(user: User, phone: str) -> User:
    user.patient.set_phone(phone)
    user.patient.save()
    return user


def text_from(phone: str, body: str) -> str | None:
    """A text from `phone`, through the inbound SMS handlers; the immediate reply."""
    return inbound_sms_receive(
        provider_message_id="SM" + uuid.uuid4().hex, from_phone=phone, body=body
    )
