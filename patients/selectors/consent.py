"""Consent reads: the current document of each kind, a patient's signatures, and what the
patient has yet to sign (see patients.services.consent for the rules)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from patients.models import ConsentDocument, ConsentKind, ConsentSignature, Patient

KIND_ORDER: Final = tuple(ConsentKind.values)
# The consents that are conditions of treatment; the others are prompted for, never required.
CLINICAL_CONSENT_KINDS: Final = (ConsentKind.TREATMENT.value, ConsentKind.TELEHEALTH.value)


def _ordered(documents: Iterable[ConsentDocument]) -> list[ConsentDocument]:
    return sorted(documents, key=lambda d: KIND_ORDER.index(d.kind))


def _current(now: datetime | None = None) -> QuerySet[ConsentDocument]:
    return (
        ConsentDocument.objects.filter(published_at__lte=now or timezone.now())
        .order_by("kind", "-published_at", "-id")
        .distinct("kind")
    )


def consent_documents_current() -> list[ConsentDocument]:
    """The latest published version of each kind (one query), in KIND_ORDER."""
    return _ordered(_current())


def consent_document_current(kind: str) -> ConsentDocument | None:
    return (
        ConsentDocument.objects.filter(kind=kind, published_at__lte=timezone.now())
        .order_by("-published_at", "-id")
        .first()
    )


def signatures_of(
    patient: Patient, documents: Iterable[ConsentDocument]
) -> dict[int, ConsentSignature]:
    """The patient's signatures of `documents`, by document id."""
    signatures = ConsentSignature.objects.filter(
        patient=patient, document__in=list(documents)
    ).select_related("document")
    return {s.document_id: s for s in signatures}


def _unsigned_current(
    patient: Patient | OuterRef, now: datetime | None = None
) -> QuerySet[ConsentDocument]:
    """The current documents `patient` has not signed."""
    signed = ConsentSignature.objects.filter(patient=patient, document=OuterRef("pk"))
    current = _current(now).values("pk")
    return ConsentDocument.objects.filter(pk__in=current).exclude(Exists(signed))


def consents_outstanding(patient: Patient) -> list[str]:
    """The kinds whose current version `patient` has not signed (one query), in KIND_ORDER."""
    return [d.kind for d in _ordered(_unsigned_current(patient).only("kind"))]


def clinical_consents_outstanding(patient: Patient) -> list[str]:
    """The outstanding kinds that block clinical actions: treatment and telehealth only."""
    return [kind for kind in consents_outstanding(patient) if kind in CLINICAL_CONSENT_KINDS]


def clinical_consents_unsigned(now: datetime | None = None) -> ArraySubquery:
    """clinical_consents_outstanding of the annotated patient, as an annotation (the kinds
    in no order: `ordered_kinds` puts them in KIND_ORDER)."""
    unsigned = _unsigned_current(OuterRef(OuterRef("pk")), now)
    return ArraySubquery(unsigned.filter(kind__in=CLINICAL_CONSENT_KINDS).values("kind"))


def ordered_kinds(kinds: Iterable[str]) -> list[str]:
    return sorted(kinds, key=KIND_ORDER.index)
