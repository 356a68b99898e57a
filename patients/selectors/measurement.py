"""Ongoing measurement, read side: when PHQ-9 and GAD-7 are due, and the trend of scores
and mood over time.

A questionnaire is due `QUESTIONNAIRE_INTERVAL_DAYS` (default 28) days after the patient
last answered it, counted in the patient's own calendar: answered on the 1st, due on the
29th. The last answer is the latest of a `QuestionnaireResponse` of that instrument and the
latest submitted intake (which contains both questionnaires).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import Role, User
from core.errors import NotFound
from patients.models import (
    Instrument,
    Intake,
    IntakeStatus,
    MoodEntry,
    Patient,
    QuestionnaireResponse,
)
from patients.scoring import ScoringError, SeverityResult, score_gad7, score_phq9
from patients.selectors.record import patients_visible_to

INSTRUMENTS: tuple[str, ...] = (Instrument.PHQ9, Instrument.GAD7)
SCORERS: dict[str, Callable[[Sequence[int]], SeverityResult]] = {
    Instrument.PHQ9: score_phq9,
    Instrument.GAD7: score_gad7,
}

# An intake counts as an answer to both questionnaires once it has been submitted,
# whatever the physician later decided.
_ANSWERED_INTAKE = Q(submitted_at__isnull=False) & ~Q(status=IntakeStatus.DRAFT)


def interval_days() -> int:
    return int(settings.QUESTIONNAIRE_INTERVAL_DAYS)


def grace_days() -> int:
    return int(settings.QUESTIONNAIRE_GRACE_DAYS)


def patient_zone(patient: Patient) -> ZoneInfo:
    try:
        return ZoneInfo(patient.time_zone or settings.PRACTICE_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.PRACTICE_TIME_ZONE)


# --- due --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstrumentDue:
    instrument: str
    last_submitted_at: datetime | None  # None: never answered (no intake either)
    due_on: date | None  # the patient's local date; None when never answered
    due: bool
    days_overdue: int  # days since due_on; 0 when not due or never answered

    @property
    def overdue_past_grace(self) -> bool:
        return self.days_overdue > grace_days()


def _last_response(instrument: str) -> Subquery:
    return Subquery(
        QuestionnaireResponse.objects.filter(patient=OuterRef("pk"), instrument=instrument)
        .order_by("-submitted_at")
        .values("submitted_at")[:1]
    )


def with_last_answers(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotate each patient with when they last answered each instrument (one query);
    `schedule_of` reads the annotated patient."""
    latest_intake = (
        Intake.objects.filter(_ANSWERED_INTAKE, patient=OuterRef("pk"))
        .order_by("-submitted_at")
        .values("submitted_at")[:1]
    )
    return patients.annotate(
        last_intake_at=Subquery(latest_intake),
        **{f"last_{code}_at": _last_response(code) for code in INSTRUMENTS},
    )


def schedule_of(patient: Patient, now: datetime) -> list[InstrumentDue]:
    zone = patient_zone(patient)
    today = timezone.localdate(now, timezone=zone)
    intake_at: datetime | None = getattr(patient, "last_intake_at", None)
    result = []
    for code in INSTRUMENTS:
        response_at: datetime | None = getattr(patient, f"last_{code}_at", None)
        last = max((t for t in (response_at, intake_at) if t is not None), default=None)
        if last is None:
            result.append(InstrumentDue(code, None, None, due=True, days_overdue=0))
            continue
        due_on = timezone.localdate(last, timezone=zone) + timedelta(days=interval_days())
        result.append(
            InstrumentDue(
                code,
                last,
                due_on,
                due=today >= due_on,
                days_overdue=max((today - due_on).days, 0),
            )
        )
    return result


def questionnaire_schedule(patient: Patient, *, now: datetime | None = None) -> list[InstrumentDue]:
    """For each of PHQ-9 and GAD-7: when it was last answered, when it is due, and whether
    it is due now."""
    # Only the zone of the row: the encrypted columns are not decrypted again.
    annotated = with_last_answers(Patient.objects.filter(pk=patient.pk).only("time_zone")).get()
    return schedule_of(annotated, now or timezone.now())


def patients_with_due_questionnaires(
    *, now: datetime | None = None, chunk_size: int = 500
) -> Iterator[tuple[Patient, list[InstrumentDue]]]:
    """Patients in care (latest intake approved) with at least one questionnaire due, and
    the instruments that are. Reads `chunk_size` patients per query."""
    now = now or timezone.now()
    latest_status = (
        Intake.objects.filter(patient=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("status")
    )
    # A coarse filter in SQL (the exact due date is the patient's local calendar, below):
    # nobody who answered within the last interval less two days (time zones, daylight
    # saving) can be due. PostgreSQL's GREATEST ignores NULLs.
    horizon = now - timedelta(days=interval_days() - 2)
    candidates = (
        with_last_answers(
            Patient.objects.annotate(latest_intake_status=Subquery(latest_status[:1])).filter(
                latest_intake_status=IntakeStatus.APPROVED
            )
        )
        .annotate(
            **{
                f"answered_{code}_at": Greatest(f"last_{code}_at", "last_intake_at")
                for code in INSTRUMENTS
            }
        )
        .filter(
            Q(answered_phq9_at__isnull=True)
            | Q(answered_phq9_at__lt=horizon)
            | Q(answered_gad7_at__isnull=True)
            | Q(answered_gad7_at__lt=horizon)
        )
        .select_related("user")
        .order_by("pk")
    )
    # Keyset pages rather than a server-side cursor: callers write between pages.
    last_pk = 0
    while True:
        batch = list(candidates.filter(pk__gt=last_pk)[:chunk_size])
        for patient in batch:
            due = [i for i in schedule_of(patient, now) if i.due and i.due_on is not None]
            if due:
                yield patient, due
        if len(batch) < chunk_size:
            return
        last_pk = batch[-1].pk


# --- who may see measurements ------------------------------------------------------------


def clinical_patient_visible_to(viewer: User, public_id: uuid.UUID | str) -> Patient:
    """A patient whose clinical data `viewer` may see: the patient themself or a physician
    licensed in their state. Operations staff see contact details, never clinical data:
    for them, as for anyone else, the patient does not exist."""
    if viewer.role not in (Role.PATIENT, Role.PHYSICIAN):
        raise NotFound("No such patient.")
    patient = patients_visible_to(viewer).filter(public_id=public_id).first()
    if patient is None:
        raise NotFound("No such patient.")
    return patient


# --- trend ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    id: uuid.UUID  # the response's public id, or the intake's for source "intake"
    submitted_at: datetime
    total: int
    band: str
    band_label: str
    source: str


@dataclass(frozen=True, slots=True)
class InstrumentTrend:
    instrument: str
    name: str
    series: list[TrendPoint]

    @property
    def baseline(self) -> int | None:
        return self.series[0].total if self.series else None

    @property
    def latest(self) -> int | None:
        return self.series[-1].total if self.series else None

    @property
    def latest_band(self) -> str | None:
        return self.series[-1].band if self.series else None

    @property
    def change_since_baseline(self) -> int | None:
        """Latest minus baseline: negative means fewer symptoms."""
        if self.latest is None or self.baseline is None:
            return None
        return self.latest - self.baseline


@dataclass(frozen=True, slots=True)
class MoodPoint:
    recorded_at: datetime
    score: int
    source: str


@dataclass(frozen=True, slots=True)
class Trend:
    patient: Patient
    instruments: list[InstrumentTrend]
    mood: list[MoodPoint]
    # What was read, for the audit trail.
    responses: list[QuestionnaireResponse]
    intakes: list[Intake]


def _intake_point(intake: Intake, code: str) -> TrendPoint | None:
    """An intake's own PHQ-9 or GAD-7, scored with the current scoring (deterministic),
    from `answers[code]`; None when the intake has no valid answers for it."""
    document: Any = intake.answers  # encrypted JSON, typed as text by the stubs
    answers = document.get(code) if isinstance(document, dict) else None
    if answers is None or intake.submitted_at is None:
        return None
    try:
        result = SCORERS[code](answers)
    except ScoringError:
        return None
    return TrendPoint(
        intake.public_id,
        intake.submitted_at,
        result.total,
        result.band,
        result.band_label,
        "intake",
    )


def _response_point(response: QuestionnaireResponse) -> TrendPoint:
    result: Any = response.result  # encrypted JSON, typed as text by the stubs
    return TrendPoint(
        response.public_id,
        response.submitted_at,
        int(result["total"]),
        str(result["band"]),
        str(result.get("band_label", "")),
        response.source,
    )


def patient_trend(patient: Patient) -> Trend:
    """Every PHQ-9 and GAD-7 (intakes included) and every mood entry, oldest first.
    Three queries whatever the history's length."""
    responses = list(
        QuestionnaireResponse.objects.filter(patient=patient, instrument__in=INSTRUMENTS).order_by(
            "submitted_at", "id"
        )
    )
    intakes = list(
        Intake.objects.filter(_ANSWERED_INTAKE, patient=patient).order_by("submitted_at", "id")
    )
    instruments = []
    for code in INSTRUMENTS:
        points = [_response_point(r) for r in responses if r.instrument == code]
        points += [p for i in intakes if (p := _intake_point(i, code)) is not None]
        points.sort(key=lambda p: p.submitted_at)
        instruments.append(InstrumentTrend(code, Instrument(code).label, points))
    mood = [
        MoodPoint(entry.recorded_at, int(entry.score), entry.source)
        for entry in MoodEntry.objects.filter(patient=patient).order_by("recorded_at", "id")
    ]
    return Trend(patient, instruments, mood, responses, intakes)
