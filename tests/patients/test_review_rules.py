"""The review queue's hand-written SQL (patients.selectors.review_queue) restates two rules;
here each restatement is held to its one definition over every case the rule
distinguishes, the way tests/billing/test_gate.py holds the membership gate's:

- awaiting review (patients.selectors.review.awaiting_review): every intake status x the
  information asked (none, open, answered, answered and open, another action's review)
  x the patient's safety flag (none, open, resolved);
- the states a physician may treat in (accounts.selectors.licensed_states): an active
  license, suspended, revoked, expired, expiring today on the practice calendar (while
  the UTC date is already tomorrow), a license in another state only, an inactive
  account."""

from __future__ import annotations

import datetime as dt
import itertools
from datetime import UTC, datetime

import pytest
import time_machine
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import LicenseStatus
from accounts.selectors import licensed_states
from core.clock import practice_today
from patients.models import Intake, IntakeReview, IntakeStatus, ReviewAction, SafetyFlag
from patients.selectors.review import awaiting_review, intake_awaiting_review
from patients.selectors.review_queue import review_queue_page_audited
from tests.factories import LicenseFactory, PatientFactory, PhysicianFactory

pytestmark = pytest.mark.django_db

QUESTIONS = {
    "none": [],
    "open": [(ReviewAction.REQUEST_INFO, False)],
    "answered": [(ReviewAction.REQUEST_INFO, True)],
    "answered_and_open": [(ReviewAction.REQUEST_INFO, True), (ReviewAction.REQUEST_INFO, False)],
    # Only a request for information is a question: another unanswered review is not.
    "other_action": [(ReviewAction.DECLINE, False)],
}
FLAGS = ["none", "open", "resolved"]


def expected_awaiting(status: str, questions: str) -> bool:
    """The rule as the domain states it, independently of both implementations."""
    if status == IntakeStatus.SUBMITTED:
        return True
    unanswered = any(
        action == ReviewAction.REQUEST_INFO and not answered
        for action, answered in QUESTIONS[questions]
    )
    return status == IntakeStatus.INFO_REQUESTED and not unanswered


def test_awaiting_review_sql_agrees_with_the_definition_in_every_case():
    doctor = PhysicianFactory()
    LicenseFactory(physician=doctor, state="FL")
    viewer = doctor.user
    cases = {}
    now = timezone.now()
    combinations = itertools.product(IntakeStatus.values, QUESTIONS, FLAGS)
    for n, (status, questions, flag) in enumerate(combinations):
        patient = PatientFactory()
        intake = Intake.objects.create(
            patient=patient,
            questionnaire_version="test",
            status=status,
            submitted_at=None if status == IntakeStatus.DRAFT else now - dt.timedelta(minutes=n),
        )
        for action, answered in QUESTIONS[questions]:
            IntakeReview.objects.create(
                intake=intake,
                physician=doctor,
                action=action,
                note="Which dose?",
                answered_at=now if answered else None,
            )
        if flag != "none":
            SafetyFlag.objects.create(
                patient=patient,
                kind="self_harm_thoughts",
                source="intake",
                resolved_at=now if flag == "resolved" else None,
            )
        cases[intake.public_id] = (intake, status, questions, flag)

    by_orm = set(Intake.objects.filter(awaiting_review()).values_list("public_id", flat=True))
    page = review_queue_page_audited(viewer, offset=0, limit=1000)
    by_sql = {row.public_id for row in page.rows}
    assert page.total == len(page.rows)
    for public_id, (intake, status, questions, flag) in cases.items():
        want = expected_awaiting(status, questions)
        case = (status, questions, flag)
        assert (public_id in by_orm) == want, case
        assert intake_awaiting_review(intake) == want, case
        assert (public_id in by_sql) == want, case
    assert page.total == sum(expected_awaiting(s, q) for _, s, q, _ in cases.values())

    # The flag decides the order and the `flagged` filter, in SQL as in the ORM.
    open_flag = Exists(SafetyFlag.objects.filter(patient=OuterRef("patient_id"), resolved_at=None))
    flagged = Intake.objects.filter(awaiting_review()).filter(open_flag)
    for only_flagged, want_ids in [
        (True, set(flagged.values_list("public_id", flat=True))),
        (False, by_orm - set(flagged.values_list("public_id", flat=True))),
    ]:
        rows = review_queue_page_audited(viewer, offset=0, limit=1000, flagged=only_flagged).rows
        assert {row.public_id for row in rows} == want_ids
        assert all(bool(row.open_flags) == only_flagged for row in rows)
    first = [row.public_id for row in page.rows[: len(flagged)]]
    assert set(first) == set(flagged.values_list("public_id", flat=True))


# 21:30 on March 9 in New York (the practice calendar) is already March 10 in UTC.
LATE_EVENING = datetime(2027, 3, 10, 2, 30, tzinfo=UTC)


def test_licensed_states_sql_agrees_with_the_definition_in_every_case():
    with time_machine.travel(LATE_EVENING, tick=False):
        today = practice_today()
        assert today == dt.date(2027, 3, 9)
        for state in ("FL", "NJ"):
            patient = PatientFactory(state=state, time_zone="America/New_York")
            Intake.objects.create(
                patient=patient,
                questionnaire_version="test",
                status=IntakeStatus.SUBMITTED,
                submitted_at=timezone.now(),
            )
        far = today + dt.timedelta(days=365)
        cases = {
            "active": ({"status": LicenseStatus.ACTIVE, "expires_on": far}, {"FL"}),
            "suspended": ({"status": LicenseStatus.SUSPENDED, "expires_on": far}, set()),
            "revoked": ({"status": LicenseStatus.REVOKED, "expires_on": far}, set()),
            "inactive_license": ({"status": LicenseStatus.INACTIVE, "expires_on": far}, set()),
            "expired": ({"expires_on": today - dt.timedelta(days=1)}, set()),
            "expiring_today": ({"expires_on": today}, {"FL"}),
            "other_state": ({"state": "NJ", "expires_on": far}, {"NJ"}),
            "inactive_account": ({"expires_on": far}, set()),
        }
        for case, (license, want) in cases.items():
            doctor = PhysicianFactory()
            LicenseFactory(physician=doctor, **({"state": "FL"} | license))
            if case == "inactive_account":
                doctor.user.is_active = False
                doctor.user.save(update_fields=["is_active"])
            viewer = doctor.user
            assert set(licensed_states(viewer)) == want, case
            rows = review_queue_page_audited(viewer, offset=0, limit=50).rows
            assert {row.state for row in rows} == want, case
