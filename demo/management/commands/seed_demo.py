"""Demo data for `make run`: safe to run again (finds what exists, creates what is missing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import (
    STAFF_ROLES,
    PhysicianProfile,
    Role,
    TotpDevice,
    User,
    email_lookup_hash,
)
from accounts.services.credentials import (
    cds_registration_set,
    dea_registration_set,
    license_set,
    physician_create,
)
from accounts.services.mfa import mfa_enrollment_token_issue
from audit.models import AuditAction
from audit.services import audit_write
from billing.gateways.local import LocalGateway, checkout_complete
from billing.gateways.registry import gateway
from billing.selectors import current_subscription
from billing.services.checkout import checkout_start
from core.clock import practice_today
from demo.prescriptions import catalog_seed, demo_order_seed
from notifications.services import ConsentChange, consents_set
from patients.models import Patient
from patients.services.record import patient_profile_save
from scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentKind, PhysicianSchedule
from scheduling.selectors.slots import buffer_of, open_slots
from scheduling.services.availability import (
    ScheduleSettings,
    WeeklyWindow,
    physician_schedule_replace,
)

DEMO_PASSWORD = "demo-password-2026"
OPS_EMAIL = "ops@demo.example"
PRIVACY_EMAIL = "privacy@demo.example"
PATIENT_EMAIL = "patient@demo.example"
# (email, first, last, NPI, {state: (licence, DEA number)}); DEA check digits are valid.
PHYSICIANS = [
    ("dr.rivera@demo.example", "Elena", "Rivera", "1234567893", {"FL": ("ME123456", "AR1234563")}),
    (
        "dr.nguyen@demo.example",
        "Thomas",
        "Nguyen",
        "1245319599",
        {"FL": ("ME654321", "AN2345672"), "NJ": ("25MA0987654", "BN7654329")},
    ),
]


STAFF_EMAILS = (OPS_EMAIL, PRIVACY_EMAIL, *(p[0] for p in PHYSICIANS))

DEMO_PATIENT = {
    "legal_first_name": "Jordan",
    "legal_last_name": "Demo",
    "date_of_birth": dt.date(1988, 4, 12),
    "sex_at_birth": "female",
    "phone": "+18505550123",
    "address_line1": "100 Palafox Pl",
    "address_line2": "",
    "city": "Pensacola",
    "state": "FL",
    "county": "Escambia",
    "zip_code": "32502",
    "emergency_contact_name": "Sam Demo",
    "emergency_contact_phone": "+18505550124",
    "sitter_name": "Alex Demo",
    "sitter_phone": "+18505550125",
}


class Command(BaseCommand):
    help = "Create the demo ops admin, privacy officer, physicians and patient (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:  # known passwords and free test cards
            raise CommandError("seed_demo refuses to run with APP_ENV=production.")
        expires = timezone.localdate() + dt.timedelta(days=730)
        if not User.objects.with_email(OPS_EMAIL).exists():
            User.objects.create_user(OPS_EMAIL, DEMO_PASSWORD, role=Role.OPS_ADMIN, is_staff=True)
        if not User.objects.with_email(PRIVACY_EMAIL).exists():
            User.objects.create_user(
                PRIVACY_EMAIL, DEMO_PASSWORD, role=Role.PRIVACY_OFFICER, is_staff=True
            )
        for email, first, last, npi, states in PHYSICIANS:
            profile = PhysicianProfile.objects.filter(
                user__in=User.objects.with_email(email)
            ).first()
            if profile is None:
                profile = physician_create(
                    email=email, password=DEMO_PASSWORD, first_name=first, last_name=last, npi=npi
                )
            for state, (licence, dea) in states.items():
                license_set(physician=profile, state=state, number=licence, expires_on=expires)
                dea_registration_set(
                    physician=profile,
                    state=state,
                    number=dea,
                    expires_on=expires,
                    schedules=["II", "III", "IV", "V"],
                )
                if state == "NJ":
                    cds_registration_set(
                        physician=profile, state="NJ", number="CDS-D12345", expires_on=expires
                    )
        patient_user = User.objects.with_email(PATIENT_EMAIL).first()
        if patient_user is None:
            patient_user = User.objects.create_user(PATIENT_EMAIL, DEMO_PASSWORD, role=Role.PATIENT)
        # Demo accounts have no inbox to click a link in: their emails count as confirmed.
        User.objects.filter(
            email_hash__in=[email_lookup_hash(e) for e in (*STAFF_EMAILS, PATIENT_EMAIL)],
            email_verified_at__isnull=True,
        ).update(email_verified_at=timezone.now())
        patient_user.refresh_from_db()
        if not Patient.objects.filter(user=patient_user).exists():
            patient_profile_save(user=patient_user, data=DEMO_PATIENT, today=practice_today())
            consents_set(
                user=patient_user,
                source="seed",
                changes=[
                    ConsentChange("care", "sms", True),
                    ConsentChange("billing", "sms", True),
                ],
            )
        # The demo number has no handset to read a code on: it counts as proven, like the
        # demo emails above.
        Patient.objects.filter(user=patient_user, phone_verified_at__isnull=True).update(
            phone_verified_at=timezone.now()
        )
        ops = User.objects.with_email(OPS_EMAIL).get()
        self._schedules(ops)
        check_in = self._check_in(ops, patient_user)
        membership = self._membership(patient_user)
        catalog_seed()
        rivera = PhysicianProfile.objects.get(user__email_hash=email_lookup_hash(PHYSICIANS[0][0]))
        order = demo_order_seed(patient_user=patient_user, physician=rivera)
        self.stdout.write(
            f"Demo logins (password for all: {DEMO_PASSWORD})\n"
            f"  ops admin:  {OPS_EMAIL}  (enrolls MFA on first login)\n"
            f"  privacy:    {PRIVACY_EMAIL}  (the audit log in the admin; enrolls MFA)\n"
            f"  physician:  {PHYSICIANS[0][0]}  (FL; enrolls MFA on first login)\n"
            f"  physician:  {PHYSICIANS[1][0]}  (FL, NJ; enrolls MFA on first login)\n"
            f"  patient:    {PATIENT_EMAIL}  (Escambia County, FL, Central time; {membership};\n"
            f"              {check_in};\n"
            f"              {order})\n" + self._enrollment_tokens()
        )

    def _schedules(self, actor: User) -> None:
        """Weekday hours in each demo physician's own zone (Dr. Rivera on the panhandle's
        Central time), set once: a schedule changed since is left alone."""
        zones = {PHYSICIANS[0][0]: "America/Chicago", PHYSICIANS[1][0]: "America/New_York"}
        for email, zone in zones.items():
            profile = PhysicianProfile.objects.select_related("user").get(
                user__email_hash=email_lookup_hash(email)
            )
            if PhysicianSchedule.objects.filter(physician=profile).exists():
                continue
            physician_schedule_replace(
                actor=actor,
                physician=profile,
                settings=ScheduleSettings(
                    time_zone=zone,
                    buffer_minutes=10,
                    title="MD, Psychiatrist",
                    board_certification="American Board of Psychiatry and Neurology",
                    languages=("en", "es"),
                    bio="Ketamine-assisted care for depression and anxiety, from home.",
                ),
                weekly=[
                    WeeklyWindow(day, start, end)
                    for day in range(5)
                    for start, end in ((dt.time(9), dt.time(12)), (dt.time(13), dt.time(17)))
                ],
            )

    def _check_in(self, actor: User, patient_user: User) -> str:
        """One upcoming check-in with Dr. Rivera, in her first open slot two days or more
        ahead, so `make run` shows scheduling (her agenda, the patient's appointments, the
        join link). Stored as a row, as an ops admin would book it: the demo patient has no
        approved intake or consents, which booking a real check-in asks."""
        patient = patient_user.patient
        upcoming = (
            Appointment.objects.filter(patient=patient, status__in=ACTIVE_STATUSES)
            .order_by("starts_at")
            .first()
        )
        if upcoming is None:
            rivera = PhysicianProfile.objects.get(
                user__email_hash=email_lookup_hash(PHYSICIANS[0][0])
            )
            today = practice_today()
            slots = open_slots(
                patient=patient,
                kind=AppointmentKind.CHECK_IN,
                date_from=today + dt.timedelta(days=2),
                date_to=today + dt.timedelta(days=16),
                physician=rivera,
            )
            if not slots:
                return "no check-in: Dr. Rivera has no open slot"
            slot = slots[0]
            upcoming = Appointment.objects.create(
                patient=patient,
                physician=rivera,
                kind=AppointmentKind.CHECK_IN,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                blocked_until=slot.ends_at + buffer_of(rivera),
                booked_by=actor,
            )
            audit_write(
                upcoming,
                actor=actor,
                action=AuditAction.CREATE,
                detail={"kind": upcoming.kind, "event": "demo_seed"},
            )
        return f"a {upcoming.kind} booked at {upcoming.starts_at:%Y-%m-%d %H:%M} UTC"

    def _enrollment_tokens(self) -> str:
        """A fresh enrollment token for each demo staff member not yet enrolled: staff need
        one besides the password to enroll MFA (earlier unused tokens stop working)."""
        lines = [
            "MFA enrollment tokens (single use, 24 h; "
            'POST /api/auth/mfa/enroll {"enrollment_token": ...}):'
        ]
        for user in User.objects.filter(
            role__in=STAFF_ROLES, email_hash__in=[email_lookup_hash(e) for e in STAFF_EMAILS]
        ):
            if TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
                lines.append(f"  {user.email}  MFA already enrolled")
            else:
                token = mfa_enrollment_token_issue(user=user, issued_by=None)
                lines.append(f"  {user.email}  {token}")
        return "\n".join(lines)

    def _membership(self, patient_user: User) -> str:
        """With the local gateway, the demo patient checks out with the 0341 test card:
        active now, and `billing_simulate` shows a failed renewal and the dunning."""
        if not isinstance(gateway(), LocalGateway):
            return "no membership: the Stripe gateway is configured"
        if current_subscription(patient_user.patient) is None:
            attempt = checkout_start(user=patient_user)
            checkout_complete(attempt.gateway_session_id, "4000000000000341")
        return (
            "membership through the local gateway; "
            f"`manage.py billing_simulate {PATIENT_EMAIL}` ends its period"
        )
