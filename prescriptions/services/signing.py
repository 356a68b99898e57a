"""Signing a Schedule III prescription.

`prescription_sign` in this order:
1. Shape: the medication is an active formulation of the protocol's form and route; the
   dose per session is a whole number of units (tablets, troches, sprays) of its strength;
   quantity = planned_sessions x units per session, exactly; the doses lie inside the
   patient's current protocol (dose per session <= its current dose, max per session <=
   its max, interval >= its minimum). 400 with the field.
2. A repeat: the same physician, patient, visit and clinical fields signed within
   DUPLICATE_WINDOW is answered with that prescription (created=False) and nothing new:
   a double-clicked or retried signing makes one prescription. Checked again under the
   patient's row lock, so two concurrent submissions make one too. (Writing the very same
   prescription twice on purpose waits out the window.)
3. The physician's TOTP code (re-authentication), counted like every code attempt
   (429 past the limit; a wrong one audited), checked under the patient's lock after the
   repeat (a twin that spent the code first is a repeat, not a wrong code). TOTP only: a
   recovery code is refused (`totp_invalid`) without being spent.
4. Every precondition (prescriptions.selectors.prescribing.signing_refusals), all failures
   at once: 409 `prescription_refused` with `fields.reasons`.
5. In one transaction: the prescription with its snapshot, quantity in words, issue and
   expiry dates (6 months), and the first-fill order (prescriptions.services.orders;
   its 409 undoes the signing). Audited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from accounts.selectors import physician_with_credentials
from accounts.services.mfa import mfa_code_valid
from accounts.services.throttling import (
    mfa_attempt_begin,
    mfa_attempt_succeeded,
    mfa_failure_record,
)
from audit.models import AuditAction
from audit.services import audit_write
from core.clock import practice_today
from core.errors import Conflict, PermissionDenied, ValidationFailed
from patients.models import Patient
from prescriptions.models import (
    DeliveryOrder,
    DosingProtocol,
    EventSource,
    Medication,
    OrderKind,
    Prescription,
)
from prescriptions.quantity_words import quantity_in_words
from prescriptions.selectors.prescribing import signing_refusals
from prescriptions.services.orders import order_create

TOTP_INVALID = "totp_invalid"
SIGNING_SURFACE = "prescription_signing"
DUPLICATE_WINDOW = timedelta(minutes=10)
VALIDITY = relativedelta(months=6)  # 21 CFR 1306.22: no refill after six months


@dataclass(frozen=True)
class SigningRequest:
    patient: Patient
    visit_id: UUID
    medication: Medication
    quantity: int
    directions: str
    dose_per_session_mg: Decimal
    max_per_session_mg: Decimal
    min_hours_between_sessions: int
    planned_sessions: int
    days_supply: int
    refills: int


@dataclass(frozen=True)
class Signed:
    prescription: Prescription
    first_order: DeliveryOrder | None
    created: bool


def milligrams(value: Decimal) -> str:
    """ "100 mg", "12.5 mg": no trailing zeros, never an exponent."""
    return f"{format(value.normalize(), 'f')} mg"


def shape_problems(
    request: SigningRequest, protocol: DosingProtocol | None
) -> dict[str, list[str]]:
    """The 400s: fields inconsistent with each other, the formulation or the protocol."""
    problems: dict[str, list[str]] = {}
    medication = request.medication
    if not medication.active:
        problems["medication"] = ["This formulation is no longer offered."]
    if request.dose_per_session_mg > request.max_per_session_mg:
        problems["dose_per_session_mg"] = ["Must not be above max_per_session_mg."]
    units, rest = divmod(request.dose_per_session_mg, medication.strength_mg)
    if rest:
        problems.setdefault("dose_per_session_mg", []).append(
            f"Must be a whole number of {medication.unit}s of {milligrams(medication.strength_mg)}."
        )
    elif request.quantity != request.planned_sessions * int(units):
        problems["quantity"] = [
            f"Must be planned_sessions x {int(units)} {medication.unit}(s) per session "
            f"= {request.planned_sessions * int(units)}."
        ]
    # The planned sessions, at most one per interval, last at least this long: a shorter
    # days' supply would make the early-refill rule (a share of it) let refills come early.
    shortest = math.ceil((request.planned_sessions - 1) * request.min_hours_between_sessions / 24)
    if request.days_supply < shortest:
        problems["days_supply"] = [
            f"{request.planned_sessions} sessions at least "
            f"{request.min_hours_between_sessions} hours apart last at least {shortest} days."
        ]
    if protocol is None:
        return problems  # a refusal reason (no_current_protocol), not a shape error
    expected = protocol.medication
    if (medication.dosage_form, medication.route) != (expected.dosage_form, expected.route):
        problems.setdefault("medication", []).append(
            f"The protocol is for {expected.get_dosage_form_display()} ({expected.route})."
        )
    if request.dose_per_session_mg > protocol.current_dose_mg:
        problems.setdefault("dose_per_session_mg", []).append(
            f"Above the protocol's current dose ({milligrams(protocol.current_dose_mg)})."
        )
    if request.max_per_session_mg > protocol.max_per_session_mg:
        problems["max_per_session_mg"] = [
            f"Above the protocol's maximum per session ({milligrams(protocol.max_per_session_mg)})."
        ]
    if request.min_hours_between_sessions < protocol.min_hours_between_sessions:
        problems["min_hours_between_sessions"] = [
            f"Below the protocol's minimum ({protocol.min_hours_between_sessions} hours)."
        ]
    return problems


def _current_protocol(patient: Patient) -> DosingProtocol | None:
    return (
        DosingProtocol.objects.filter(patient=patient, ended_at__isnull=True)
        .select_related("medication")
        .first()
    )


def _repeat_of(physician: PhysicianProfile, request: SigningRequest) -> Signed | None:
    candidates = Prescription.objects.filter(
        physician=physician,
        patient=request.patient,
        visit__public_id=request.visit_id,
        medication=request.medication,
        quantity=request.quantity,
        dose_per_session_mg=request.dose_per_session_mg,
        max_per_session_mg=request.max_per_session_mg,
        min_hours_between_sessions=request.min_hours_between_sessions,
        planned_sessions=request.planned_sessions,
        days_supply=request.days_supply,
        refills=request.refills,
        signed_at__gte=timezone.now() - DUPLICATE_WINDOW,
    ).order_by("-signed_at")
    for prescription in candidates:  # directions are encrypted: compared here
        if prescription.directions == request.directions.strip():
            first = prescription.orders.filter(kind=OrderKind.FIRST_FILL).first()
            return Signed(prescription, first, created=False)
    return None


def _totp_valid(user: User, code: str) -> bool:
    """The physician's current TOTP code (the attempt is counted by the caller first). A
    recovery code is not accepted (nor spent): mfa_code_valid reads six digits as TOTP
    only. A wrong code is audited."""
    code = code.strip()
    if code.isdigit() and len(code) == 6 and mfa_code_valid(user=user, code=code):
        mfa_attempt_succeeded(user=user)
        return True
    mfa_failure_record(user=user, surface=SIGNING_SURFACE)
    return False


def _address(patient: Patient) -> str:
    street = ", ".join(line for line in (patient.address_line1, patient.address_line2) if line)
    return f"{street}, {patient.city}, {patient.state} {patient.zip_code}"


def prescription_sign(*, actor: User, request: SigningRequest, totp_code: str) -> Signed:
    """Sign the prescription `request` describes (see the module docstring)."""
    physician = physician_with_credentials(actor.pk)
    if physician is None:
        raise PermissionDenied("Only a physician signs prescriptions.")
    if problems := shape_problems(request, _current_protocol(request.patient)):
        raise ValidationFailed(fields=problems)
    if (repeat := _repeat_of(physician, request)) is not None:
        return repeat
    mfa_attempt_begin(user=actor, surface=SIGNING_SURFACE)  # counted before it is checked
    outcome = _sign(actor=actor, physician=physician, request=request, totp_code=totp_code)
    if isinstance(outcome, Signed):
        return outcome
    raise Conflict(
        "The prescription cannot be signed.",
        code="prescription_refused",
        fields={"reasons": outcome},
    )


@transaction.atomic
def _sign(
    *, actor: User, physician: PhysicianProfile, request: SigningRequest, totp_code: str
) -> Signed | list[str]:
    """The prescription signed, or every reason it cannot be. A refusal is returned, not
    raised, so that what it wrote (a wrong code's audit event, a code's step spent) is
    kept. The code is checked under the patient's lock, after the repeat: a concurrent
    twin that spent the same code first is answered as the repeat it is."""
    patient = Patient.objects.select_for_update(no_key=True).get(pk=request.patient.pk)
    if (repeat := _repeat_of(physician, request)) is not None:
        return repeat  # a concurrent twin signed it while we waited for the lock
    protocol = _current_protocol(patient)
    if problems := shape_problems(request, protocol):  # the protocol may have just changed
        raise ValidationFailed(fields=problems)
    totp_ok = _totp_valid(actor, totp_code)
    check = signing_refusals(
        physician=physician, patient=patient, visit_id=request.visit_id, protocol=protocol
    )
    reasons = ([] if totp_ok else [TOTP_INVALID]) + check.reasons
    if reasons:
        return reasons
    assert protocol is not None and check.visit is not None and check.pdmp_check is not None
    issued_on = practice_today()
    medication = request.medication
    prescription = Prescription.objects.create(
        patient=patient,
        physician=physician,
        protocol=protocol,
        medication=medication,
        visit=check.visit,
        pdmp_check=check.pdmp_check,
        in_person_evaluation=check.in_person_evaluation,
        drug_name=medication.name,
        strength=milligrams(medication.strength_mg),
        dosage_form=medication.dosage_form,
        route=medication.route,
        quantity=request.quantity,
        quantity_words=quantity_in_words(request.quantity),
        directions=request.directions.strip(),
        dose_per_session_mg=request.dose_per_session_mg,
        max_per_session_mg=request.max_per_session_mg,
        min_hours_between_sessions=request.min_hours_between_sessions,
        planned_sessions=request.planned_sessions,
        days_supply=request.days_supply,
        refills=request.refills,
        issued_on=issued_on,
        expires_on=issued_on + VALIDITY,
        patient_name=f"{patient.legal_first_name} {patient.legal_last_name}",
        patient_address=_address(patient),
        patient_state=patient.state,
        prescriber_name=str(physician),
        prescriber_address=physician.practice_address.strip(),
        prescriber_npi=physician.npi,
        prescriber_dea_number=next(
            r.number for r in physician.dea_registrations.all() if r.state == patient.state
        ),
        prescriber_cds_number=next(
            (r.number for r in physician.cds_registrations.all() if r.state == patient.state), ""
        ),
        signed_at=timezone.now(),
    )
    order = order_create(
        prescription=prescription,
        patient=patient,
        kind=OrderKind.FIRST_FILL,
        source=EventSource.PHYSICIAN,
        actor=actor,
        fill_number=0,
    )
    audit_write(
        prescription,
        actor=actor,
        action=AuditAction.CREATE,
        detail={"event": "prescription_signed", "first_order": order.number},
    )
    return Signed(prescription, order, created=True)
