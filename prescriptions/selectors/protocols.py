"""Dosing protocols: a patient's current one (at most one: `ended_at` null) and its
dose-change history, and the active catalog physicians choose from."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from patients.models import Patient
from prescriptions.models import DoseChange, DosingProtocol, Medication


def protocol_current(patient: Patient) -> DosingProtocol | None:
    """The patient's current protocol with its medication and physician, or None."""
    return (
        DosingProtocol.objects.filter(patient=patient, ended_at__isnull=True)
        .select_related("medication", "physician", "patient")
        .first()
    )


def protocol_current_with_changes(patient: Patient) -> DosingProtocol | None:
    """protocol_current with `changes` prefetched, newest first (with their visit and who
    made them): two queries."""
    changes = DoseChange.objects.select_related("visit", "changed_by").order_by(
        "-changed_at", "-id"
    )
    return (
        DosingProtocol.objects.filter(patient=patient, ended_at__isnull=True)
        .select_related("medication", "physician", "patient")
        .prefetch_related(Prefetch("changes", queryset=changes))
        .first()
    )


def medications_active() -> QuerySet[Medication]:
    """The formulations a physician may prescribe now, by drug, form and strength."""
    return Medication.objects.filter(active=True).order_by("name", "dosage_form", "strength_mg")
