"""A claimed (or lead-linked) assessment keeps no plaintext outcome: the column holds a
token, and the existing rows are converted by the migration."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.crypto import decrypt
from patients.models import Assessment
from tests.actors import client_for
from tests.patients.support import ASSESSMENT_CLAIM_URL, assessment_post

pytestmark = pytest.mark.django_db

OUTCOMES = ("likely_eligible", "not_eligible", "needs_review", "not_served")


def raw_outcomes() -> list[tuple[int, str, bool]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, outcome, urgent_safety FROM {Assessment._meta.db_table} ORDER BY id"
        )
        return cursor.fetchall()


def test_a_claimed_assessment_keeps_its_outcome_only_encrypted(api, patient):
    token = assessment_post(api).json()["claim_token"]
    claimed = client_for(patient).post(ASSESSMENT_CLAIM_URL, {"claim_token": token}, format="json")
    assert claimed.status_code == 200
    assert claimed.json()["outcome"] == "likely_eligible"  # the owner still sees it
    ((_, stored, urgent),) = raw_outcomes()
    assert stored not in OUTCOMES and not any(word in stored for word in OUTCOMES)
    assert decrypt(stored) == "likely_eligible"
    assert urgent is False
    assert Assessment.objects.get().claimed_by == patient.patient


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_outcomes_in_place_and_back():
    before = [("patients", "0006_phone_verification")]
    target = [("patients", "0007_assessment_outcome_encrypted")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        Old = executor.loader.project_state(before).apps.get_model("patients", "Assessment")
        for n, outcome in enumerate(OUTCOMES):
            Old.objects.create(
                state="FL", outcome=outcome, ruleset_version="v1", claim_token_hash=f"h{n}"
            )
        executor = MigrationExecutor(connection)
        executor.migrate(target)
        rows = raw_outcomes()
        assert [decrypt(stored) for _, stored, _ in rows] == list(OUTCOMES)
        assert not any(stored in OUTCOMES for _, stored, _ in rows)
        assert [a.outcome for a in Assessment.objects.order_by("id")] == list(OUTCOMES)
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        assert [stored for _, stored, _ in raw_outcomes()] == list(OUTCOMES)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        # Back to every app's latest: going back to `before` also unapplied the
        # migrations that depend on later patients migrations.
        executor.migrate(executor.loader.graph.leaf_nodes())
