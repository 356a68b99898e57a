from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch, QuerySet

from accounts.models import (
    CdsRegistration,
    DeaRegistration,
    LicenseStatus,
    PhysicianProfile,
    State,
    StateLicense,
    User,
    VerificationStatus,
)
from accounts.validators import SCHEDULE_III
from core.clock import practice_today

# States whose controlled-substance rules need a state CDS registration besides the DEA one.
CDS_REQUIRED_STATES = frozenset({State.NJ})


def physician_with_credentials(user_id: int) -> PhysicianProfile | None:
    return (
        PhysicianProfile.objects.filter(user_id=user_id)
        .prefetch_related("licenses", "dea_registrations", "cds_registrations")
        .first()
    )


@dataclass(frozen=True)
class Authority:
    """Whether a physician may treat / prescribe (Schedule III) for a patient in a state."""

    state: str
    on: date
    may_treat: bool
    may_prescribe: bool
    reasons: list[str] = field(default_factory=list)


def physician_authority(
    physician: PhysicianProfile, state: str, *, on: date | None = None
) -> Authority:
    on = on or practice_today()
    reasons: list[str] = [] if physician.user.is_active else ["account_inactive"]
    state_license = next((lic for lic in physician.licenses.all() if lic.state == state), None)
    if state_license is None:
        reasons.append("no_license_in_state")
    elif state_license.status != LicenseStatus.ACTIVE:
        reasons.append("license_not_active")
    elif state_license.expires_on < on:
        reasons.append("license_expired")
    may_treat = not reasons

    dea = next((reg for reg in physician.dea_registrations.all() if reg.state == state), None)
    if dea is None:
        reasons.append("no_dea_registration_in_state")
    else:
        if dea.verification != VerificationStatus.VERIFIED:
            reasons.append("dea_not_verified")
        if dea.expires_on < on:
            reasons.append("dea_expired")
        if not SCHEDULE_III & set(dea.schedules):
            reasons.append("dea_lacks_schedule_iii")
    if state in CDS_REQUIRED_STATES:
        cds = next((reg for reg in physician.cds_registrations.all() if reg.state == state), None)
        if cds is None:
            reasons.append("no_cds_registration")
        elif cds.status != LicenseStatus.ACTIVE or cds.expires_on < on:
            reasons.append("cds_not_current")
    return Authority(
        state=state, on=on, may_treat=may_treat, may_prescribe=not reasons, reasons=reasons
    )


def physicians_licensed_in(state: str, *, on: date | None = None) -> QuerySet[PhysicianProfile]:
    """Physicians with an active, unexpired license in `state` (for routing and queues)."""
    on = on or practice_today()
    return (
        PhysicianProfile.objects.filter(
            licenses__state=state,
            licenses__status=LicenseStatus.ACTIVE,
            licenses__expires_on__gte=on,
            user__is_active=True,
        )
        .select_related("user")
        .prefetch_related(
            Prefetch("licenses", queryset=StateLicense.objects.all()),
            Prefetch("dea_registrations", queryset=DeaRegistration.objects.all()),
            Prefetch("cds_registrations", queryset=CdsRegistration.objects.all()),
        )
        .distinct()
    )


def licensed_states(physician_user: User) -> list[str]:
    """States where the physician holds an active, unexpired license (practice calendar:
        a license expiring today still counts), none for an inactive account (as
    physician_authority). Fetched as a short list first: a nested
        subquery costs more to compile than this tiny query to run.

        The review queue's hand-written SQL (patients/selectors/review_queue.py) restates
        this; tests/patients/test_review_rules.py holds the two together."""
    return list(
        StateLicense.objects.filter(
            physician__user=physician_user,
            physician__user__is_active=True,
            status=LicenseStatus.ACTIVE,
            expires_on__gte=practice_today(),
        ).values_list("state", flat=True)
    )
