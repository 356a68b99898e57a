"""The audit log in the admin belongs to the privacy officer, who sees nothing clinical."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from patients.selectors.record import patients_visible_to
from tests.accounts.support import enrolled_staff
from tests.actors import client_for
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

AUDIT_LOG = "/admin/audit/auditevent/"


def test_ops_admin_cannot_open_the_audit_log():
    _, browser = enrolled_staff("ops_admin")
    assert browser.get(AUDIT_LOG).status_code == 403
    assert browser.get("/admin/").status_code == 200


def test_privacy_officer_reads_the_audit_log_and_that_is_audited():
    officer, browser = enrolled_staff("privacy_officer")
    assert browser.get(AUDIT_LOG).status_code == 200
    event = AuditEvent.objects.get(action="read", actor=officer)
    assert event.object_type == "audit.auditevent"
    row = AuditEvent.objects.filter(action="login").first()
    assert row is not None
    assert browser.get(f"{AUDIT_LOG}{row.pk}/change/").status_code == 200
    assert AuditEvent.objects.filter(action="read", actor=officer).count() == 2


def test_privacy_officer_sees_no_users_and_no_patients():
    officer, browser = enrolled_staff("privacy_officer")
    PatientFactory()
    assert officer.is_staff_role  # MFA required, like every staff role
    assert browser.get("/admin/accounts/user/").status_code == 403
    assert browser.get("/admin/notifications/message/").status_code == 403
    assert not patients_visible_to(officer).exists()
    assert client_for(officer).get("/api/patients").status_code == 403
