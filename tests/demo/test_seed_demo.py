from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from accounts.selectors import physician_authority, physician_with_credentials
from audit.models import AuditEvent
from notifications.models import Consent
from patients.models import Patient
from scheduling.models import Appointment

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_credentials_are_valid(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert User.objects.count() == 5
    privacy = User.objects.with_email("privacy@demo.example").get()
    assert (privacy.role, privacy.is_staff, privacy.is_staff_role) == (
        "privacy_officer",
        True,
        True,
    )
    assert Consent.objects.count() == 2
    out = capsys.readouterr().out
    assert "patient@demo.example" in out
    assert "privacy@demo.example" in out
    patient = Patient.objects.get()
    assert (patient.county, patient.time_zone) == ("Escambia", "America/Chicago")
    authority = {
        profile.last_name: {
            state: physician_authority(physician_with_credentials(profile.user_id), state)
            for state in ("FL", "NJ")
        }
        for profile in PhysicianProfile.objects.all()
    }
    assert authority["Rivera"]["FL"].may_prescribe
    assert not authority["Rivera"]["NJ"].may_treat
    assert authority["Nguyen"]["FL"].may_prescribe
    assert authority["Nguyen"]["NJ"].may_prescribe, authority["Nguyen"]["NJ"].reasons


def test_seed_demo_books_the_demo_patient_one_upcoming_check_in(capsys):
    call_command("seed_demo")
    call_command("seed_demo")  # a second run finds the check-in and books no other

    # The other appointment is the completed visit the demo prescription was written at.
    visit = Appointment.objects.get(status="booked")
    assert (visit.kind, visit.status, visit.physician.last_name) == (
        "check_in",
        "booked",
        "Rivera",
    )
    assert visit.starts_at > timezone.now() + timedelta(days=1)
    assert visit.blocked_until > visit.ends_at  # Dr. Rivera's buffer
    assert AuditEvent.objects.filter(object_id=str(visit.public_id)).count() == 1
    assert f"check_in booked at {visit.starts_at:%Y-%m-%d %H:%M} UTC" in capsys.readouterr().out
