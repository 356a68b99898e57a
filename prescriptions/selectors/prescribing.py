"""What signing a prescription asks of the physician, the patient and the visit, read in
one place: `signing_refusals` lists every reason a prescription cannot be signed now (the
TOTP re-authentication is the signing service's), each a stable code:

- physician_authority(physician, patient.state).reasons, as accounts gives them
  (no_license_in_state, license_expired, dea_not_verified, dea_expired,
  dea_lacks_schedule_iii, no_cds_registration, cds_not_current, ...);
- `prescriber_address_missing`: the prescriber's address must be on the prescription
  (21 CFR 1306.05) and the physician has none on file;
- `no_current_protocol`: the doses are checked against the patient's current protocol;
- `pdmp_check_missing`: no PDMP check of this patient on today's practice date;
- `prescribing_visit_missing`: the named visit is not a completed video visit of this
  physician with this patient, within PRESCRIBING_VISIT_MAX_AGE_DAYS, at which the patient
  confirmed FL or NJ (scheduling.selectors.visits.prescribing_visit_state);
- `visit_state_not_home_state`: the patient confirmed a state at the visit other than the
  one on their record: the license, DEA and CDS checks, the PDMP and the shipment are all
  for the record's state, so the record must be brought up to date first;
- patient_clearance(patient).reasons, as patients gives them;
- membership_gate(patient).reason (billing's codes: membership_required, ...);
- `compounded_acknowledgement_missing`: the current `compounded_medication` consent is
  unsigned (none published counts as unsigned);
- `telemedicine_rule_ended`: practice today is after TELEMEDICINE_RULE_ENDS_ON and the
  patient has no documented in-person evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import PhysicianProfile
from accounts.selectors import physician_authority
from billing.selectors import membership_gate
from core.clock import practice_today
from patients.clearance import patient_clearance
from patients.models import ConsentKind, ConsentSignature, Patient
from patients.selectors.consent import consent_document_current
from prescriptions.models import DosingProtocol, InPersonEvaluation, PdmpCheck
from scheduling.models import Appointment
from scheduling.selectors.appointments import appointments_visible_to
from scheduling.selectors.visits import prescribing_visit_state

PDMP_CHECK_MISSING = "pdmp_check_missing"
PRESCRIBING_VISIT_MISSING = "prescribing_visit_missing"
VISIT_STATE_NOT_HOME_STATE = "visit_state_not_home_state"
COMPOUNDED_ACKNOWLEDGEMENT_MISSING = "compounded_acknowledgement_missing"
TELEMEDICINE_RULE_ENDED = "telemedicine_rule_ended"
NO_CURRENT_PROTOCOL = "no_current_protocol"
PRESCRIBER_ADDRESS_MISSING = "prescriber_address_missing"


@dataclass(frozen=True)
class SigningCheck:
    """Every reason signing is refused (empty: it may go ahead), and the rows a signed
    prescription links to."""

    reasons: list[str] = field(default_factory=list)
    visit: Appointment | None = None
    pdmp_check: PdmpCheck | None = None
    in_person_evaluation: InPersonEvaluation | None = None


def pdmp_checks_of(patient: Patient) -> QuerySet[PdmpCheck]:
    return (
        PdmpCheck.objects.filter(patient=patient)
        .select_related("patient", "checked_by")
        .order_by("-checked_at", "-id")
    )


def in_person_evaluations_of(patient: Patient) -> QuerySet[InPersonEvaluation]:
    return (
        InPersonEvaluation.objects.filter(patient=patient)
        .select_related("patient", "physician")
        .order_by("-evaluated_on", "-id")
    )


def prescribing_visit(
    physician: PhysicianProfile, patient: Patient, visit_id: UUID | str
) -> Appointment | None:
    """The named visit, when it can support this physician's prescription for this
    patient now (see the module docstring), else None."""
    visit = (
        appointments_visible_to(physician.user).filter(public_id=visit_id, patient=patient).first()
    )
    if visit is None or not prescribing_visit_state(visit).eligible:
        return None
    held_at = visit.completed_at or visit.ends_at
    max_age = timedelta(days=settings.PRESCRIBING_VISIT_MAX_AGE_DAYS)
    return visit if timezone.now() - held_at <= max_age else None


def compounded_acknowledged(patient: Patient) -> bool:
    document = consent_document_current(ConsentKind.COMPOUNDED_MEDICATION)
    return (
        document is not None
        and ConsentSignature.objects.filter(patient=patient, document=document).exists()
    )


def telemedicine_rule_ended(on: date) -> bool:
    return on > settings.TELEMEDICINE_RULE_ENDS_ON


def signing_refusals(
    *,
    physician: PhysicianProfile,
    patient: Patient,
    visit_id: UUID | str,
    protocol: DosingProtocol | None,
) -> SigningCheck:
    """See the module docstring. `physician` comes with its credentials prefetched
    (accounts.selectors.physician_with_credentials)."""
    today = practice_today()
    reasons = list(physician_authority(physician, patient.state, on=today).reasons)
    if not physician.practice_address.strip():
        reasons.append(PRESCRIBER_ADDRESS_MISSING)
    if protocol is None:
        reasons.append(NO_CURRENT_PROTOCOL)
    pdmp_check = pdmp_checks_of(patient).filter(checked_on=today).first()
    if pdmp_check is None:
        reasons.append(PDMP_CHECK_MISSING)
    visit = prescribing_visit(physician, patient, visit_id)
    if visit is None:
        reasons.append(PRESCRIBING_VISIT_MISSING)
    elif visit.confirmed_state != patient.state:
        reasons.append(VISIT_STATE_NOT_HOME_STATE)
    reasons += patient_clearance(patient).reasons
    gate = membership_gate(patient)
    if not gate.allowed:
        reasons.append(gate.reason)
    if not compounded_acknowledged(patient):
        reasons.append(COMPOUNDED_ACKNOWLEDGEMENT_MISSING)
    evaluation = in_person_evaluations_of(patient).first()
    if telemedicine_rule_ended(today) and evaluation is None:
        reasons.append(TELEMEDICINE_RULE_ENDED)
    return SigningCheck(reasons, visit, pdmp_check, evaluation)
