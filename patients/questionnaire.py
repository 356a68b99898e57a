"""The intake questionnaire, versioned and described as data: its sections, how each checks
its answers (drafts and complete submissions) and describes itself for the form.

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
     "cssrs": {"items": [true|false x 6], "lifetime_behavior": true|false}}
                          (the old spelling `lifetime_behaviour` is still accepted: LEGACY_KEYS)

A draft may hold any subset, and lists may be short or hold nulls; submitting needs all of
it. Errors are keyed by dotted path from the request body: `answers.phq9.3` is PHQ-9's
fourth item (0-based, like DRF's list errors). Other code reads `answers["phq9"]` and
`answers["gad7"]` as plain item lists (the measurement trend does): keep that shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from core.text import plain_text_problem
from patients import scoring
from patients.screening import CONDITIONS, MEDICATION_CLASSES, CatalogEntry

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
            elif (problem := plain_text_problem(item)) is not None:
                errors[f"{path}.{index}"] = [problem]
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


CSSRS_ITEMS: Final = "items"  # the screener's six answers, inside the "cssrs" section

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
        Questionnaire(CSSRS_ITEMS, scoring.CSSRS_SCREEN.name, scoring.CSSRS_SCREEN),
        YesNo(
            "lifetime_behavior",
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


# Keys written before the US spelling (`cssrs.lifetime_behaviour`): still accepted as input
# and in stored answers, always read and written in the current spelling.
LEGACY_KEYS: Final[Mapping[str, Mapping[str, str]]] = {
    "cssrs": {"lifetime_behaviour": "lifetime_behavior"}
}


def answers_current_keys(answers: Any) -> Any:
    """A copy of an answers document with legacy keys renamed (a key given in both spellings
    keeps the current one). Anything but an object is returned as is for answers_errors."""
    if not isinstance(answers, dict):
        return answers
    current = dict(answers)
    for code, renames in LEGACY_KEYS.items():
        section = current.get(code)
        if isinstance(section, dict) and not renames.keys().isdisjoint(section):
            section = dict(section)
            for old, new in renames.items():
                if old in section:
                    section.setdefault(new, section.pop(old))
            current[code] = section
    return current


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
