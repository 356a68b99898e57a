"""Intake scoring and screening: the glue between a (complete, validated) answers document
and patients.scoring / patients.screening. The scores and the screening context are fixed at
submission and stored with the decision, so an old intake can be screened again with its
own rule set (`intake_rescreen`) and give the same answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.clock import practice_today
from core.errors import Conflict, ValidationFailed
from patients import scoring, screening
from patients.models import Intake, Patient
from patients.questionnaire import CSSRS_ITEMS
from patients.selectors.intake import intake_answers, intake_screening
from patients.validators import age_on


def answers_digest(answers: Mapping[str, Any]) -> str:
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Scores:
    phq9: scoring.Phq9Result
    gad7: scoring.SeverityResult
    audit_c: scoring.AuditCResult
    dast10: scoring.SeverityResult
    cssrs: scoring.CssrsResult
    bmi: float

    def as_dict(self) -> dict[str, Any]:
        def severity(r: scoring.SeverityResult) -> dict[str, Any]:
            return {
                "total": r.total,
                "band": r.band,
                "band_label": r.band_label,
                "version": r.version,
            }

        return {
            "phq9": severity(self.phq9)
            | {"item9": self.phq9.item9, "self_harm_flag": self.phq9.self_harm_flag},
            "gad7": severity(self.gad7),
            "audit_c": {
                "total": self.audit_c.total,
                "threshold": self.audit_c.threshold,
                "positive": self.audit_c.positive,
                "version": self.audit_c.version,
            },
            "dast10": severity(self.dast10),
            "cssrs": {
                "risk": self.cssrs.risk,
                "ideation": self.cssrs.ideation,
                "intent_or_plan": self.cssrs.intent_or_plan,
                "recent_behavior": self.cssrs.recent_behavior,
                "lifetime_behavior": self.cssrs.lifetime_behavior,
                "version": self.cssrs.version,
            },
            "bmi": self.bmi,
        }


def score_answers(answers: Mapping[str, Any], *, sex_at_birth: str | None) -> Scores:
    """Score complete, validated answers; a ScoringError here is a field error."""
    try:
        cssrs = answers["cssrs"]
        vitals = answers["vitals"]
        height_m = vitals["height_cm"] / 100
        return Scores(
            phq9=scoring.score_phq9(answers["phq9"]),
            gad7=scoring.score_gad7(answers["gad7"]),
            audit_c=scoring.score_audit_c(answers["audit_c"], sex_at_birth=sex_at_birth),
            dast10=scoring.score_dast10(answers["dast10"]),
            cssrs=scoring.score_cssrs(
                cssrs[CSSRS_ITEMS], lifetime_behavior=cssrs["lifetime_behavior"]
            ),
            bmi=round(vitals["weight_kg"] / (height_m * height_m), 1),
        )
    except scoring.ScoringError as exc:
        raise ValidationFailed(fields={f"answers.{exc.field}": [exc.detail]}) from exc


@dataclass(frozen=True)
class ScreeningContext:
    """What the screening needs from the patient record, fixed at submission so that
    re-running an old intake gives the same answer (age does not move on)."""

    age: int
    state: str
    sex_at_birth: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"age": self.age, "state": self.state, "sex_at_birth": self.sex_at_birth}


def screening_context_of(patient: Patient) -> ScreeningContext:
    born: Any = patient.date_of_birth  # an encrypted date (typed as text by the stubs)
    if born is None:
        raise Conflict("Add your date of birth to your record first.", code="record_incomplete")
    return ScreeningContext(
        age=age_on(born, practice_today()),
        state=patient.state,
        sex_at_birth=patient.sex_at_birth or None,
    )


def _yes(answers: Mapping[str, bool]) -> frozenset[str]:
    return frozenset(code for code, answer in answers.items() if answer is True)


def screening_input(
    answers: Mapping[str, Any], scores: Mapping[str, Any], ctx: ScreeningContext
) -> screening.ScreeningInput:
    """The screening input of an intake: its scores as stored (`Scores.as_dict()`, as the
    scorers of the day of submission computed them: an old intake is never re-scored with
    today's scorers) and the frozen answers for what the screening reads directly
    (conditions, medicines, pregnancy, vitals)."""
    vitals = answers["vitals"]
    phq9, gad7, audit_c, dast10, cssrs = (
        scores["phq9"],
        scores["gad7"],
        scores["audit_c"],
        scores["dast10"],
        scores["cssrs"],
    )
    return screening.ScreeningInput(
        age=ctx.age,
        state=ctx.state,
        sex_at_birth=ctx.sex_at_birth,
        conditions=_yes(answers["medical_history"]),
        medication_classes=_yes(answers["medications"]["classes"]),
        pregnant_or_breastfeeding=answers["pregnant_or_breastfeeding"],
        phq9_total=phq9["total"],
        phq9_item9=phq9["item9"],
        gad7_total=gad7["total"],
        cssrs=scoring.CssrsResult(
            version=cssrs["version"],
            answers=tuple(answers["cssrs"][CSSRS_ITEMS]),
            lifetime_behavior=cssrs["lifetime_behavior"],
            risk=cssrs["risk"],
        ),
        systolic_bp=vitals["systolic"],
        diastolic_bp=vitals["diastolic"],
        audit_c=scoring.AuditCResult(
            version=audit_c["version"],
            answers=(),
            total=audit_c["total"],
            sex_at_birth=ctx.sex_at_birth,
            threshold=audit_c["threshold"],
            positive=audit_c["positive"],
        ),
        dast10=scoring.SeverityResult(
            instrument=scoring.DAST10.code,
            version=dast10["version"],
            answers=(),
            total=dast10["total"],
            band=dast10["band"],
            band_label=dast10["band_label"],
        ),
    )


def decision_as_dict(decision: screening.ScreeningDecision) -> dict[str, Any]:
    return {
        "ruleset_version": decision.ruleset_version,
        "outcome": decision.outcome,
        "reasons": [
            {"code": r.code, "kind": r.kind, "message": r.message} for r in decision.reasons
        ],
    }


def run_screening(
    answers: Mapping[str, Any], ctx: ScreeningContext, ruleset_version: str
) -> tuple[Scores, screening.ScreeningDecision]:
    scores = score_answers(answers, sex_at_birth=ctx.sex_at_birth)
    try:
        decision = screening.screen(
            screening_input(answers, scores.as_dict(), ctx), ruleset_version
        )
    except screening.ScreeningError as exc:  # out-of-range record data (an odd birth date)
        name = "date_of_birth" if exc.field == "age" else exc.field
        raise ValidationFailed(fields={name: [exc.detail]}) from exc
    return scores, decision


def intake_rescreen(intake: Intake) -> dict[str, Any]:
    """Re-run a submitted intake against its own rule-set version, from the scores, answers
    and patient context stored at submission: {ruleset_version, outcome, reasons}.

    The answers are not scored again: a scorer changed since (a new instrument version)
    must not silently change an old decision."""
    stored = intake_screening(intake)
    if stored is None or not intake.ruleset_version or not stored.get("scores"):
        raise Conflict("This intake has not been screened.", code="intake_not_screened")
    fixed = stored.get("input")
    ctx = ScreeningContext(**fixed) if fixed else screening_context_of(intake.patient)
    inp = screening_input(intake_answers(intake), stored["scores"], ctx)
    try:
        decision = screening.screen(inp, intake.ruleset_version)
    except screening.ScreeningError as exc:
        raise Conflict(
            f"This intake cannot be screened again: {exc.detail}.", code="intake_not_screened"
        ) from exc
    return decision_as_dict(decision)


def answers_show_self_harm_risk(answers: Mapping[str, Any]) -> bool:
    """Whether (possibly partial, draft) answers show a risk of self-harm that must put
    crisis resources in front of the patient now: PHQ-9 item 9 above 0, or on the C-SSRS
    screener a wish to be dead, thoughts of suicide, intent, a plan or recent behavior
    (what makes a submitted screening urgent). Answers not given yet count as no."""
    phq9 = answers.get("phq9")
    if isinstance(phq9, list) and len(phq9) > 8:
        item9 = phq9[8]
        if isinstance(item9, int) and not isinstance(item9, bool) and item9 > 0:
            return True
    cssrs = answers.get("cssrs")
    items = cssrs.get(CSSRS_ITEMS) if isinstance(cssrs, dict) else None
    if isinstance(items, list):
        urgent = (
            scoring.CSSRS_WISH_DEAD,
            scoring.CSSRS_THOUGHTS,
            scoring.CSSRS_INTENT,
            scoring.CSSRS_PLAN,
            scoring.CSSRS_BEHAVIOR,
        )
        return any(index < len(items) and items[index] is True for index in urgent)
    return False


# Reasons that, when the decision is urgent, each become a safety flag of that kind.
SAFETY_FLAG_REASONS: Final = (
    "suicidal_intent_or_plan",
    "recent_suicidal_behavior",
    "self_harm_thoughts",
    "suicidal_thoughts",
)
