"""Booked visits whose physician may no longer see the patient there: found by a daily
beat task, each ops admin alerted once per appointment.

The rule is physician_authority's (accounts.selectors), asked for the patient's state on
the visit's practice date, as the slot search asks it: a visit is flagged when the
physician may not treat there then (account inactive, license missing, not active or
expired: the visit cannot be held) or may not prescribe there then (DEA registration or
New Jersey CDS registration missing, unverified or expired: the visit cannot lead to the
treatment it is booked for). Either way ops have until the visit to renew the credential
or move the visit to another physician; a credential renewed in time quiets later runs,
and an alert already sent stays sent.

Once: each alert's dedupe key names the appointment and the admin (the outbox keeps one
row per key), so a daily run repeats nothing. The alert carries no PHI: a generic text
and a link to the appointment (its public id), which ops admins may open.

Cost: a fixed number of queries whatever the number of visits or physicians: the booked
visits to come with their patient's state and their physician's credentials (one query
each), the ops admins, and one outbox INSERT for every alert.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.selectors import physician_authority
from core.clock import practice_date
from notifications.models import Category, Channel
from notifications.outbox import MessageDraft, messages_schedule
from scheduling.models import Appointment, AppointmentStatus

ALERT_TEMPLATE = "visit_physician_not_authorized"


def visits_without_authority(*, now: datetime) -> list[Appointment]:
    """The booked visits to come whose physician may not treat or prescribe in the
    patient's state on the visit's date (module docstring), soonest first."""
    visits = (
        Appointment.objects.filter(status=AppointmentStatus.BOOKED, starts_at__gte=now)
        .select_related("patient", "physician__user")
        .only("public_id", "starts_at", "patient__state", "physician__user__is_active")
        .prefetch_related(
            "physician__licenses", "physician__dea_registrations", "physician__cds_registrations"
        )
        .order_by("starts_at", "pk")
    )
    return [
        visit
        for visit in visits
        if not physician_authority(
            visit.physician, visit.patient.state, on=practice_date(visit.starts_at)
        ).may_prescribe
    ]


@transaction.atomic
def visits_without_authority_alert(*, now: datetime | None = None) -> int:
    """Alert every active ops admin once per visit the rule flags; returns how many
    visits it flags now (alerted before or not)."""
    visits = visits_without_authority(now=now or timezone.now())
    if not visits:
        return 0
    admins = list(User.objects.filter(role=Role.OPS_ADMIN, is_active=True).order_by("pk"))
    messages_schedule(
        [
            MessageDraft(
                recipient=admin,
                template_key=ALERT_TEMPLATE,
                category=Category.CARE,
                channel=Channel.EMAIL,
                dedupe_key=f"visit-authority:{visit.public_id}:{admin.pk}",
                context={"path": visit.app_path},
            )
            for visit in visits
            for admin in admins
        ]
    )
    return len(visits)
