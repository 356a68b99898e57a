"""Appointments a user may reach. Authorization is a queryset question: the patient sees
their own, a physician the visits they hold, ops admins every one; anything else is 404,
exactly like an id that does not exist."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.models import Role, User
from core.errors import NotFound
from scheduling.models import ACTIVE_STATUSES, Appointment


def appointments_visible_to(viewer: User) -> QuerySet[Appointment]:
    appointments = Appointment.objects.select_related(
        "patient__user", "physician__user", "physician__schedule", "rescheduled_from"
    ).prefetch_related("physician__licenses")
    if viewer.role == Role.OPS_ADMIN:
        return appointments
    if viewer.role == Role.PHYSICIAN:
        return appointments.filter(physician__user=viewer)
    if viewer.role == Role.PATIENT:
        return appointments.filter(patient__user=viewer)
    return appointments.none()


def appointment_visible_to(viewer: User, public_id: uuid.UUID | str) -> Appointment:
    appointment = appointments_visible_to(viewer).filter(public_id=public_id).first()
    if appointment is None:
        raise NotFound("No such appointment.")
    return appointment


def rescheduled_to(appointment: Appointment) -> Appointment | None:
    """The appointment that replaced this one, when it was rescheduled."""
    return Appointment.objects.filter(rescheduled_from=appointment).first()


def upcoming(now: datetime) -> Q:
    """The one definition of an upcoming appointment: booked or in progress, and not yet
    over. A visit left in progress (never completed) or booked and not yet marked a
    no-show stops being upcoming at its end."""
    return Q(status__in=ACTIVE_STATUSES, ends_at__gt=now)
