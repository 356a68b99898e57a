"""A signed prescription cannot change: migration 0002's trigger refuses every UPDATE but
the cancellation, and every DELETE; rotate_phi_keys may still re-encrypt it."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from prescriptions.models import Prescription, PrescriptionStatus
from tests.prescriptions.support import prescription_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(patient, physician):
    return prescription_for(patient, physician)


def _refused(statement) -> None:
    with pytest.raises(IntegrityError, match="prescriptions_prescription: "), transaction.atomic():
        statement()


def test_the_orm_cannot_change_a_clinical_field(signed):
    _refused(lambda: Prescription.objects.filter(pk=signed.pk).update(quantity=20))
    signed.directions = "Take as many as you like."
    _refused(lambda: signed.save(update_fields=["directions"]))
    # A full save() re-encrypts the encrypted columns: refused as well.
    signed.refresh_from_db()
    _refused(signed.save)
    signed.refresh_from_db()
    assert (signed.quantity, signed.directions.startswith("Dissolve")) == (10, True)


def test_raw_sql_cannot_change_a_clinical_field_nor_delete(signed):
    def update() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE prescriptions_prescription SET refills = 5 WHERE id = %s", [signed.pk]
            )

    def delete() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM prescriptions_prescription WHERE id = %s", [signed.pk])

    _refused(update)
    _refused(delete)
    assert Prescription.objects.get(pk=signed.pk).refills == 2


def test_canceling_is_the_one_change_and_only_once(signed, physician):
    Prescription.objects.filter(pk=signed.pk).update(
        status=PrescriptionStatus.CANCELED,
        canceled_at=timezone.now(),
        canceled_by=physician.user,
        cancel_reason="Patient moved out of state.",
    )
    signed.refresh_from_db()
    assert signed.status == PrescriptionStatus.CANCELED
    # Not back to signed, and the cancellation itself does not change afterwards.
    _refused(
        lambda: Prescription.objects.filter(pk=signed.pk).update(
            status=PrescriptionStatus.SIGNED, canceled_at=None
        )
    )
    _refused(lambda: Prescription.objects.filter(pk=signed.pk).update(canceled_at=timezone.now()))


def test_canceling_cannot_carry_a_clinical_change(signed):
    _refused(
        lambda: Prescription.objects.filter(pk=signed.pk).update(
            status=PrescriptionStatus.CANCELED, canceled_at=timezone.now(), quantity=1
        )
    )


def test_the_rotation_setting_opens_only_the_encrypted_columns(signed):
    def rotate_and_change_quantity() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('core.phi_key_rotation', 'on', true)")
            cursor.execute(
                "UPDATE prescriptions_prescription SET quantity = 99 WHERE id = %s", [signed.pk]
            )

    _refused(rotate_and_change_quantity)


def test_rotate_phi_keys_reencrypts_prescriptions(signed, settings):
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    before = _raw_directions(signed.pk)
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    try:
        call_command("rotate_phi_keys")
        settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is retired
        rotated = Prescription.objects.get(pk=signed.pk)
        assert rotated.directions == signed.directions
        assert rotated.patient_name == signed.patient_name
        assert _raw_directions(signed.pk) != before
    finally:
        settings.FIELD_ENCRYPTION_KEYS = [old_key]
    # Outside the command, the encrypted columns are closed again.
    _refused(lambda: Prescription.objects.filter(pk=signed.pk).update(directions="x"))


def _raw_directions(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT directions FROM prescriptions_prescription WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])
