"""Consent documents and signatures.

A document (`ConsentDocument`) is one published version of one kind; it is never edited.
The current document of a kind is the one published most recently (a version published
with a future `published_at` becomes current at that moment). Publishing a new version
makes that kind outstanding again for every patient (`consents_outstanding` in
patients.selectors.consent lists every kind, for prompting). Only the treatment and
telehealth consents are conditions of care (`CLINICAL_CONSENT_KINDS`): `consent_required`
enforces them before clinical actions (booking a check-in, signing a prescription, a
refill) and `patients.clearance.patient_clearance` reports them. A privacy-notice acknowledgment or
SMS consent can never be a condition of treatment.

`consent_document_publish` publishes a new version (never an edit of an existing one).

Signing records the typed name (it must be the patient's legal first and last name),
the time, the IP address and user agent of the request, and the SHA-256 of the exact
text signed. Signing the same version again changes nothing.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import context
from audit.models import AuditAction
from audit.services import audit_record
from core.errors import Conflict, NotFound, ValidationFailed
from notifications.models import CONSENT_CATEGORIES, Channel
from notifications.services import ConsentChange, consents_set
from patients.models import ConsentDocument, ConsentKind, ConsentSignature, Patient
from patients.selectors.consent import (
    KIND_ORDER,
    clinical_consents_outstanding,
    consent_document_current,
)

SMS_CONSENT_SOURCE: Final = "intake"
SMS_CATEGORIES: Final = tuple(c.value for c in CONSENT_CATEGORIES)


class ConsentRequired(Conflict):
    """409 `consent_required`: the patient must sign the current version of `kinds` first.
    The kinds are also in `fields["consents"]` of the error body."""

    code = "consent_required"

    def __init__(self, kinds: Iterable[str]) -> None:
        self.kinds = list(kinds)
        super().__init__(
            "Please review and sign the current version of: " + ", ".join(self.kinds) + ".",
            fields={"consents": self.kinds},
        )


def body_sha256(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def consent_required(patient: Patient) -> None:
    """Raise `ConsentRequired` (409 `consent_required`, listing the kinds) when the current
    treatment or telehealth consent is unsigned. Booking, prescribing and refills call this
    before acting. SMS consent and the privacy notice never block care."""
    if outstanding := clinical_consents_outstanding(patient):
        raise ConsentRequired(outstanding)


def consent_document_publish(
    *,
    kind: str,
    version: str,
    title: str,
    body: str,
    published_at: datetime | None = None,
) -> ConsentDocument:
    """Publish a new version of a consent document, with the SHA-256 of its exact text.
    Once current (at `published_at`, default now) every patient must sign it again.

    An unknown kind, or an empty version, title or body: ValidationFailed naming the field.
    A kind and version already published: 409 `consent_version_exists` (a published text
    is never edited; publish a new version)."""
    errors: dict[str, list[str]] = {}
    if kind not in KIND_ORDER:
        errors["kind"] = [f"Unknown consent kind; one of: {', '.join(KIND_ORDER)}."]
    for name, value in (("version", version), ("title", title), ("body", body)):
        if not value or not value.strip():
            errors[name] = ["This field may not be blank."]
    if errors:
        raise ValidationFailed(fields=errors)
    with transaction.atomic():
        if ConsentDocument.objects.filter(kind=kind, version=version).exists():
            raise _version_exists(kind, version)
        try:
            with transaction.atomic():
                document = ConsentDocument.objects.create(
                    kind=kind,
                    version=version,
                    title=title,
                    body=body,
                    body_sha256=body_sha256(body),
                    published_at=published_at or timezone.now(),
                )
        except IntegrityError:  # published concurrently
            raise _version_exists(kind, version) from None
        audit_record(
            actor=None,
            action=AuditAction.CREATE,
            object_type="patients.consentdocument",
            object_id=f"{kind}:{version}",
            detail={"kind": kind, "version": version},
        )
    return document


def _version_exists(kind: str, version: str) -> Conflict:
    return Conflict(
        f"Version {version} of the {kind} consent is already published; publish a new version.",
        code="consent_version_exists",
        fields={"version": ["This version is already published."]},
    )


def _normalized_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _name_matches(patient: Patient, typed_name: str) -> bool:
    legal = _normalized_name(f"{patient.legal_first_name} {patient.legal_last_name}")
    return bool(legal) and _normalized_name(typed_name) == legal


def consent_document_to_sign(*, kind: str, version: str) -> ConsentDocument:
    """The document a patient asks to sign: 404 for an unknown kind, 409
    `consent_version_stale` (naming the current version) for any version but the current."""
    if kind not in KIND_ORDER:
        raise NotFound("No such consent document.", code="consent_not_found")
    current = consent_document_current(kind)
    if current is None:
        raise NotFound("No such consent document.", code="consent_not_found")
    if current.version != version:
        raise _stale(current)
    return current


def _stale(current: ConsentDocument) -> Conflict:
    return Conflict(
        f"This is not the current version of this document; please read and sign "
        f"version {current.version}.",
        code="consent_version_stale",
        fields={"version": [f"The current version is {current.version}."]},
    )


@transaction.atomic
def consent_sign(
    *,
    patient: Patient,
    document: ConsentDocument,
    typed_name: str,
    sms_categories: Collection[str] | None = None,
) -> ConsentSignature:
    """Sign `document` (which must be the current version of its kind) as `patient`.

    The typed name must be the patient's legal first and last name (any case, any
    spacing). For the SMS document, `sms_categories` (any of care, billing, marketing;
    possibly none) is required: each category is recorded as granted or not through
    notifications (channel sms, source "intake"). Signing a version already signed
    returns that signature and records nothing again (the repeat is audited as a read)."""
    errors = _sign_errors(patient, document, typed_name, sms_categories)
    if errors:
        raise ValidationFailed(fields=errors)
    current = consent_document_current(document.kind)
    if current is None or current.pk != document.pk:
        raise _stale(current or document)
    if body_sha256(document.body) != document.body_sha256:
        # The text differs from what was published: never record a signature of it.
        raise Conflict("This document cannot be signed right now.", code="consent_document_altered")
    ctx = context.current()
    signature, created = ConsentSignature.objects.get_or_create(
        patient=patient,
        document=document,
        defaults={
            "typed_name": typed_name.strip(),
            "signed_at": timezone.now(),
            "ip": ctx.ip,
            "user_agent": ctx.user_agent[:512],
            "document_sha256": document.body_sha256,
        },
    )
    audit_record(
        actor=patient.user,
        action=AuditAction.CREATE if created else AuditAction.READ,
        object_type="patients.consentsignature",
        object_id=f"{document.kind}:{document.version}",
        patient_id=patient.public_id,
        detail={"kind": document.kind, "version": document.version},
    )
    if created and document.kind == ConsentKind.SMS and sms_categories is not None:
        chosen = set(sms_categories)
        consents_set(
            user=patient.user,
            changes=[
                ConsentChange(category=c, channel=Channel.SMS, granted=c in chosen)
                for c in SMS_CATEGORIES
            ],
            source=SMS_CONSENT_SOURCE,
        )
    return signature


def _sign_errors(
    patient: Patient,
    document: ConsentDocument,
    typed_name: str,
    sms_categories: Collection[str] | None,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not _name_matches(patient, typed_name):
        errors["typed_name"] = ["Type your legal first and last name as they are on your record."]
    if document.kind == ConsentKind.SMS:
        if sms_categories is None:
            errors["sms_categories"] = [
                "Choose the kinds of texts you agree to receive (the list may be empty)."
            ]
        elif unknown := sorted(set(sms_categories) - set(SMS_CATEGORIES)):
            errors["sms_categories"] = [f"Unknown category: {', '.join(unknown)}."]
    elif sms_categories is not None:
        errors["sms_categories"] = ["Only for the SMS consent."]
    return errors
