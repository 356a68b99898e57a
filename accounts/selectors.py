from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from rest_framework import exceptions

from accounts.models import (
    AuthSession,
    CdsRegistration,
    DeaRegistration,
    LicenseStatus,
    PhysicianProfile,
    State,
    StateLicense,
    User,
    VerificationStatus,
)
from accounts.services import session_is_idle, token_digest

# States whose controlled-substance rules need a state CDS registration besides the DEA one.
CDS_REQUIRED_STATES = frozenset({State.NJ})


@functools.cache
def _session_query() -> tuple[str, list[str], list[str]]:
    session_fields = AuthSession._meta.concrete_fields
    user_fields = User._meta.concrete_fields
    select = ", ".join(
        [f's."{f.column}"' for f in session_fields] + [f'u."{f.column}"' for f in user_fields]
    )
    # Identifiers come from model metadata; the token digest is a bound parameter.
    sql = (
        f"SELECT {select} FROM {AuthSession._meta.db_table} s "  # noqa: S608
        f"JOIN {User._meta.db_table} u ON u.id = s.user_id WHERE s.access_digest = %s"
    )
    return sql, [f.attname for f in session_fields], [f.attname for f in user_fields]


def _session_by_access_digest(digest: str) -> AuthSession | None:
    """One hand-written query: this runs on every authenticated request, and building the
    equivalent ORM query costs several times the database round trip (see benchmarks/)."""
    sql, session_names, user_names = _session_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    session = AuthSession.from_db("default", session_names, row[: len(session_names)])
    session.user = User.from_db("default", user_names, row[len(session_names) :])
    return session


def session_for_access_token(token: str) -> AuthSession:
    """The live session behind an access token, or AuthenticationFailed with the reason."""
    now = timezone.now()
    session = _session_by_access_digest(token_digest(token))
    if session is None or session.revoked_at is not None or not session.user.is_active:
        raise exceptions.AuthenticationFailed(
            "The access token is not valid.", code="invalid_token"
        )
    if session.access_expires_at <= now:
        raise exceptions.AuthenticationFailed("The access token has expired.", code="token_expired")
    if session_is_idle(session, now):
        AuthSession.objects.filter(pk=session.pk).update(revoked_at=now)
        raise exceptions.AuthenticationFailed("Signed out after inactivity.", code="session_idle")
    if now - session.last_seen_at > settings.SESSION_TOUCH_INTERVAL:
        AuthSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now
    return session


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
    on = on or timezone.localdate()
    reasons: list[str] = [] if physician.user.is_active else ["account_inactive"]
    licence = next((lic for lic in physician.licenses.all() if lic.state == state), None)
    if licence is None:
        reasons.append("no_license_in_state")
    elif licence.status != LicenseStatus.ACTIVE:
        reasons.append("license_not_active")
    elif licence.expires_on < on:
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
        if "III" not in dea.schedules:
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
    """Physicians with an active, unexpired licence in `state` (for routing and queues)."""
    on = on or timezone.localdate()
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
