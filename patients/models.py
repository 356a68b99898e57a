from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import PhysicianProfile, State
from core.crypto import EncryptedDateField, EncryptedJSONField, EncryptedTextField
from core.phones import phone_lookup_hash


class SexAtBirth(models.TextChoices):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"


class Patient(models.Model):
    """The patient's record. Contact and personal fields are encrypted at rest; state,
    county and time zone stay plain because routing (licensed physicians, pharmacies)
    and quiet hours query them."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patient"
    )
    legal_first_name = EncryptedTextField(blank=True)
    legal_last_name = EncryptedTextField(blank=True)
    date_of_birth = EncryptedDateField(null=True, blank=True)
    sex_at_birth = EncryptedTextField(blank=True)
    phone = EncryptedTextField(blank=True)  # E.164
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # When the patient proved they hold `phone` (an SMS code); care texts wait for it.
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    address_line1 = EncryptedTextField(blank=True)
    address_line2 = EncryptedTextField(blank=True)
    city = EncryptedTextField(blank=True)
    zip_code = EncryptedTextField(blank=True)
    state = models.CharField(max_length=2, choices=State.choices)
    county = models.CharField(max_length=64)
    time_zone = models.CharField(max_length=64)
    emergency_contact_name = EncryptedTextField(blank=True)
    emergency_contact_phone = EncryptedTextField(blank=True)
    sitter_name = EncryptedTextField(blank=True)
    sitter_phone = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"patient {self.public_id}"

    def set_phone(self, phone: str) -> None:
        self.phone = phone
        self.phone_hash = phone_lookup_hash(phone) if phone else ""

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.public_id


class PhoneVerification(models.Model):
    """The code last sent to a patient's phone, as a keyed hash only: a new send replaces
    it. It proves `phone_hash` (the number it went to) and expires."""

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, related_name="phone_verification"
    )
    phone_hash = models.CharField(max_length=64)
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"phone verification of {self.patient_id}"


# --- free assessment ("see if you qualify") --------------------------------------------


class AssessmentOutcome(models.TextChoices):
    LIKELY_ELIGIBLE = "likely_eligible"
    NOT_ELIGIBLE = "not_eligible"
    NEEDS_REVIEW = "needs_review"
    NOT_SERVED = "not_served"  # outside FL and NJ


class Assessment(models.Model):
    """An anonymous assessment: the outcome only (for conversion figures). No answer and no
    clinical reason code is kept; `urgent_safety` (an answer of self-harm) is the one bit
    a later claim needs to open a safety flag for a physician. Nothing identifies the
    person unless they leave a lead (with marketing consent) or a later registration
    claims it with its claim token.

    Since a lead or a claim links the row to a person, the outcome is encrypted (figures
    decrypt it in Python; nothing filters or counts it in SQL), and `urgent_safety` is
    cleared by the claim once its safety flag exists (assessment_claim)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=2)
    outcome = EncryptedTextField(choices=AssessmentOutcome.choices)
    ruleset_version = models.CharField(max_length=32)
    urgent_safety = models.BooleanField(default=False)
    claim_token_hash = models.CharField(max_length=64, unique=True)
    claimed_by = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="assessments"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"assessment {self.public_id} ({self.outcome})"

    @property
    def audit_patient_id(self) -> uuid.UUID | None:
        """The claiming patient; None while the assessment is anonymous."""
        return self.claimed_by.public_id if self.claimed_by is not None else None


class Lead(models.Model):
    """ "Stay informed": contact details kept only with explicit marketing consent. The
    lead carries contact and consent only; its assessment holds no answers."""

    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="lead")
    email = EncryptedTextField(blank=True)
    phone = EncryptedTextField(blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    consent_at = models.DateTimeField()
    consent_source = models.CharField(max_length=32)
    consent_wording = models.TextField()

    def __str__(self) -> str:
        return f"lead for {self.assessment_id}"


# --- consent ---------------------------------------------------------------------------


class ConsentKind(models.TextChoices):
    TREATMENT = "treatment"
    TELEHEALTH = "telehealth"
    SMS = "sms"
    PRIVACY = "privacy"
    # The acknowledgement that compounded ketamine is not FDA approved (the FDA's
    # warnings), needed before the first prescription.
    COMPOUNDED_MEDICATION = "compounded_medication"


class ConsentDocument(models.Model):
    """One published version of a consent text. Never edited: publish a new version."""

    kind = models.CharField(max_length=32, choices=ConsentKind.choices)
    version = models.CharField(max_length=32)
    title = models.CharField(max_length=200)
    body = models.TextField()
    body_sha256 = models.CharField(max_length=64)
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="one_document_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version}"


class ConsentSignature(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="signatures")
    document = models.ForeignKey(
        ConsentDocument, on_delete=models.PROTECT, related_name="signatures"
    )
    typed_name = EncryptedTextField()
    signed_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    document_sha256 = models.CharField(max_length=64)  # the exact text that was signed

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "document"], name="sign_each_version_once"),
        ]

    def __str__(self) -> str:
        return f"signature {self.pk}"


# --- intake and physician review --------------------------------------------------------


class IntakeStatus(models.TextChoices):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    INFO_REQUESTED = "info_requested"
    APPROVED = "approved"
    DECLINED = "declined"


OPEN_INTAKE_STATUSES = (IntakeStatus.DRAFT, IntakeStatus.SUBMITTED, IntakeStatus.INFO_REQUESTED)


class Intake(models.Model):
    """A patient's answers to one version of the intake questionnaire, and what came of them.

    `answers` and `screening` (scores, rule-set decision and every reason) are encrypted;
    `ruleset_version` stays plain so an old intake can be re-run against its own rules.
    `screening_outcome` is the screening's outcome alone, encrypted on its own and written
    with the screening (services.intake), so that the review queue shows it without
    decrypting the whole document (1-2 KB) of every row."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="intakes")
    questionnaire_version = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=IntakeStatus.choices, default=IntakeStatus.DRAFT
    )
    answers = EncryptedJSONField(default=dict)
    screening = EncryptedJSONField(null=True, blank=True)
    screening_outcome = EncryptedTextField(null=True, blank=True)  # screening["outcome"]
    ruleset_version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status__in=["draft", "submitted", "info_requested"]),
                name="one_open_intake_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"intake {self.public_id} ({self.status})"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class ReviewAction(models.TextChoices):
    APPROVE = "approve"
    DECLINE = "decline"
    REQUEST_INFO = "request_info"


class IntakeReview(models.Model):
    """Each physician decision on an intake; a request for information holds the question
    and, once given, the patient's answer."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    intake = models.ForeignKey(Intake, on_delete=models.PROTECT, related_name="reviews")
    physician = models.ForeignKey(PhysicianProfile, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=ReviewAction.choices)
    note = EncryptedTextField(blank=True)  # decline reason or question for the patient
    patient_answer = EncryptedTextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.action} on {self.intake_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.intake.patient.public_id


class SafetyFlag(models.Model):
    """An urgent safety concern (thoughts of self-harm, suicidal intent) for a physician.
    While one is open, dosing and refills are suspended (patient_clearance)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="safety_flags")
    kind = EncryptedTextField()  # a screening reason code (clinical: encrypted, never filtered)
    source = models.CharField(max_length=32)  # intake, questionnaire, assessment
    source_id = models.UUIDField(null=True, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = EncryptedTextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["patient"],
                name="open_safety_flag_idx",
                condition=models.Q(resolved_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"safety flag {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


# --- ongoing measurement ----------------------------------------------------------------


class Instrument(models.TextChoices):
    PHQ9 = "phq9", "PHQ-9"
    GAD7 = "gad7", "GAD-7"


class QuestionnaireResponse(models.Model):
    """A completed PHQ-9 or GAD-7; `result` holds total, band and flags (encrypted)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="questionnaires")
    instrument = models.CharField(max_length=8, choices=Instrument.choices)
    instrument_version = models.CharField(max_length=32)
    answers = EncryptedJSONField()
    result = EncryptedJSONField()
    source = models.CharField(max_length=16)  # intake, followup
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["patient", "instrument", "submitted_at"], name="questionnaire_trend_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class MoodEntry(models.Model):
    """Patient-reported mood, 1 (worst) to 10 (best), from the app or an SMS reply."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="moods")
    score = EncryptedTextField()
    source = models.CharField(max_length=16)  # app, sms
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"mood {self.pk}"
