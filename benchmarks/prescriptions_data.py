"""Prescriptions bench data: 100,000 delivery orders for the ops tracking list and counts,
an ops admin, and (for the refill endpoint) patients each with a prescription eligible
for a refill.

Called by benchmarks.setup_data inside the bench environment (Django set up).

- Orders: ORDER_PATIENTS patients in four places (Orlando and Pensacola, FL; Newark and
  Hackensack, NJ), each with one signed prescription (protocol, completed video visit,
  PDMP check), and ORDERS orders spread over them, made by one INSERT ... SELECT over
  generate_series. Encryption costs about 20 us a field, so each place's ship-to fields
  are encrypted once and that ciphertext is reused for every order shipped there (the
  model field decrypts each the same). Statuses follow a plausible mix (most delivered,
  some on their way, a few in exception, returned or canceled), with milestones, carrier
  and tracking number to match, created over the last 180 days; about 1% overdue.
- The ops admin: a staff user with role ops_admin (MFA satisfied in its token).
- Refill patients (`refill_feed`): fresh patients cleared like the booking ones
  (scheduling_data._clear_for_check_in: approved intake, consents, active membership,
  questionnaires answered), plus the compounded-medication acknowledgement, a check-in
  completed 3 days ago, and a prescription (2 refills left) whose first fill was
  delivered 25 days ago (28 days' supply: past the 75% mark). One line per patient:
  token, a tab, `{}`, a tab, the request path.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

ORDERS = 100_000
ORDER_PATIENTS = 400
MARKER_NUMBER = "KD-B0000001"
OPS_ADMIN_EMAIL = "bench-ops-admin@example.test"
PLACES = (
    # line1, city, county, state, zip
    ("1 Main St", "Orlando", "Orange", "FL", "32801"),
    ("20 Palafox Pl", "Pensacola", "Escambia", "FL", "32502"),
    ("300 Broad St", "Newark", "Essex", "NJ", "07102"),
    ("4 Main St", "Hackensack", "Bergen", "NJ", "07601"),
)
# (status, weight): most orders are delivered; the rest are on their way or stopped.
STATUS_MIX = (
    ("delivered", 60), ("shipped", 8), ("out_for_delivery", 4), ("compounding", 6),
    ("sent_to_pharmacy", 6), ("created", 4), ("exception", 4), ("returned", 4),
    ("canceled", 4),
)  # fmt: skip


def _catalog() -> tuple[Any, Any, Any]:
    from prescriptions.models import Carrier, DosageForm, Medication, Pharmacy, Route

    medication, _ = Medication.objects.get_or_create(
        name="Ketamine HCl",
        dosage_form=DosageForm.RAPID_DISSOLVE_TABLET,
        strength_mg=Decimal("100"),
        defaults={"route": Route.SUBLINGUAL, "unit": "tablet"},
    )
    pharmacy, _ = Pharmacy.objects.get_or_create(
        npi="1679576722",
        defaults={
            "name": "Bench Compounding",
            "dea_number": "FP1234563",
            "ships_to": ["FL", "NJ"],
            "webhook_secret": "whsec_bench_pharmacy",
        },
    )
    carrier, _ = Carrier.objects.get_or_create(
        code="ups",
        defaults={
            "name": "UPS",
            "tracking_url_template": "https://carrier.example/track/{tracking_number}",
            "webhook_secret": "whsec_bench_ups",
        },
    )
    return medication, pharmacy, carrier


def _physician() -> Any:
    from accounts.models import PhysicianProfile
    from benchmarks.scheduling_data import MARKER_EMAIL, ensure_base

    ensure_base()
    return PhysicianProfile.objects.get(user__email_hash=_email_hash(MARKER_EMAIL))


def _email_hash(email: str) -> str:
    from accounts.models import User

    return User.objects.with_email(email).values_list("email_hash", flat=True).get()


def _patients(count: int, tag: str, *, places: tuple[Any, ...] = PLACES) -> list[Any]:
    from benchmarks.scheduling_data import _patients as scheduling_patients
    from benchmarks.scheduling_data import _users
    from patients.models import Patient

    users = _users([f"bench-rx-{tag}-{n}@example.test" for n in range(count)], "patient",
                   verified=True)  # fmt: skip
    patients = scheduling_patients(users, 6_000_000_000 + secrets.randbelow(10**9))
    for n, patient in enumerate(patients):
        line1, city, county, state, zip_code = places[n % len(places)]
        patient.address_line1, patient.city, patient.county = line1, city, county
        patient.state, patient.zip_code = state, zip_code
    fields = ["address_line1", "city", "county", "state", "zip_code"]
    Patient.objects.bulk_update(patients, fields, batch_size=1000)
    return patients


def _prescriptions(
    patients: list[Any], doctor: Any, medication: Any, *, issued: dt.date
) -> list[Any]:
    """One signed prescription per patient, with its protocol, visit and PDMP check."""
    from dateutil.relativedelta import relativedelta

    from prescriptions.models import DosingProtocol, PdmpCheck, Prescription
    from scheduling.models import Appointment, AppointmentKind, AppointmentStatus

    now = timezone.now()
    protocols = DosingProtocol.objects.bulk_create(
        DosingProtocol(patient=p, physician=doctor, kind="standard", medication=medication,
                       starting_dose_mg=100, current_dose_mg=100, titration_step_mg=50,
                       min_days_between_steps=14, ceiling_dose_mg=300, max_per_session_mg=200,
                       min_hours_between_sessions=72)
        for p in patients
    )  # fmt: skip
    # One visit per patient, back to back (30 minutes: visit plus buffer) in the past: the
    # physician's visits never overlap, and a make-bench feed (12,001 patients) reaches
    # back 250 days, inside the 365-day cadence the refill patients get.
    spacing = dt.timedelta(minutes=30)
    first = now - dt.timedelta(days=3) - spacing * (len(patients) + 1)
    if now - first > dt.timedelta(days=360):
        raise SystemExit(f"{len(patients)} refill patients: their check-ins would be overdue")
    visits = Appointment.objects.bulk_create(
        Appointment(patient=p, physician=doctor, kind=AppointmentKind.CHECK_IN,
                    status=AppointmentStatus.COMPLETED, starts_at=first + spacing * n,
                    ends_at=first + spacing * n + dt.timedelta(minutes=20),
                    blocked_until=first + spacing * (n + 1), booked_by=p.user,
                    started_at=first + spacing * n,
                    completed_at=first + spacing * n + dt.timedelta(minutes=20),
                    confirmed_state=p.state, video_visit=True, standard_of_care_attested=True)
        for n, p in enumerate(patients)
    )  # fmt: skip
    checks = PdmpCheck.objects.bulk_create(
        PdmpCheck(patient=p, program=p.state, checked_by=doctor.user, checked_on=issued,
                  reference="BENCH-PDMP")
        for p in patients
    )  # fmt: skip
    directions = "Dissolve 2 tablets under the tongue per session."
    expires = issued + relativedelta(months=6)
    return Prescription.objects.bulk_create(
        Prescription(
            patient=p, physician=doctor, protocol=protocol, medication=medication, visit=visit,
            pdmp_check=check, drug_name="Ketamine HCl", strength="100 mg",
            dosage_form="rapid_dissolve_tablet", route="sublingual", quantity=10,
            quantity_words="ten", directions=directions, dose_per_session_mg=200,
            max_per_session_mg=200, min_hours_between_sessions=72, planned_sessions=5,
            days_supply=28, refills=2, issued_on=issued, expires_on=expires,
            patient_name="Bench Patient", patient_address=f"{p.address_line1}, {p.city}",
            patient_state=p.state, prescriber_name=str(doctor),
            prescriber_address="1 Clinic Way, Miami, FL 33101", prescriber_npi=doctor.npi,
            prescriber_dea_number="BB1234563", signed_at=now - dt.timedelta(days=30),
        )
        for p, protocol, visit, check in zip(patients, protocols, visits, checks, strict=True)
    )  # fmt: skip


def _cipher(value: str) -> str:
    from prescriptions.models import DeliveryOrder

    field = DeliveryOrder._meta.get_field("ship_to_city")
    return field.get_db_prep_value(value, connection)


_ORDERS_SQL = """
WITH g AS (
    SELECT i, ((i - 1) %% %(patients)s) AS k, ((i - 1) / %(patients)s) AS fill,
           (%(mix)s::text[])[1 + (i * 7919) %% cardinality(%(mix)s::text[])] AS status,
           now() - interval '4 days' - make_interval(secs => (i * 155.52)::float8) AS created
    FROM generate_series(1, %(orders)s) AS i
)
INSERT INTO prescriptions_deliveryorder (
    public_id, number, prescription_id, patient_id, kind, fill_number, pharmacy_id, status,
    status_changed_at, ship_to_name, ship_to_line1, ship_to_line2, ship_to_city, ship_to_zip,
    ship_to_state, ship_to_county, carrier_id, tracking_number, delivered_signed_by,
    created_at, sent_to_pharmacy_at, shipped_at, delivered_at, overdue_at, overdue_reason)
SELECT gen_random_uuid(), 'KD-B' || lpad(i::text, 7, '0'),
       (%(prescriptions)s::bigint[])[k + 1], (%(patient_ids)s::bigint[])[k + 1],
       CASE WHEN fill = 0 THEN 'first_fill' ELSE 'refill' END, fill,
       %(pharmacy)s, status, created + interval '1 hour',
       %(name)s, (%(line1)s::text[])[k %% 4 + 1], %(empty)s, (%(city)s::text[])[k %% 4 + 1],
       (%(zip)s::text[])[k %% 4 + 1], (%(state)s::text[])[k %% 4 + 1],
       (%(county)s::text[])[k %% 4 + 1],
       CASE WHEN status IN ('shipped', 'out_for_delivery', 'delivered', 'returned', 'exception')
            THEN %(carrier)s END,
       CASE WHEN status IN ('shipped', 'out_for_delivery', 'delivered', 'returned', 'exception')
            THEN '1ZBENCH' || lpad(i::text, 9, '0') ELSE '' END,
       %(empty)s, created,
       CASE WHEN status <> 'created' THEN created + interval '10 minutes' END,
       CASE WHEN status IN ('shipped', 'out_for_delivery', 'delivered', 'returned', 'exception')
            THEN created + interval '1 day' END,
       CASE WHEN status = 'delivered' THEN created + interval '3 days' END,
       CASE WHEN i %% 100 = 0 AND status IN ('shipped', 'sent_to_pharmacy', 'compounding')
            THEN created + interval '6 days' END,
       CASE WHEN i %% 100 = 0 AND status IN ('shipped', 'sent_to_pharmacy', 'compounding')
            THEN CASE WHEN status = 'shipped' THEN 'not_delivered' ELSE 'not_shipped' END
            ELSE '' END
FROM g
"""


def ensure_orders() -> None:
    """The 100,000 orders (module docstring), once per database."""
    from prescriptions.models import DeliveryOrder

    if DeliveryOrder.objects.filter(number=MARKER_NUMBER).exists():
        return
    doctor = _physician()
    medication, pharmacy, carrier = _catalog()
    with transaction.atomic():
        patients = _patients(ORDER_PATIENTS, "orders")
        issued = timezone.localdate() - dt.timedelta(days=30)
        prescriptions = _prescriptions(patients, doctor, medication, issued=issued)
        mix = [status for status, weight in STATUS_MIX for _ in range(weight)]
        params = {
            "patients": len(patients),
            "orders": ORDERS,
            "mix": mix,
            "prescriptions": [p.pk for p in prescriptions],
            "patient_ids": [p.pk for p in patients],
            "pharmacy": pharmacy.pk,
            "carrier": carrier.pk,
            "name": _cipher("Bench Patient"),
            "empty": _cipher(""),
            **{
                key: [_cipher(place[column]) for place in PLACES]
                for key, column in (("line1", 0), ("city", 1), ("zip", 4))
            },
            "county": [place[2] for place in PLACES],
            "state": [place[3] for place in PLACES],
        }
        with connection.cursor() as cursor:
            cursor.execute(_ORDERS_SQL, params)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE prescriptions_deliveryorder")


def ops_admin_token() -> str:
    from accounts.models import User
    from accounts.services.sessions import auth_session_issue

    ensure_orders()
    user = User.objects.with_email(OPS_ADMIN_EMAIL).first()
    if user is None:
        user = User.objects.create_user(
            OPS_ADMIN_EMAIL, "bench-password-123456", role="ops_admin", is_staff=True
        )
    return auth_session_issue(user=user, mfa_verified_at=timezone.now()).access_token


def refill_feed(count: int, path: Path) -> None:
    """`count` fresh patients, each with a prescription eligible for a refill (module
    docstring); one line per request to `path`: token, tab, body, tab, path."""
    from benchmarks.scheduling_data import _clear_for_check_in, _tokens
    from patients.models import ConsentKind, ConsentSignature
    from patients.selectors.consent import consent_document_current
    from prescriptions.models import DeliveryOrder, EventSource, OrderKind
    from prescriptions.services.orders import order_create
    from scheduling.models import CheckInCadence

    doctor = _physician()
    medication, _, _ = _catalog()
    tag = secrets.token_hex(4)
    document = consent_document_current(ConsentKind.COMPOUNDED_MEDICATION)
    with transaction.atomic():
        patients = _patients(count, f"refill-{tag}", places=PLACES[:1])
        _clear_for_check_in(patients, f"sub_bench_refill_{tag}_")
        if document is not None:
            ConsentSignature.objects.bulk_create(
                ConsentSignature(patient=p, document=document, typed_name="Bench Patient",
                                 document_sha256=document.body_sha256)
                for p in patients
            )  # fmt: skip
        issued = timezone.localdate() - dt.timedelta(days=25)
        prescriptions = _prescriptions(patients, doctor, medication, issued=issued)
        # Their check-ins are back to back on one physician's calendar, so the earliest
        # of a long feed (12,001 at 250 req/s) is months old: the longest cadence (365
        # days) keeps every one of them current.
        CheckInCadence.objects.bulk_create(
            CheckInCadence(patient=p, interval_days=365, set_by=doctor.user) for p in patients
        )
        delivered = timezone.now() - dt.timedelta(days=25)
        for patient, prescription in zip(patients, prescriptions, strict=True):
            order = order_create(prescription=prescription, patient=patient,
                                 kind=OrderKind.FIRST_FILL, fill_number=0,
                                 source=EventSource.SYSTEM, actor=None)  # fmt: skip
            DeliveryOrder.objects.filter(pk=order.pk).update(
                status="delivered", created_at=delivered, sent_to_pharmacy_at=delivered,
                shipped_at=delivered, delivered_at=delivered,
            )  # fmt: skip
    tokens = _tokens([p.user for p in patients])
    with path.open("w") as out:
        for token, prescription in zip(tokens, prescriptions, strict=True):
            url = f"/api/prescriptions/prescriptions/{prescription.public_id}/refills"
            out.write(f"{token}\t{{}}\t{url}\n")
