"""Scheduling bench data: 50 physicians, 20,000 booked appointments, and patients cleared
for a check-in, each with an open slot of their own for the booking endpoint.

Called by benchmarks.setup_data inside the bench environment (Django set up). Everything
is bulk-created (encrypted fields are encrypted by the model fields on bulk_create).

- Physicians: licensed in FL and NJ (license, verified DEA with schedule III, NJ CDS), a
  PhysicianSchedule (half America/New_York, half America/Chicago, buffer 10 minutes) and
  weekday hours 8:00-18:00 in their own zone.
- Filler: 10,000 patients, each with a booked check-in and a booked follow-up (20,000
  appointments) on a 30-minute grid of the physicians' hours over the next 60 days,
  chosen at random (about half of the grid): one booked appointment per patient per
  kind, the two half the horizon apart, so no constraint is touched.
- Search patients: SEARCH_PATIENTS Florida patients (Orange county, Eastern time) for the
  slot search, cleared for a check-in like the booking ones.
- Booking patients (`booking_feed`): fresh patients on every call, each cleared for a
  check-in (approved intake, treatment and telehealth consents signed, no safety flag,
  questionnaires answered two days ago with the intake, an active membership, email and
  phone verified) with an access token and a distinct open slot: `open_slots` for them
  across every physician, then per physician a greedy pick of slots whose ranges plus
  the buffer do not meet, so no two bench bookings can conflict with each other either.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

PHYSICIANS = 50
FILLER_APPOINTMENTS = 20_000
SEARCH_PATIENTS = 50
HOURS = (dt.time(8, 0), dt.time(18, 0))
GRID = dt.timedelta(minutes=30)
BUFFER_MINUTES = 10
ZONES = ("America/New_York", "America/Chicago")
MARKER_EMAIL = "bench-sched-physician-0@example.test"
BOOKING_SUBSCRIPTION_PREFIX = "sub_bench_book_"
SEARCH_SUBSCRIPTION_PREFIX = "sub_bench_search_"
SEARCH_PATIENT_EMAIL = "bench-slots-0@example.test"
FEED_PATH = "/api/scheduling/appointments"


def _npi(n: int) -> str:
    """A valid NPI (Luhn check digit over the 80840 prefix)."""
    stem = f"{n:09d}"
    digits = [int(c) for c in "80840" + stem]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return stem + str((10 - total % 10) % 10)


def _users(emails: list[str], role: str, *, verified: bool) -> list[Any]:
    from accounts.models import User

    now = timezone.now()
    users = []
    for email in emails:
        user = User(email=email, role=role, email_verified_at=now if verified else None)
        user.set_unusable_password()
        users.append(user)
    return User.objects.bulk_create(users, batch_size=1000)


def _patients(users: list[Any], first_phone: int) -> list[Any]:
    from patients.models import Patient

    now = timezone.now()
    patients = []
    for n, user in enumerate(users):
        patient = Patient(
            user=user,
            legal_first_name="Bench",
            legal_last_name=f"Scheduling{n}",
            date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=n % 5000),
            sex_at_birth="female",
            address_line1="1 Main St",
            city="Orlando",
            state="FL",
            county="Orange",
            zip_code="32801",
            time_zone="America/New_York",
            emergency_contact_name="E",
            emergency_contact_phone="+14075550100",
            sitter_name="S",
            sitter_phone="+14075550101",
            phone_verified_at=now,
        )
        patient.set_phone(f"+1{first_phone + n:010d}")
        patients.append(patient)
    return Patient.objects.bulk_create(patients, batch_size=1000)


def _clear_for_check_in(patients: list[Any], subscription_prefix: str) -> None:
    """Approved intake, clinical consents signed, active membership (no safety flag)."""
    from billing.models import Subscription, SubscriptionStatus
    from patients.models import ConsentKind, ConsentSignature, Intake, IntakeStatus
    from patients.selectors.consent import consent_document_current

    now = timezone.now()
    submitted = now - dt.timedelta(days=2)
    Intake.objects.bulk_create(
        [
            Intake(
                patient=p,
                questionnaire_version="bench",
                status=IntakeStatus.APPROVED,
                answers={},
                submitted_at=submitted,
                created_at=submitted,
                decided_at=now - dt.timedelta(days=1),
            )
            for p in patients
        ],
        batch_size=1000,
    )
    documents = []
    for kind in (ConsentKind.TREATMENT, ConsentKind.TELEHEALTH):
        document = consent_document_current(kind)
        if document is None:
            raise SystemExit(f"no current {kind} consent document (migrations not applied?)")
        documents.append(document)
    ConsentSignature.objects.bulk_create(
        [
            ConsentSignature(
                patient=p,
                document=d,
                typed_name=f"Bench Scheduling{n}",
                document_sha256=d.body_sha256,
            )
            for n, p in enumerate(patients)
            for d in documents
        ],
        batch_size=1000,
    )
    tag = secrets.token_hex(4)
    Subscription.objects.bulk_create(
        [
            Subscription(
                patient=p,
                gateway_subscription_id=f"{subscription_prefix}{tag}_{n}",
                status=SubscriptionStatus.ACTIVE,
                current_period_end=now + dt.timedelta(days=30),
                price_id="price_bench",
                amount_cents=25000,
                currency="usd",
                last_event_at=now,
            )
            for n, p in enumerate(patients)
        ],
        batch_size=1000,
    )


def _tokens(users: list[Any]) -> list[str]:
    from accounts.services.sessions import auth_session_issue

    now = timezone.now()
    with transaction.atomic():  # one commit, not one fsync per session
        return [auth_session_issue(user=u, mfa_verified_at=now).access_token for u in users]


def _physicians() -> list[Any]:
    from accounts.models import (
        CdsRegistration,
        DeaRegistration,
        LicenseStatus,
        PhysicianProfile,
        StateLicense,
        VerificationStatus,
    )
    from scheduling.models import PhysicianSchedule, WeeklyAvailability

    far = timezone.localdate() + dt.timedelta(days=730)
    users = _users(
        [f"bench-sched-physician-{n}@example.test" for n in range(PHYSICIANS)],
        "physician",
        verified=True,
    )
    doctors = PhysicianProfile.objects.bulk_create(
        PhysicianProfile(user=u, first_name="Sched", last_name=f"Doctor{n}", npi=_npi(900_000 + n))
        for n, u in enumerate(users)
    )
    StateLicense.objects.bulk_create(
        StateLicense(
            physician=d,
            state=s,
            number=f"{s}-B{n:04d}",
            status=LicenseStatus.ACTIVE,
            expires_on=far,
        )
        for n, d in enumerate(doctors)
        for s in ("FL", "NJ")
    )
    DeaRegistration.objects.bulk_create(
        DeaRegistration(
            physician=d,
            number="BB1234563",
            state=s,
            schedules=["II", "III", "IV", "V"],
            expires_on=far,
            verification=VerificationStatus.VERIFIED,
        )
        for d in doctors
        for s in ("FL", "NJ")
    )
    CdsRegistration.objects.bulk_create(
        CdsRegistration(physician=d, state="NJ", number=f"CDS-B{n}", expires_on=far)
        for n, d in enumerate(doctors)
    )
    PhysicianSchedule.objects.bulk_create(
        PhysicianSchedule(
            physician=d,
            time_zone=ZONES[n % len(ZONES)],
            buffer_minutes=BUFFER_MINUTES,
            title="MD",
            board_certification="American Board of Psychiatry and Neurology",
        )
        for n, d in enumerate(doctors)
    )
    WeeklyAvailability.objects.bulk_create(
        WeeklyAvailability(physician=d, weekday=day, start_time=HOURS[0], end_time=HOURS[1])
        for d in doctors
        for day in range(5)
    )
    return doctors


def _filler(doctors: list[Any]) -> None:
    """FILLER_APPOINTMENTS booked check-ins and follow-ups on a random half of the grid."""
    from scheduling.models import Appointment, AppointmentKind

    today = timezone.localdate()
    grid: list[tuple[dt.datetime, Any]] = []
    for n, doctor in enumerate(doctors):
        zone = ZoneInfo(ZONES[n % len(ZONES)])
        for offset in range(1, 60):
            day = today + dt.timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            start = dt.datetime.combine(day, HOURS[0], tzinfo=zone)
            end = dt.datetime.combine(day, HOURS[1], tzinfo=zone)
            while start + GRID <= end:
                grid.append((start.astimezone(dt.UTC), doctor))
                start += GRID
    if len(grid) < FILLER_APPOINTMENTS:
        raise SystemExit(f"only {len(grid)} grid slots for {FILLER_APPOINTMENTS} appointments")
    chosen = sorted(random.Random(10).sample(grid, FILLER_APPOINTMENTS), key=lambda g: g[0])
    kinds = (AppointmentKind.CHECK_IN, AppointmentKind.FOLLOW_UP)
    per_kind = -(-FILLER_APPOINTMENTS // len(kinds))
    users = _users(
        [f"bench-filler-{n}@example.test" for n in range(per_kind)], "patient", verified=True
    )
    patients = _patients(users, 3_050_000_000)
    minutes = {k: dt.timedelta(minutes=m) for k, m in _appointment_minutes().items()}
    rows = []
    # Patient j holds the j-th and (j + per_kind)-th appointments in time order: half the
    # horizon apart, one of each kind.
    for i, (starts_at, doctor) in enumerate(chosen):
        patient = patients[i % per_kind]
        kind = kinds[i // per_kind]
        ends_at = starts_at + minutes[kind]
        rows.append(
            Appointment(
                patient=patient,
                physician=doctor,
                kind=kind,
                starts_at=starts_at,
                ends_at=ends_at,
                blocked_until=ends_at + dt.timedelta(minutes=BUFFER_MINUTES),
                booked_by=patient.user,
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=2000)


def _appointment_minutes() -> dict[str, int]:
    from django.conf import settings

    minutes: dict[str, int] = settings.APPOINTMENT_MINUTES
    return minutes


def ensure_base() -> None:
    """Physicians, filler appointments and search patients, once per database."""
    from accounts.models import User

    if User.objects.with_email(MARKER_EMAIL).exists():
        return
    with transaction.atomic():
        doctors = _physicians()
        _filler(doctors)
        users = _users(
            [f"bench-slots-{n}@example.test" for n in range(SEARCH_PATIENTS)],
            "patient",
            verified=True,
        )
        _clear_for_check_in(_patients(users, 4_070_000_000), SEARCH_SUBSCRIPTION_PREFIX)
    _vacuum_analyze()


def _vacuum_analyze() -> None:
    """VACUUM ANALYZE the bulk-loaded scheduling tables (changes no data): the slot
    search's busy ranges are an index-only scan, which needs the visibility map a vacuum
    writes, and the planner the statistics. Production has autovacuum; a bench run that
    starts seconds after the load would otherwise measure heap fetches autovacuum has
    not yet had time to remove."""
    from django.db import connection

    from scheduling.models import Appointment, AvailabilityOverride, WeeklyAvailability

    with connection.cursor() as cursor:
        for model in (Appointment, WeeklyAvailability, AvailabilityOverride):
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')


def search_patient_token() -> str:
    """An access token of the first search patient (the slot search endpoint's user)."""
    from accounts.models import User
    from accounts.services.sessions import auth_session_issue

    ensure_base()
    user = User.objects.with_email(SEARCH_PATIENT_EMAIL).get()
    return auth_session_issue(user=user, mfa_verified_at=timezone.now()).access_token


def booking_feed(count: int, path: Path) -> None:
    """`count` fresh booking patients, each with a token and an open check-in slot of its
    own; writes one line per booking to `path`: access token, a tab, the JSON body."""
    import json

    from scheduling.selectors.slots import open_slots

    ensure_base()
    tag = uuid.uuid4().hex[:8]
    with transaction.atomic():
        users = _users(
            [f"bench-book-{tag}-{n}@example.test" for n in range(count)], "patient", verified=True
        )
        patients = _patients(users, 5_000_000_000 + random.randrange(10**9))
        _clear_for_check_in(patients, BOOKING_SUBSCRIPTION_PREFIX)
    tokens = _tokens(users)
    # Every booking patient is alike (Florida, Eastern time, no appointment): the open
    # slots of one are those of all. From the day after tomorrow, so both reminders are
    # scheduled and the notice never bites during the run.
    today = timezone.localdate(timezone.now(), timezone=ZoneInfo("America/New_York"))
    slots = open_slots(
        patient=patients[0],
        kind="check_in",
        date_from=today + dt.timedelta(days=2),
        date_to=today + dt.timedelta(days=58),
    )
    length = dt.timedelta(minutes=_appointment_minutes()["check_in"] + BUFFER_MINUTES)
    free_from: dict[int, dt.datetime] = {}
    picked = []
    for slot in sorted(slots, key=lambda s: (s.physician.pk, s.starts_at)):
        pk = slot.physician.pk
        if pk in free_from and slot.starts_at < free_from[pk]:
            continue
        free_from[pk] = slot.starts_at + length
        picked.append(slot)
    if len(picked) < count:
        raise SystemExit(
            f"only {len(picked)} non-overlapping open slots for {count} bookings: "
            "shorten the run (--rounds, --duration, --warmup)"
        )
    random.Random(20).shuffle(picked)
    with path.open("w") as out:
        for token, slot in zip(tokens, picked, strict=False):
            body = {
                "kind": "check_in",
                "starts_at": slot.starts_at.isoformat(),
                "physician": str(slot.physician.user.public_id),
            }
            out.write(f"{token}\t{json.dumps(body, separators=(',', ':'))}\n")
