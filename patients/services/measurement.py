"""Ongoing measurement, write side: PHQ-9/GAD-7 submissions (with the item-9 safety
flag), mood entries from the app and from SMS replies, and the due reminders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record, audit_write
from core.errors import ValidationFailed
from notifications.models import InboundSms
from notifications.services import message_schedule, messages_cancel
from patients.models import (
    Instrument,
    IntakeStatus,
    MoodEntry,
    Patient,
    QuestionnaireResponse,
    SafetyFlag,
)
from patients.scoring import Phq9Result, ScoringError, SeverityResult
from patients.selectors.measurement import SCORERS, patients_with_due_questionnaires
from patients.selectors.own_record import patient_of
from patients.services.safety import safety_flag_raise

MOOD_MIN, MOOD_MAX = 1, 10
# An identical response from the same patient within this many seconds is the same
# submission (a double click, a retried request): setting QUESTIONNAIRE_DEDUPE_SECONDS.
SELF_HARM_FLAG_KIND = "self_harm_thoughts"
QUESTIONNAIRE_PATH = "/questionnaires"


def reminder_dedupe_prefix(patient: Patient) -> str:
    return f"questionnaire:{patient.public_id}:"


def reminder_dedupe_key(patient: Patient, instruments: Sequence[str], due_on: date) -> str:
    """`questionnaire:<patient>:<instrument>:<due date>`; instruments due on the same day
    share one text, named `gad7+phq9`."""
    return f"{reminder_dedupe_prefix(patient)}{'+'.join(sorted(instruments))}:{due_on.isoformat()}"


# --- questionnaires ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submission:
    response: QuestionnaireResponse
    result: SeverityResult
    safety_flag: SafetyFlag | None

    @property
    def self_harm(self) -> bool:
        return self.safety_flag is not None


def _result_json(result: SeverityResult) -> dict[str, object]:
    stored: dict[str, object] = {
        "total": result.total,
        "band": result.band,
        "band_label": result.band_label,
    }
    if isinstance(result, Phq9Result):
        stored |= {"item9": result.item9, "self_harm_flag": result.self_harm_flag}
    return stored


@transaction.atomic
def questionnaire_submit(
    *, patient: Patient, instrument: str, answers: Sequence[int]
) -> Submission:
    """Score and store a PHQ-9 or GAD-7. Any answer above 0 on PHQ-9 item 9 raises an
    urgent safety flag (dosing and refills suspended until a physician resolves it) and
    alerts the physicians licensed in the patient's state.

    Invalid answers raise ValidationFailed naming `answers` or `answers.<0-based item>`.

    The patient's row is locked for the submission, so two identical submissions at once
    (a double click) are serialized: the same answers to the same instrument within
    `QUESTIONNAIRE_DEDUPE_SECONDS` (default 60) return the response already stored (and its
    flag) instead of storing a second response and raising a second flag."""
    code = Instrument(instrument)
    try:
        result = SCORERS[code](answers)
    except ScoringError as error:
        field = "answers" if error.index is None else f"answers.{error.index}"
        raise ValidationFailed(fields={field: [error.detail.capitalize() + "."]}) from error
    # Encrypted JSON fields (typed as text by the stubs).
    stored_answers: Any = list(result.answers)
    stored_result: Any = _result_json(result)
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk").get()
    duplicate = _recent_identical(patient, code, list(result.answers))
    if duplicate is not None:
        return duplicate
    response = QuestionnaireResponse.objects.create(
        patient=patient,
        instrument=code,
        instrument_version=result.version,
        answers=stored_answers,
        result=stored_result,
        source="followup",
    )
    audit_write(response, actor=patient.user, action=AuditAction.CREATE)
    flag = None
    if isinstance(result, Phq9Result) and result.self_harm_flag:
        flag = safety_flag_raise(
            patient=patient,
            kind=SELF_HARM_FLAG_KIND,
            source="questionnaire",
            source_id=response.public_id,
            actor=patient.user,
        )
    # Answered: a reminder still waiting (quiet hours) is moot. Whatever else is still due
    # is scheduled again by the next reminder run.
    messages_cancel(dedupe_prefix=reminder_dedupe_prefix(patient))
    return Submission(response, result, flag)


def _recent_identical(patient: Patient, instrument: str, answers: list[int]) -> Submission | None:
    """The patient's response with exactly these answers to `instrument` within the dedupe
    window, as a Submission with its flag; None when there is none. Answers are encrypted,
    so they are compared here, not in SQL. Call with the patient's row locked."""
    seconds = settings.QUESTIONNAIRE_DEDUPE_SECONDS
    since = timezone.now() - timedelta(seconds=seconds)
    recent = QuestionnaireResponse.objects.filter(
        patient=patient, instrument=instrument, submitted_at__gte=since
    ).order_by("-submitted_at", "-id")
    for response in recent:
        if list(response.answers) != answers:
            continue
        result = SCORERS[Instrument(instrument)](answers)
        flag = SafetyFlag.objects.filter(
            patient=patient, source="questionnaire", source_id=response.public_id
        ).first()
        response.patient = patient  # the caller's (locked) row: no query for the audit
        audit_write(
            response,
            actor=patient.user,
            action=AuditAction.READ,
            detail={"duplicate_submission": True},
        )
        return Submission(response, result, flag)
    return None


# --- mood ----------------------------------------------------------------------------------


@transaction.atomic
def mood_record(*, patient: Patient, score: int, source: str) -> MoodEntry:
    if isinstance(score, bool) or not MOOD_MIN <= score <= MOOD_MAX:
        raise ValidationFailed(fields={"score": [f"Enter a number from {MOOD_MIN} to {MOOD_MAX}."]})
    entry = MoodEntry.objects.create(patient=patient, score=str(score), source=source)
    audit_record(
        actor=patient.user,
        action=AuditAction.CREATE,
        object_type="patients.moodentry",
        object_id=str(entry.pk),
        patient_id=patient.public_id,
        detail={"source": source},
    )
    return entry


@transaction.atomic
def mood_score_update(*, entry: MoodEntry, score: int, actor: User | None) -> MoodEntry:
    """Change a mood entry's score (a second answer to the same question replaces the
    first); audited as an update of the entry. Same range as mood_record."""
    if isinstance(score, bool) or not MOOD_MIN <= score <= MOOD_MAX:
        raise ValidationFailed(fields={"score": [f"Enter a number from {MOOD_MIN} to {MOOD_MAX}."]})
    entry.score = str(score)
    entry.save(update_fields=["score"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="patients.moodentry",
        object_id=str(entry.pk),
        patient_id=entry.patient.public_id,
        detail={"source": entry.source},
    )
    return entry


_MOOD_REPLY = re.compile(r"(10|0?[1-9])\.?")


def mood_reply_parse(body: str) -> int | None:
    """The one reading of a mood texted back: a reply that is just a number from 1 to 10
    ("7", " 10 ", "3.", "07"); None for anything else ("0", "11", "7/10", "feeling good")."""
    match = _MOOD_REPLY.fullmatch(body.strip())
    return None if match is None else int(match.group(1))


def mood_reply_handle(user: User, body: str, inbound: InboundSms) -> bool:
    """SMS reply handler (registered in PatientsConfig.ready): a reply that is just a
    number from 1 to 10, from a patient in care (an approved intake: the only patients the
    check-in follow-up asks), is their mood. Anything else is left for other handlers.
    A reply to an open visit follow-up is claimed first by scheduling's handler, which
    links the entry to the visit."""
    score = mood_reply_parse(body)
    if score is None:
        return False
    patient = patient_of(user)
    if patient is None or not patient.intakes.filter(status=IntakeStatus.APPROVED).exists():
        return False
    mood_record(patient=patient, score=score, source="sms")
    return True


# --- reminders -----------------------------------------------------------------------------


def questionnaire_reminders_schedule(*, now: datetime | None = None) -> int:
    """One "questionnaire_due" text per patient in care and due date: instruments due on
    the same day share it. The dedupe key carries the due date, so running this again (or
    twice at once) schedules nothing new. Returns how many reminders were looked at."""
    count = 0
    for patient, due in patients_with_due_questionnaires(now=now):
        by_date: dict[date, list[str]] = {}
        for item in due:
            assert item.due_on is not None
            by_date.setdefault(item.due_on, []).append(item.instrument)
        for due_on, instruments in sorted(by_date.items()):
            message_schedule(
                recipient=patient.user,
                template_key="questionnaire_due",
                category="care",
                channel="sms",
                dedupe_key=reminder_dedupe_key(patient, instruments, due_on),
                context={"path": QUESTIONNAIRE_PATH},
            )
            count += 1
    return count
