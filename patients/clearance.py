"""The clinical clearance: the ONE place that decides whether a patient may be booked for
a check-in and prescribed (refills included). Scheduling and prescriptions call
`patient_clearance`; nothing else re-implements any part of it.

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

from patients.models import Patient
from patients.selectors.consent import clinical_consents_outstanding
from patients.selectors.measurement import questionnaire_schedule
from patients.selectors.review import intake_approved, open_safety_flags

NO_APPROVED_INTAKE = "no_approved_intake"
CONSENT_OUTSTANDING = "consent_outstanding"
SAFETY_FLAG_OPEN = "safety_flag_open"
QUESTIONNAIRE_OVERDUE = "questionnaire_overdue"


@dataclass(frozen=True)
class Clearance:
    allowed: bool
    reasons: list[str] = field(default_factory=list)


def patient_clearance(patient: Patient) -> Clearance:
    """Whether `patient` may be booked for a check-in and prescribed, with every reason
    when not (see the module docstring for the codes)."""
    reasons: list[str] = []
    if not intake_approved(patient):
        reasons.append(NO_APPROVED_INTAKE)
    reasons += [f"{CONSENT_OUTSTANDING}:{kind}" for kind in clinical_consents_outstanding(patient)]
    if open_safety_flags(patient).exists():
        reasons.append(SAFETY_FLAG_OPEN)
    reasons += [
        f"{QUESTIONNAIRE_OVERDUE}:{item.instrument}"
        for item in questionnaire_schedule(patient)
        if item.overdue_past_grace
    ]
    return Clearance(allowed=not reasons, reasons=reasons)
