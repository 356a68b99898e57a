"""The clinical clearance: the ONE place that decides whether a patient may be booked for
a check-in and prescribed (refills included). Scheduling and prescriptions call
`patient_clearance`; nothing else re-implements any part of it. A caller that asks other
gates of the same patient may read them in the same query: `clearance_facts` annotates a
patient queryset, `clearance_of` decides from a row read through it.

    from patients.clearance import patient_clearance

    clearance = patient_clearance(patient)
    if not clearance.allowed:
        raise Conflict("...", fields={"patient": clearance.reasons})

Reasons are stable codes, in this order:
- `no_approved_intake`: the patient's latest intake is not approved (or there is none);
- `consent_outstanding:<kind>`: the treatment or telehealth consent whose current
  version the patient has not signed (only these are conditions of care; the privacy
  notice and SMS consent are prompted for through `consents_outstanding`, never
  required);
- `safety_flag_open`: an unresolved safety flag (e.g. PHQ-9 item 9): dosing and refills
  are suspended until a physician resolves it;
- `questionnaire_overdue:<instrument>`: PHQ-9 or GAD-7 overdue by more than
  `QUESTIONNAIRE_GRACE_DAYS` (default 7) days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from patients.models import IntakeStatus, Patient
from patients.selectors.consent import clinical_consents_unsigned, ordered_kinds
from patients.selectors.measurement import schedule_of, with_last_answers
from patients.selectors.review import latest_intake_status, open_safety_flags

NO_APPROVED_INTAKE = "no_approved_intake"
CONSENT_OUTSTANDING = "consent_outstanding"
SAFETY_FLAG_OPEN = "safety_flag_open"
QUESTIONNAIRE_OVERDUE = "questionnaire_overdue"


@dataclass(frozen=True)
class Clearance:
    allowed: bool
    reasons: list[str] = field(default_factory=list)


def clearance_facts(patients: QuerySet[Patient], now: datetime | None = None) -> QuerySet[Patient]:
    """Annotate each patient with what their clearance is decided from, each answer its
    selector's own (intake_approved, clinical_consents_outstanding, open_safety_flags,
    questionnaire_schedule): one query, which a caller may annotate further with the
    facts of its other gates (the patient's zone is all of the row it needs)."""
    return with_last_answers(patients).annotate(
        clearance_intake_status=latest_intake_status(),
        clearance_consents_unsigned=clinical_consents_unsigned(now),
        clearance_flag_open=Exists(open_safety_flags(OuterRef("pk"))),
    )


def clearance_of(facts: Patient, *, now: datetime | None = None) -> Clearance:
    """patient_clearance of a patient read through `clearance_facts`."""
    reasons: list[str] = []
    if facts.clearance_intake_status != IntakeStatus.APPROVED:  # type: ignore[attr-defined]
        reasons.append(NO_APPROVED_INTAKE)
    unsigned = ordered_kinds(facts.clearance_consents_unsigned)  # type: ignore[attr-defined]
    reasons += [f"{CONSENT_OUTSTANDING}:{kind}" for kind in unsigned]
    if facts.clearance_flag_open:  # type: ignore[attr-defined]
        reasons.append(SAFETY_FLAG_OPEN)
    reasons += [
        f"{QUESTIONNAIRE_OVERDUE}:{item.instrument}"
        for item in schedule_of(facts, now or timezone.now())
        if item.overdue_past_grace
    ]
    return Clearance(allowed=not reasons, reasons=reasons)


def patient_clearance(patient: Patient) -> Clearance:
    """Whether `patient` may be booked for a check-in and prescribed, with every reason
    when not (see the module docstring for the codes). One query."""
    patients = Patient.objects.filter(pk=patient.pk).only("time_zone")
    return clearance_of(clearance_facts(patients).get())
