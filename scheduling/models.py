"""Availability, appointments and the check-in cadence. Times are UTC in the database;
weekly rules and date overrides are wall-clock times in the physician's own zone."""

from __future__ import annotations

import uuid

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import Func, Q
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from core.crypto import EncryptedTextField
from patients.models import Patient


class AppointmentKind(models.TextChoices):
    """Durations, and which gates each kind asks, are settings (APPOINTMENT_MINUTES)."""

    CONSULTATION = "consultation"  # the free initial consultation
    CHECK_IN = "check_in"
    FOLLOW_UP = "follow_up"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELED = "canceled"


# Appointments that hold their time: the exclusion constraints cover only these.
ACTIVE_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.IN_PROGRESS)


class PhysicianSchedule(models.Model):
    """How a physician is booked and shown to patients. The public profile (name, title,
    board certification, languages, bio, photo) is what patients see before booking;
    New Jersey wants identity, license number and board certification disclosed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    physician = models.OneToOneField(
        PhysicianProfile, on_delete=models.CASCADE, related_name="schedule"
    )
    time_zone = models.CharField(max_length=64, default="America/New_York")
    buffer_minutes = models.PositiveSmallIntegerField(default=10)
    title = models.CharField(max_length=100, blank=True)  # "MD, Psychiatrist"
    board_certification = models.CharField(max_length=200, blank=True)
    languages = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    bio = models.TextField(blank=True)
    photo_url = models.URLField(blank=True)
    # The personal iCal feed's secret is shown once; only its keyed hash is kept, and a
    # new one replaces it (the old URL stops working).
    ical_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    ical_token_created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"schedule of physician {self.physician_id}"


class PhysicianAvailability(PhysicianProfile):
    """A physician as the Django admin shows their availability: schedule, weekly rules and
    date overrides inline on one page (the rules point at the physician, not the schedule)."""

    class Meta:
        proxy = True
        verbose_name = "physician availability"
        verbose_name_plural = "physician availability"


class WeeklyAvailability(models.Model):
    """A recurring window, wall-clock in the physician's zone; weekday 0 is Monday."""

    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.CASCADE, related_name="weekly_availability"
    )
    weekday = models.PositiveSmallIntegerField()
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ("weekday", "start_time")
        indexes = [
            # The slot search reads each candidate's rules from the index alone.
            models.Index(
                fields=["physician"],
                include=["weekday", "start_time", "end_time"],
                name="weekly_hours_by_physician",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="weekday_0_to_6"),
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")), name="weekly_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"weekday {self.weekday} {self.start_time}-{self.end_time}"


class OverrideKind(models.TextChoices):
    TIME_OFF = "time_off"
    EXTRA_HOURS = "extra_hours"


class AvailabilityOverride(models.Model):
    """One date, wall-clock in the physician's zone: time off (no times: the whole day)
    or extra hours."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.CASCADE, related_name="availability_overrides"
    )
    date = models.DateField()
    kind = models.CharField(max_length=16, choices=OverrideKind.choices)
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)

    class Meta:
        ordering = ("date", "start_time")
        indexes = [models.Index(fields=["physician", "date"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(start_time__isnull=True) & Q(end_time__isnull=True))
                | Q(end_time__gt=models.F("start_time")),
                name="override_whole_day_or_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(kind=OverrideKind.TIME_OFF) | Q(start_time__isnull=False),
                name="extra_hours_have_times",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.date}"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Appointment(models.Model):
    """A booked visit. `blocked_until` is the end plus the physician's buffer at booking:
    the physician's exclusion constraint covers [starts_at, blocked_until), so neither a
    double booking nor a visit inside another's buffer can ever be stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.PROTECT, related_name="appointments"
    )
    kind = models.CharField(max_length=16, choices=AppointmentKind.choices)
    status = models.CharField(
        max_length=16, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    blocked_until = models.DateTimeField()
    booked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The appointment this one replaced when rescheduled (the old one is canceled).
    rescheduled_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rescheduled_to"
    )

    canceled_at = models.DateTimeField(null=True, blank=True)
    canceled_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = EncryptedTextField(blank=True)
    late_cancellation = models.BooleanField(default=False)

    # The video room, made by VIDEO_BACKEND when first needed.
    video_room_name = models.CharField(max_length=128, blank=True)
    video_room_url = EncryptedTextField(blank=True)

    started_at = models.DateTimeField(null=True, blank=True)
    # Where the patient says they are at the start of the visit (any US state code): a
    # visit outside FL or NJ can be held but cannot lead to a prescription.
    confirmed_state = models.CharField(max_length=2, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    video_visit = models.BooleanField(default=False)
    standard_of_care_attested = models.BooleanField(default=False)
    visit_note = EncryptedTextField(blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["physician", "starts_at"]),
            # The slot search's busy ranges, read from the index alone (no heap, no sort).
            models.Index(
                fields=["physician", "starts_at"],
                include=["blocked_until"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="appointment_busy_ranges",
            ),
            models.Index(fields=["patient", "starts_at"]),
            models.Index(fields=["status", "ends_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at"))
                & Q(blocked_until__gte=models.F("ends_at")),
                name="appointment_times_ordered",
            ),
            ExclusionConstraint(
                name="no_physician_double_booking",
                expressions=[
                    (TsTzRange("starts_at", "blocked_until"), RangeOperators.OVERLAPS),
                    ("physician", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=ACTIVE_STATUSES),
            ),
            ExclusionConstraint(
                name="no_patient_double_booking",
                expressions=[
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                    ("patient", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=ACTIVE_STATUSES),
            ),
            # One upcoming appointment per patient per kind.
            models.UniqueConstraint(
                fields=["patient", "kind"],
                condition=Q(status=AppointmentStatus.BOOKED),
                name="one_upcoming_appointment_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"appointment {self.public_id}"

    @property
    def app_path(self) -> str:
        """Where the visit opens in the patient app (message and calendar links)."""
        return f"/appointments/{self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class CheckInCadence(models.Model):
    """How often the physician wants to see the patient (default CHECK_IN_INTERVAL_DAYS).
    The one "time to book" nudge per due date is kept single by its message's dedupe key."""

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, related_name="check_in_cadence"
    )
    interval_days = models.PositiveSmallIntegerField()
    set_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_days__gte=1, interval_days__lte=365),
                name="cadence_interval_1_to_365",
            )
        ]

    def __str__(self) -> str:
        return f"cadence of patient {self.patient_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class VisitFollowUp(models.Model):
    """The day-after "how are you feeling" text for a completed check-in, and the mood
    entry the patient's reply became (a second reply replaces the score)."""

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="follow_up"
    )
    asked_at = models.DateTimeField()
    mood_entry = models.OneToOneField(
        "patients.MoodEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    help_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"follow-up of appointment {self.appointment_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.appointment.patient.public_id
