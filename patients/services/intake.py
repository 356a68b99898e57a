"""Intake: the versioned questionnaire (its sections described as data), saving a draft,
submitting it (scoring and screening), answering a physician's question, and re-running an
old intake against its own rule set.

Answers document, one key per section (`QUESTIONNAIRE.sections`):

    {"medical_history": {"<condition code>": true|false, ...},     every screening.CONDITIONS
     "medications": {"classes": {"<class code>": true|false, ...}, every MEDICATION_CLASSES
                     "other": ["free text", ...]},
     "allergies": ["free text", ...],                               [] means none known
     "pregnant_or_breastfeeding": true|false,
     "audit_c": [0-4, 0-4, 0-4],
     "dast10": [true|false x 10],
     "vitals": {"systolic": int, "diastolic": int, "height_cm": number, "weight_kg": number},
     "phq9": [0-3 x 9],
     "gad7": [0-3 x 7],
     "cssrs": {"items": [true|false x 6], "lifetime_behaviour": true|false}}

A draft may hold any subset, and lists may be short or hold nulls; submitting needs all of
it. Errors are keyed by dotted path from the request body: `answers.phq9.3` is PHQ-9's
fourth item (0-based, like DRF's list errors). Other code reads `answers["phq9"]` and
`answers["gad7"]` as plain item lists (the measurement trend does): keep that shape.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.clock import practice_today
from core.errors import Conflict, NotFound, ValidationFailed
from patients import scoring, screening
from patients.models import (
    OPEN_INTAKE_STATUSES,
    Intake,
    IntakeReview,
    IntakeStatus,
    Patient,
    ReviewAction,
    SafetyFlag,
)
from patients.screening import CONDITIONS, MEDICATION_CLASSES, CatalogEntry
from patients.services.safety import safety_flag_raise
from patients.validators import age_on

QUESTIONNAIRE_VERSION: Final = "2026-11-1"

Errors = dict[str, list[str]]

REQUIRED: Final = "This answer is required."
SECTION_REQUIRED: Final = "This section is required."
YES_NO: Final = "Must be yes (true) or no (false)."

# --- sections as data --------------------------------------------------------------------


class Section:
    """One part of the questionnaire: checks its answers and describes itself for the form."""

    code: str
    title: str

    def check(self, value: Any, *, complete: bool, path: str) -> Errors:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


@dataclass(frozen=True)
class YesNoMap(Section):
    """A yes/no answer per catalog entry (medical history, medication classes)."""

    code: str
    title: str
    catalog: Mapping[str, CatalogEntry]

    def check(self, value: Any, *, complete: bool, path: str) -> Errors:
        if not isinstance(value, dict):
            return {path: ["Must be an object of yes/no answers, one per item."]}
        errors: Errors = {}
        for key in sorted(set(value) - set(self.catalog)):
            errors[f"{path}.{key}"] = ["Unknown item."]
        for code in self.catalog:
            answer = value.get(code)
            if answer is None:
                if complete:
                    errors[f"{path}.{code}"] = [REQUIRED]
            elif not _is_bool(answer):
                errors[f"{path}.{code}"] = [YES_NO]
        return errors

    def describe(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "type": "yes_no_map",
            "items": [{"code": e.code, "label": e.label} for e in self.catalog.values()],
        }


@dataclass(frozen=True)
class TextList(Section):
    """Free text entries (allergies, other medicines); an empty list means "none"."""

    code: str
    title: str
    max_items: int = 30
    max_length: int = 200

    def check(self, value: Any, *, complete: bool, path: str) -> Errors:
        if not isinstance(value, list):
            return {path: ["Must be a list of text entries (empty for none)."]}
        if len(value) > self.max_items:
            return {path: [f"At most {self.max_items} entries."]}
        errors: Errors = {}
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                errors[f"{path}.{index}"] = ["Must be non-empty text."]
            elif len(item) > self.max_length:
                errors[f"{path}.{index}"] = [f"At most {self.max_length} characters."]
        return errors

    def describe(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "type": "text_list",
            "max_items": self.max_items,
            "max_length": self.max_length,
        }


@dataclass(frozen=True)
class YesNo(Section):
    code: str
    title: str
    label: str

    def check(self, value: Any, *, complete: bool, path: str) -> Errors:
        return {} if _is_bool(value) else {path: [YES_NO]}

    def describe(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "type": "yes_no", "label": self.label}


@dataclass(frozen=True)
class Questionnaire(Section):
    """A scored instrument (patients.scoring): a list with one answer per item."""

    code: str
    title: str
    instrument: scoring.Instrument

    def check(self, value: Any, *, complete: bool, path: str) -> Errors:
        items = self.instrument.items
        if not isinstance(value, list):
            return {path: [f"Must be a list of {len(items)} answers."]}
        if len(value) > len(items):
            return {path: [f"Has {len(items)} questions; got {len(value)} answers."]}
        errors: Errors = {}
        for index in range(len(items)):
            answer = value[index] if index < len(value) else None
            if answer is None:
                if complete:
                    errors[f"{path}.{index}"] = [REQUIRED]
                continue
            if self.instrument.answer_type == "yes_no":
                if not _is_bool(answer):
                    errors[f"{path}.{index}"] = [YES_NO]
                continue
            top = len(self.instrument.options[index]) - 1
            if _is_bool(answer) or not isinstance(answer, int) or not 0 <= answer <= top:
                errors[f"{path}.{index}"] = [f"Must be a whole number from 0 to {top}."]
        return errors

    def describe(self) -> dict[str, Any]:
        i = self.instrument
        return {
            "code": self.code,
            "title": self.title,
            "instrument": i.name,
            "type": "yes_no_list" if i.answer_type == "yes_no" else "score_list",
            "version": i.version,
            "items": [
                {"index": n, "label": label, "options": list(i.options[n])}
                for n, label in enumerate(i.items)
            ],
        }


@dataclass(frozen=True)
class Composite(Section):
    """An object of named parts, each a section of its own."""

    code: str
    title: str
    parts: tuple[Section, ...]

    def check(self, value: Any, *, complete: bool, path: str) -> Errors:
        if not isinstance(value, dict):
            return {path: ["Must be an object."]}
        errors: Errors = {}
        known = {part.code: part for part in self.parts}
        for key in sorted(set(value) - set(known)):
            errors[f"{path}.{key}"] = ["Unknown field."]
        for code, part in known.items():
            if value.get(code) is None:
                if complete:
                    errors[f"{path}.{code}"] = [REQUIRED]
                continue
            errors |= part.check(value[code], complete=complete, path=f"{path}.{code}")
        return errors

    def describe(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "type": "object",
            "fields": [part.describe() for part in self.parts],
        }


@dataclass(frozen=True)
class Measure(Section):
    """One number in a range (a vital sign)."""

    code: str
    title: str
    unit: str
    low: float
    high: float
    whole: bool = True

    def check(self, value: Any, *, complete: bool, path: str) -> Errors:
        number = isinstance(value, int | float) and not _is_bool(value)
        if not number or (isinstance(value, float) and not math.isfinite(value)):
            return {path: ["Must be a number."]}
        if self.whole and not isinstance(value, int):
            return {path: ["Must be a whole number."]}
        if not self.low <= value <= self.high:
            return {path: [f"Must be from {self.low:g} to {self.high:g} {self.unit}."]}
        return {}

    def describe(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "type": "integer" if self.whole else "number",
            "unit": self.unit,
            "min": self.low,
            "max": self.high,
        }


@dataclass(frozen=True)
class Vitals(Composite):
    def check(self, value: Any, *, complete: bool, path: str) -> Errors:
        errors = super().check(value, complete=complete, path=path)
        if errors or not isinstance(value, dict):
            return errors
        systolic, diastolic = value.get("systolic"), value.get("diastolic")
        if systolic is not None and diastolic is not None and diastolic >= systolic:
            errors[f"{path}.diastolic"] = ["Must be lower than the systolic (top) number."]
        return errors


_CSSRS_ITEMS: Final = "items"  # the screener's six answers, inside the "cssrs" section

MEDICAL_HISTORY: Final = YesNoMap(
    "medical_history", "Have you ever been told you have any of these?", CONDITIONS
)
MEDICATIONS: Final = Composite(
    "medications",
    "Current medicines",
    (
        YesNoMap("classes", "Do you currently take any of these?", MEDICATION_CLASSES),
        TextList("other", "Any other medicines or supplements you take"),
    ),
)
ALLERGIES: Final = TextList("allergies", "Allergies to medicines, foods or anything else")
PREGNANCY: Final = YesNo(
    "pregnant_or_breastfeeding",
    "Pregnancy",
    "Are you pregnant, trying to become pregnant, or breastfeeding?",
)


def _instrument(instrument: scoring.Instrument) -> Questionnaire:
    return Questionnaire(instrument.code, instrument.name, instrument)


AUDIT_C: Final = _instrument(scoring.AUDIT_C)
DAST10: Final = _instrument(scoring.DAST10)
VITALS: Final = Vitals(
    "vitals",
    "Your most recent blood pressure, height and weight",
    (
        Measure("systolic", "Blood pressure, top number", "mmHg", 50, 300),
        Measure("diastolic", "Blood pressure, bottom number", "mmHg", 20, 200),
        Measure("height_cm", "Height", "cm", 90, 250, whole=False),
        Measure("weight_kg", "Weight", "kg", 25, 400, whole=False),
    ),
)
PHQ9: Final = _instrument(scoring.PHQ9)
GAD7: Final = _instrument(scoring.GAD7)
CSSRS: Final = Composite(
    "cssrs",
    "Safety questions (C-SSRS screener). In the past month:",
    (
        Questionnaire(_CSSRS_ITEMS, scoring.CSSRS_SCREEN.name, scoring.CSSRS_SCREEN),
        YesNo(
            "lifetime_behaviour",
            "Longer ago",
            "Have you ever, more than 3 months ago, done anything, started to do anything, "
            "or prepared to do anything to end your life?",
        ),
    ),
)


@dataclass(frozen=True)
class QuestionnaireDefinition:
    version: str
    sections: tuple[Section, ...] = field(default=())

    def by_code(self) -> dict[str, Section]:
        return {s.code: s for s in self.sections}

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "sections": [s.describe() for s in self.sections]}


QUESTIONNAIRE: Final = QuestionnaireDefinition(
    QUESTIONNAIRE_VERSION,
    (
        MEDICAL_HISTORY,
        MEDICATIONS,
        ALLERGIES,
        PREGNANCY,
        AUDIT_C,
        DAST10,
        VITALS,
        PHQ9,
        GAD7,
        CSSRS,
    ),
)


def answers_errors(answers: Any, *, complete: bool) -> Errors:
    """Field errors for an answers document (`complete`: every section, every item)."""
    if not isinstance(answers, dict):
        return {"answers": ["Must be an object with one entry per section."]}
    sections = QUESTIONNAIRE.by_code()
    errors: Errors = {}
    for key in sorted(set(answers) - set(sections)):
        errors[f"answers.{key}"] = ["Unknown section."]
    for code, section in sections.items():
        path = f"answers.{code}"
        if answers.get(code) is None:
            if complete:
                errors[path] = [SECTION_REQUIRED]
            continue
        errors |= section.check(answers[code], complete=complete, path=path)
    return errors


def intake_answers(intake: Intake) -> dict[str, Any]:
    """The intake's answers document (an encrypted JSON field, typed as text by the stubs)."""
    value: Any = intake.answers
    return dict(value or {})


def intake_screening(intake: Intake) -> dict[str, Any] | None:
    """The stored screening: {ruleset_version, outcome, reasons, urgent_safety, scores, ...}."""
    value: Any = intake.screening
    return dict(value) if value else None


def answers_digest(answers: Mapping[str, Any]) -> str:
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- scoring and screening ---------------------------------------------------------------


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
                "recent_behaviour": self.cssrs.recent_behaviour,
                "lifetime_behaviour": self.cssrs.lifetime_behaviour,
                "version": self.cssrs.version,
            },
            "bmi": self.bmi,
        }


def _score(answers: Mapping[str, Any], *, sex_at_birth: str | None) -> Scores:
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
                cssrs[_CSSRS_ITEMS], lifetime_behaviour=cssrs["lifetime_behaviour"]
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


def _context_of(patient: Patient) -> ScreeningContext:
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


def _screening_input(
    answers: Mapping[str, Any], scores: Scores, ctx: ScreeningContext
) -> screening.ScreeningInput:
    vitals = answers["vitals"]
    return screening.ScreeningInput(
        age=ctx.age,
        state=ctx.state,
        sex_at_birth=ctx.sex_at_birth,
        conditions=_yes(answers["medical_history"]),
        medication_classes=_yes(answers["medications"]["classes"]),
        pregnant_or_breastfeeding=answers["pregnant_or_breastfeeding"],
        phq9_total=scores.phq9.total,
        phq9_item9=scores.phq9.item9,
        gad7_total=scores.gad7.total,
        cssrs=scores.cssrs,
        systolic_bp=vitals["systolic"],
        diastolic_bp=vitals["diastolic"],
        audit_c=scores.audit_c,
        dast10=scores.dast10,
    )


def _stored_screening_input(
    answers: Mapping[str, Any], scores: Mapping[str, Any], ctx: ScreeningContext
) -> screening.ScreeningInput:
    """The screening input rebuilt from what was stored at submission: the scores as the
    scorers of that day computed them (never re-scored with today's scorers) and the frozen
    answers for what the screening reads directly (conditions, medicines, vitals)."""
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
            answers=tuple(answers["cssrs"][_CSSRS_ITEMS]),
            lifetime_behaviour=cssrs["lifetime_behaviour"],
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


def _run_screening(
    answers: Mapping[str, Any], ctx: ScreeningContext, ruleset_version: str
) -> tuple[Scores, screening.ScreeningDecision]:
    scores = _score(answers, sex_at_birth=ctx.sex_at_birth)
    try:
        decision = screening.screen(_screening_input(answers, scores, ctx), ruleset_version)
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
    ctx = ScreeningContext(**fixed) if fixed else _context_of(intake.patient)
    inp = _stored_screening_input(intake_answers(intake), stored["scores"], ctx)
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
    screener a wish to be dead, thoughts of suicide, intent, a plan or recent behaviour
    (what makes a submitted screening urgent). Answers not given yet count as no."""
    phq9 = answers.get("phq9")
    if isinstance(phq9, list) and len(phq9) > 8:
        item9 = phq9[8]
        if isinstance(item9, int) and not isinstance(item9, bool) and item9 > 0:
            return True
    cssrs = answers.get("cssrs")
    items = cssrs.get(_CSSRS_ITEMS) if isinstance(cssrs, dict) else None
    if isinstance(items, list):
        urgent = (
            scoring.CSSRS_WISH_DEAD,
            scoring.CSSRS_THOUGHTS,
            scoring.CSSRS_INTENT,
            scoring.CSSRS_PLAN,
            scoring.CSSRS_BEHAVIOUR,
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


def _set_screening(intake: Intake, document: dict[str, Any]) -> None:
    """Store a screening document on the intake (not saved here), with its outcome in its
    own column (`screening_outcome`, what the review queue reads): every write of the
    screening goes through here so that the two never disagree."""
    intake.screening = document
    intake.screening_outcome = document["outcome"]


def _evaluate(intake: Intake, patient: Patient, *, actor: User) -> list[SafetyFlag]:
    """Score and screen the intake's (complete) answers with the current rule set, store the
    result on the intake (not saved here) and raise safety flags when urgent."""
    answers = intake_answers(intake)
    if errors := answers_errors(answers, complete=True):
        raise ValidationFailed("Some answers are missing or invalid.", fields=errors)
    ctx = _context_of(patient)
    scores, decision = _run_screening(answers, ctx, screening.CURRENT_RULESET)
    urgent = screening.urgent_safety(decision)
    intake.ruleset_version = decision.ruleset_version
    result: Any = decision_as_dict(decision) | {
        "urgent_safety": urgent,
        "scores": scores.as_dict(),
        "input": ctx.as_dict(),
        "questionnaire_version": intake.questionnaire_version,
        "answers_sha256": answers_digest(answers),
    }
    _set_screening(intake, result)
    return _raise_safety_flags(intake, patient, decision, actor=actor) if urgent else []


def _raise_safety_flags(
    intake: Intake, patient: Patient, decision: screening.ScreeningDecision, *, actor: User
) -> list[SafetyFlag]:
    """One flag per urgent reason (none twice while one of that kind is open for this
    intake), each alerting the physicians licensed in the patient's state."""
    kinds = [c for c in decision.codes() if c in SAFETY_FLAG_REASONS] or [screening.URGENT_SAFETY]
    already_open = set(
        SafetyFlag.objects.filter(
            patient=patient, source="intake", source_id=intake.public_id, resolved_at__isnull=True
        ).values_list("kind", flat=True)
    )
    return [
        safety_flag_raise(
            patient=patient, kind=kind, source="intake", source_id=intake.public_id, actor=actor
        )
        for kind in kinds
        if kind not in already_open
    ]


# --- patient-side services ---------------------------------------------------------------


def _lock_patient(patient: Patient) -> Patient:
    """Every patient-side intake write holds the patient row: one at a time per patient
    (so a double click creates one draft and submits once)."""
    return Patient.objects.select_for_update().select_related("user").get(pk=patient.pk)


def _current_for_update(patient: Patient) -> Intake | None:
    # At most one intake is open and a new one starts only when none is: the newest is the
    # open one if there is one.
    return (
        Intake.objects.select_for_update()
        .filter(patient=patient)
        .order_by("-created_at", "-id")
        .first()
    )


def _not_editable(intake: Intake) -> Conflict:
    return Conflict(
        f"This intake is {intake.status.replace('_', ' ')} and can no longer be changed.",
        code="intake_not_editable",
    )


@transaction.atomic
def intake_save_draft(*, patient: Patient, answers: Any) -> Intake:
    """Save answers to the open intake, creating a draft when none is open.

    Sections given replace the stored ones, a section given as null is cleared, sections
    left out are kept. Only a draft changes: once submitted the answers (and the screening
    made of them) are frozen, also while a physician has asked for more information (the
    patient answers the question in text). Answers to correct mean a decline and a new
    intake; after an approval no new intake starts."""
    if errors := answers_errors(answers, complete=False):
        raise ValidationFailed(fields=errors)
    patient = _lock_patient(patient)
    intake = _current_for_update(patient)
    created = False
    if intake is None or intake.status not in OPEN_INTAKE_STATUSES:
        if intake is not None and intake.status == IntakeStatus.APPROVED:
            raise _not_editable(intake)
        intake = Intake(patient=patient, questionnaire_version=QUESTIONNAIRE_VERSION)
        created = True
    elif intake.status != IntakeStatus.DRAFT:
        raise _not_editable(intake)
    merged: Any = intake_answers(intake)
    for code, value in answers.items():
        if value is None:
            merged.pop(code, None)
        else:
            merged[code] = value
    intake.answers = merged
    intake.save()
    audit_record(
        actor=patient.user,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        object_type="patients.intake",
        object_id=str(intake.public_id),
        patient_id=patient.public_id,
    )
    return intake


@transaction.atomic
def intake_submit(*, patient: Patient) -> Intake:
    """Submit the draft: every section checked (each missing or invalid field named),
    every instrument scored, the screening rule set run and its decision stored with every
    reason. Urgent safety answers raise flags and alert the state's physicians. Whatever
    the outcome, the intake goes to the physicians' queue: a physician decides."""
    patient = _lock_patient(patient)
    intake = _current_for_update(patient)
    if intake is None:
        raise NotFound("No intake yet: save your answers first.", code="no_intake")
    if intake.status != IntakeStatus.DRAFT:
        raise _not_editable(intake)
    _evaluate(intake, patient, actor=patient.user)
    intake.status = IntakeStatus.SUBMITTED
    intake.submitted_at = timezone.now()
    intake.save()
    audit_record(
        actor=patient.user,
        action=AuditAction.UPDATE,
        object_type="patients.intake",
        object_id=str(intake.public_id),
        patient_id=patient.public_id,
        detail={"event": "submitted"},  # no outcome or flags: no clinical data in the audit
    )
    return intake


@transaction.atomic
def intake_answer_question(*, patient: Patient, review_id: Any, answer: str) -> Intake:
    """Record the patient's answer (text) to a physician's question. Once no question is
    left open the intake goes back to the queue (status submitted). The answers and their
    screening stay exactly as submitted: nothing is edited or screened again here."""
    patient = _lock_patient(patient)
    review = (
        IntakeReview.objects.select_for_update(of=("self",))
        .select_related("intake")
        .filter(public_id=review_id, intake__patient=patient, action=ReviewAction.REQUEST_INFO)
        .first()
    )
    if review is None:
        raise NotFound("No such question.", code="no_question")
    if review.answered_at is not None:
        raise Conflict("This question has already been answered.", code="question_answered")
    intake = Intake.objects.select_for_update().get(pk=review.intake_id)
    if intake.status != IntakeStatus.INFO_REQUESTED:
        raise Conflict("This intake is not waiting for an answer.", code="intake_not_editable")
    review.patient_answer = answer
    review.answered_at = timezone.now()
    review.save(update_fields=["patient_answer", "answered_at"])
    still_open = intake.reviews.filter(
        action=ReviewAction.REQUEST_INFO, answered_at__isnull=True
    ).exists()
    if not still_open:
        intake.status = IntakeStatus.SUBMITTED
        intake.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=patient.user,
        action=AuditAction.UPDATE,
        object_type="patients.intakereview",
        object_id=str(review.public_id),
        patient_id=patient.public_id,
        detail={"event": "answered"},
    )
    return intake
