"""Patient records as their viewers may see them, and the notifications contact directory
over them."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import Role, User
from accounts.selectors import licensed_states
from core.errors import NotFound
from core.phones import phone_lookup_hash
from notifications.directory import Contact
from patients.models import Patient


class PatientContactDirectory:
    """The notifications contact directory over patient records (registered in
    PatientsConfig.ready): a patient's phone and zone; staff get their account email.
    A phone whose ownership is not proven is only an `unverified_phone`: care texts to
    it stop at the dispatcher, the verification code goes out."""

    def contacts_for_users(self, user_ids: list[int]) -> dict[int, Contact]:
        users = User.objects.filter(pk__in=user_ids).select_related("patient")
        contacts = {}
        for user in users:
            patient: Patient | None = getattr(user, "patient", None)
            phone = patient.phone if patient else ""
            verified = patient is not None and patient.phone_verified_at is not None
            contacts[user.pk] = Contact(
                user_id=user.pk,
                email=user.email,
                phone=phone if verified else "",
                time_zone=patient.time_zone or None if patient else None,
                unverified_phone="" if verified else phone,
            )
        return contacts

    def user_ids_for_phone(self, phone: str) -> list[int]:
        """Found by keyed hash: phones are encrypted."""
        matches = Patient.objects.filter(phone_hash=phone_lookup_hash(phone))
        return list(matches.values_list("user_id", flat=True))

    def patient_ids_for_users(self, user_ids: list[int]) -> dict[int, uuid.UUID]:
        """Patients' public ids by user, in one query; staff are absent."""
        rows = Patient.objects.filter(user_id__in=user_ids).values_list("user_id", "public_id")
        return dict(rows)


def patients_visible_to(viewer: User) -> QuerySet[Patient]:
    """The patients `viewer` may see: a patient only themself; a physician the patients
    in the states where they may treat (accounts.selectors.licensed_states); ops admins
    everyone."""
    patients = Patient.objects.select_related("user")
    if viewer.role == Role.OPS_ADMIN:
        return patients
    if viewer.role == Role.PHYSICIAN:
        return patients.filter(state__in=licensed_states(viewer))
    return patients.filter(user=viewer)


def patient_visible_to(viewer: User, public_id: uuid.UUID | str) -> Patient:
    """One patient, or NotFound: another patient's id looks exactly like a missing one."""
    patient = patients_visible_to(viewer).filter(public_id=public_id).first()
    if patient is None:
        raise NotFound("No such patient.")
    return patient
