"""The free assessment's questions (the wording shown, the hard-stop conditions asked, the
"stay informed" consent text, the next steps per outcome) and what its answers say about
self-harm, before or without scoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from patients import screening
from patients.models import AssessmentOutcome
from patients.scoring import PHQ9, PHQ9_SELF_HARM_ITEM

# The yes/no medical-history questions of the free assessment: the hard stops only (the
# conditions that need a physician's review are asked in the intake).
HARD_STOP_CONDITIONS: Final[Mapping[str, str]] = {
    code: entry.label
    for code, entry in screening.CONDITIONS.items()
    if entry.kind == screening.HARD_STOP
}
PREGNANT_OR_BREASTFEEDING_QUESTION: Final = "Are you pregnant or breastfeeding?"
SUICIDAL_INTENT_QUESTION: Final = (
    "Are you thinking about ending your life right now, with some intention of acting on "
    "those thoughts or a plan for how you would do it?"
)

# Every two-letter code the US Postal Service uses for a state, DC or a territory.
US_STATE_CODES: Final = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "  # noqa: SIM905
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR VI GU AS MP".split()
)

# "Stay informed": the wording shown next to the consent box, stored with each lead.
LEAD_CONSENT_SOURCE: Final = "assessment"
LEAD_CONSENT_WORDING: Final = (
    "Yes, keep me informed. I agree that the practice may email or text me about its "
    "services, including when it starts serving my state. Consent is not a condition of "
    "treatment. Message frequency varies; message and data rates may apply. Reply STOP to "
    "opt out of texts or use the unsubscribe link in any email."
)

NEEDS_FULL_FORM: Final = "needs_full_form"

NEXT_STEPS: Final[Mapping[str, tuple[str, ...]]] = {
    AssessmentOutcome.LIKELY_ELIGIBLE: (
        "Create your account and complete the medical intake; your claim token carries "
        "these answers over.",
        "A physician licensed in your state reviews every intake before any treatment.",
    ),
    AssessmentOutcome.NEEDS_REVIEW: (
        "Create your account and complete the medical intake; your claim token carries "
        "these answers over.",
        "A physician will look at your answers with you before deciding whether this "
        "treatment is right for you.",
    ),
    AssessmentOutcome.NOT_ELIGIBLE: (
        "Based on your answers, at-home ketamine treatment is not the right fit for you.",
        "Please talk with your own doctor or a mental health professional about other "
        "treatment options.",
    ),
    AssessmentOutcome.NOT_SERVED: (
        "We are not yet serving patients in your state.",
        "Leave your email or phone number to hear from us when we do.",
    ),
    NEEDS_FULL_FORM: (
        "Please answer the full questionnaire so we can finish checking whether you may qualify.",
    ),
}
NOT_SERVED_MESSAGE: Final = "We do not yet serve patients in your state."


@dataclass(frozen=True)
class AssessmentAnswers:
    state: str
    date_of_birth: date
    conditions: Mapping[str, bool]  # every code in HARD_STOP_CONDITIONS: yes/no
    pregnant_or_breastfeeding: bool
    suicidal_intent_or_plan: bool
    phq2: Sequence[int] | None = None
    gad2: Sequence[int] | None = None
    phq9: Sequence[int] | None = None
    gad7: Sequence[int] | None = None


def self_harm_indicated(answers: AssessmentAnswers) -> bool:
    """Any answer of self-harm: PHQ-9 item 9 above 0, or current intent or plan."""
    phq9 = answers.phq9
    item9 = phq9[PHQ9_SELF_HARM_ITEM] if phq9 is not None and len(phq9) == len(PHQ9.items) else 0
    return answers.suicidal_intent_or_plan or item9 > 0


def raw_answers_show_self_harm(body: Any) -> bool:
    """self_harm_indicated() for a request body that failed validation: whatever else is
    wrong with it, an answer of current intent or plan, or an integer above 0 for PHQ-9
    item 9 (even out of range), must still put the crisis resources in front of the
    person."""
    if not isinstance(body, Mapping):
        return False
    if body.get("suicidal_intent_or_plan") is True:
        return True
    phq9 = body.get("phq9")
    if not isinstance(phq9, list) or len(phq9) != len(PHQ9.items):
        return False
    item9 = phq9[PHQ9_SELF_HARM_ITEM]
    return isinstance(item9, int) and not isinstance(item9, bool) and item9 > 0
