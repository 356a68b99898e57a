"""The free assessment ("see if you qualify"): anonymous, scored by the screening engine,
stored without anything that identifies the person, and claimable later by a patient.

What is kept: the anonymous outcome only (for conversion figures): the state, the
outcome (encrypted: a lead or a claim links the row to a person), the rule-set version,
whether an answer showed self-harm (`urgent_safety`, so a later claim opens a safety flag
for a physician; the claim clears it once the flag exists) and the keyed hash of a claim
token that is shown once. No answer and no clinical reason code is stored. Contact details
("stay informed") are kept only with explicit marketing consent, recorded with its time,
source and the exact wording shown; the lead holds contact and consent only.

The answers are always scored first: a problem with the optional lead (contact details
without consent, consent without contact details, a bad email or phone) never withholds
the decision or the crisis resources. The lead is dropped (`lead_saved` false) and the
problem is returned as a field-level warning (`lead_warnings`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, NoReturn

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, audit_write
from core.crypto import keyed_hash
from core.errors import Conflict, NotFound, ValidationFailed
from patients import screening
from patients.assessment_questions import (
    HARD_STOP_CONDITIONS,
    LEAD_CONSENT_SOURCE,
    LEAD_CONSENT_WORDING,
    NEEDS_FULL_FORM,
    NEXT_STEPS,
    NOT_SERVED_MESSAGE,
    US_STATE_CODES,
    AssessmentAnswers,
    self_harm_indicated,
)
from patients.models import (
    Assessment,
    AssessmentOutcome,
    Lead,
    Patient,
    phone_lookup_hash,
)
from patients.scoring import (
    GAD2,
    GAD7,
    PHQ2,
    PHQ9,
    PHQ9_SELF_HARM_ITEM,
    CssrsResult,
    ScoringError,
    SeverityResult,
    ShortFormResult,
    score_cssrs,
    score_gad2,
    score_gad7,
    score_phq2,
    score_phq9,
)
from patients.selectors.own_record import own_record
from patients.services.safety import safety_flag_raise
from patients.validators import age_on

CLAIM_TOKEN_PURPOSE: Final = "assessment-claim"

# --- input and output ----------------------------------------------------------------------


@dataclass(frozen=True)
class LeadContact:
    email: str = ""
    phone: str = ""  # E.164
    marketing_consent: bool = False


@dataclass(frozen=True)
class AssessmentResult:
    outcome: str  # an AssessmentOutcome, or NEEDS_FULL_FORM (nothing stored)
    reasons: tuple[str, ...]
    next_steps: tuple[str, ...]
    crisis_resources: str | None
    full_forms_needed: tuple[str, ...] = ()
    assessment: Assessment | None = None
    claim_token: str | None = field(default=None, repr=False)  # shown once, never stored
    lead_saved: bool = False
    lead_warnings: Mapping[str, list[str]] = field(default_factory=dict)


# --- scoring the answers -------------------------------------------------------------------


@dataclass(frozen=True)
class _Symptoms:
    phq9_total: int | None
    phq9_item9: int | None
    gad7_total: int | None
    full_forms_needed: tuple[str, ...]


def _symptom_totals(answers: AssessmentAnswers) -> _Symptoms:
    """Totals to screen with. A full form gives its total. A negative short form (PHQ-2 or
    GAD-2 below 3) stands for "below the eligibility threshold": its own total (at most 2)
    is what the engine compares with the threshold of 10. A positive short form without
    its full form gives None and asks for the full form."""
    errors: dict[str, list[str]] = {}
    needed: list[str] = []
    phq = _form_total(
        (PHQ2.code, score_phq2, answers.phq2), (PHQ9.code, score_phq9, answers.phq9), errors, needed
    )
    gad = _form_total(
        (GAD2.code, score_gad2, answers.gad2), (GAD7.code, score_gad7, answers.gad7), errors, needed
    )
    if errors:
        raise ValidationFailed(fields=errors)
    item9 = answers.phq9[PHQ9_SELF_HARM_ITEM] if answers.phq9 is not None else None
    return _Symptoms(phq, item9, gad, tuple(needed))


_ShortForm = tuple[str, Callable[[Sequence[int]], ShortFormResult], Sequence[int] | None]
_FullForm = tuple[str, Callable[[Sequence[int]], SeverityResult], Sequence[int] | None]


def _form_total(
    short: _ShortForm, full: _FullForm, errors: dict[str, list[str]], needed: list[str]
) -> int | None:
    (short_code, score_short, short_answers), (full_code, score_full, full_answers) = short, full
    try:
        if full_answers is not None:
            result = score_full(full_answers)
            if short_answers is not None and tuple(short_answers) != result.answers[:2]:
                errors[full_code] = [f"The first two answers must match the {short_code} answers."]
            return result.total
        if short_answers is None:
            errors[short_code] = [f"Answer the {short_code} questions or the full form."]
            return None
        short_result = score_short(short_answers)
    except ScoringError as exc:
        errors[exc.field] = [exc.detail]
        return None
    if short_result.positive:
        needed.append(full_code)
        return None
    return short_result.total


def _intent_screen(intent_or_plan: bool) -> CssrsResult | None:
    """The assessment's one safety question as a C-SSRS result: a "yes" is the screener's
    intent question (Q4), scored as given; a "no" asks nothing of the engine."""
    if not intent_or_plan:
        return None
    return score_cssrs([False, False, False, True, False, False])


def _screen(
    answers: AssessmentAnswers, symptoms: _Symptoms, today: date
) -> screening.ScreeningDecision:
    unknown = sorted(set(answers.conditions) - set(HARD_STOP_CONDITIONS))
    missing = sorted(set(HARD_STOP_CONDITIONS) - set(answers.conditions))
    if unknown or missing:
        raise ValidationFailed(
            fields={
                **{f"conditions.{code}": ["Unknown condition."] for code in unknown},
                **{f"conditions.{code}": ["Answer yes or no."] for code in missing},
            }
        )
    try:
        return screening.screen(
            screening.ScreeningInput(
                age=age_on(answers.date_of_birth, today),
                state=answers.state,
                conditions=frozenset(code for code, yes in answers.conditions.items() if yes),
                pregnant_or_breastfeeding=answers.pregnant_or_breastfeeding,
                phq9_total=symptoms.phq9_total,
                phq9_item9=symptoms.phq9_item9,
                gad7_total=symptoms.gad7_total,
                cssrs=_intent_screen(answers.suicidal_intent_or_plan),
            )
        )
    except screening.ScreeningError as exc:
        name = "date_of_birth" if exc.field == "age" else exc.field
        raise ValidationFailed(fields={name: [exc.detail]}) from None


def _outcome(decision: screening.ScreeningDecision) -> str:
    if "state_not_served" in decision.codes():
        return AssessmentOutcome.NOT_SERVED
    return {
        screening.NOT_ELIGIBLE: AssessmentOutcome.NOT_ELIGIBLE,
        screening.NEEDS_REVIEW: AssessmentOutcome.NEEDS_REVIEW,
        screening.ELIGIBLE_PENDING_REVIEW: AssessmentOutcome.LIKELY_ELIGIBLE,
    }[decision.outcome]


def _patient_reasons(outcome: str, decision: screening.ScreeningDecision) -> tuple[str, ...]:
    """The generic messages behind the outcome (no scores), each once, in the engine's order."""
    if outcome == AssessmentOutcome.NOT_SERVED:
        return (NOT_SERVED_MESSAGE,)
    kinds: dict[str, str] = {
        AssessmentOutcome.NOT_ELIGIBLE: screening.HARD_STOP,
        AssessmentOutcome.NEEDS_REVIEW: screening.REVIEW,
    }
    kind = kinds.get(outcome)
    if kind is None:
        return ()
    return tuple(dict.fromkeys(r.message for r in decision.reasons if r.kind == kind))


def _lead_errors(lead: LeadContact) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not (lead.email or lead.phone):
        errors["stay_informed.email"] = ["Give an email address or a phone number."]
    if lead.marketing_consent is not True:
        errors["stay_informed.marketing_consent"] = [
            "We can keep your contact details only with your consent to be contacted."
        ]
    return errors


# --- services ------------------------------------------------------------------------------


@transaction.atomic
def assessment_submit(
    *, answers: AssessmentAnswers, lead: LeadContact | None, today: date
) -> AssessmentResult:
    """Score a free assessment and keep its anonymous outcome (and, with consent, a lead).

    A positive short form without its full form answers `needs_full_form` and keeps
    nothing, unless the answers already rule treatment out (a hard stop or a state we
    do not serve), which the full form could not change. Whatever the outcome, any
    answer of self-harm returns the crisis resources.

    The answers are scored first. A lead that cannot be kept (see `_lead_errors`) is
    dropped, never stored, and reported in `lead_warnings`: it does not withhold the
    decision or the crisis resources."""
    lead_warnings = _lead_errors(lead) if lead is not None else {}
    if lead_warnings:
        lead = None
    if answers.state not in US_STATE_CODES:
        raise ValidationFailed(fields={"state": ["Enter a two-letter US state code."]})
    symptoms = _symptom_totals(answers)
    decision = _screen(answers, symptoms, today)
    crisis = screening.CRISIS_RESOURCES if self_harm_indicated(answers) else None
    outcome = _outcome(decision)
    if symptoms.full_forms_needed and outcome not in (
        AssessmentOutcome.NOT_SERVED,
        AssessmentOutcome.NOT_ELIGIBLE,
    ):
        return AssessmentResult(
            outcome=NEEDS_FULL_FORM,
            reasons=(),
            next_steps=NEXT_STEPS[NEEDS_FULL_FORM],
            crisis_resources=crisis,
            full_forms_needed=symptoms.full_forms_needed,
            lead_warnings=lead_warnings,
        )

    token = secrets.token_urlsafe(32)
    assessment = Assessment.objects.create(
        state=answers.state,
        outcome=outcome,
        ruleset_version=decision.ruleset_version,
        urgent_safety=decision.urgent_safety,
        claim_token_hash=keyed_hash(token, purpose=CLAIM_TOKEN_PURPOSE),
    )
    if lead is not None:
        Lead.objects.create(
            assessment=assessment,
            email=lead.email,
            phone=lead.phone,
            phone_hash=phone_lookup_hash(lead.phone) if lead.phone else "",
            consent_at=timezone.now(),
            consent_source=LEAD_CONSENT_SOURCE,
            consent_wording=LEAD_CONSENT_WORDING,
        )
        audit_record(
            actor=None,
            action=AuditAction.CREATE,
            object_type="patients.lead",
            object_id=str(assessment.public_id),
            detail={"source": LEAD_CONSENT_SOURCE, "marketing_consent": True},
        )
    return AssessmentResult(
        outcome=outcome,
        reasons=_patient_reasons(outcome, decision),
        next_steps=NEXT_STEPS[outcome],
        crisis_resources=crisis,
        assessment=assessment,
        claim_token=token,
        lead_saved=lead is not None,
        lead_warnings=lead_warnings,
    )


def assessment_claim(*, user: User, claim_token: str) -> Assessment:
    """Link an anonymous assessment to the signed-in patient, once.

    Unknown token: 404 `assessment_not_found`. Already claimed, by this patient:
    409 `assessment_already_claimed`; by someone else: 409 `assessment_claimed`. Refused
    attempts are audited too. An assessment whose answers raised an urgent safety
    concern opens a safety flag for a physician when it is claimed."""
    patient = own_record(user)
    token_hash = keyed_hash(claim_token, purpose=CLAIM_TOKEN_PURPOSE)
    with transaction.atomic():
        # Conditional UPDATE: of two concurrent claims exactly one links the assessment.
        linked = Assessment.objects.filter(
            claim_token_hash=token_hash, claimed_by__isnull=True
        ).update(claimed_by=patient, claimed_at=timezone.now())
        if linked:
            assessment = Assessment.objects.select_related("claimed_by").get(
                claim_token_hash=token_hash
            )
            if assessment.urgent_safety:
                _raise_safety_flags(user, patient, assessment)
                # The flag now holds the fact; the row linked to the patient keeps no
                # plaintext trace of it.
                assessment.urgent_safety = False
                assessment.save(update_fields=["urgent_safety"])
            audit_write(assessment, actor=user, action=AuditAction.UPDATE, detail={"claimed": True})
            return assessment
    _refuse_claim(user, patient, token_hash)


def _refuse_claim(user: User, patient: Patient, token_hash: str) -> NoReturn:
    existing = (
        Assessment.objects.filter(claim_token_hash=token_hash)
        .only("public_id", "claimed_by_id")
        .first()
    )
    error: NotFound | Conflict
    if existing is None:
        error = NotFound("No assessment has this claim token.", code="assessment_not_found")
    elif existing.claimed_by_id == patient.pk:
        error = Conflict(
            "You have already claimed this assessment.", code="assessment_already_claimed"
        )
    else:
        error = Conflict(
            "This assessment has already been claimed by another account.",
            code="assessment_claimed",
        )
    audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        object_type="patients.assessment",
        object_id=str(existing.public_id) if existing else "",
        outcome=AuditOutcome.DENIED,
        detail={"claimed": False, "reason": error.code},
    )
    raise error


def _raise_safety_flags(user: User, patient: Patient, assessment: Assessment) -> None:
    """An answer of self-harm in a claimed assessment becomes the patient's own: one
    `urgent_safety` flag (which answer is not kept), as the intake raises them (dosing and
    refills wait for a physician to resolve it)."""
    if assessment.urgent_safety:
        safety_flag_raise(
            patient=patient,
            kind=screening.URGENT_SAFETY,
            source="assessment",
            source_id=assessment.public_id,
            actor=user,
        )
