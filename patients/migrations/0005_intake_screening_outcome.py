"""Intake.screening_outcome: the screening's outcome in its own small encrypted column, so
the review queue no longer decrypts each row's whole screening document to show it.

Existing screened intakes are backfilled from their document (decrypted, the outcome
copied, encrypted again). Raw SQL: no model code runs and no plaintext is written.
Reversing drops the column; the backfill itself reverses as a no-op."""

import json

from django.db import migrations

import core.crypto

BATCH_SIZE = 500


def backfill_screening_outcomes(apps, schema_editor):
    """Copy screening["outcome"] into screening_outcome for every intake that has a
    screening and no outcome yet (so running it again changes nothing), in batches."""
    last_id = 0
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT id, screening FROM patients_intake "
                "WHERE id > %s AND screening IS NOT NULL AND screening_outcome IS NULL "
                "ORDER BY id LIMIT %s",
                [last_id, BATCH_SIZE],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            ids, outcomes = [], []
            for pk, token in rows:
                outcome = (json.loads(core.crypto.decrypt(token)) or {}).get("outcome")
                if outcome is not None:
                    ids.append(pk)
                    outcomes.append(core.crypto.encrypt(str(outcome)))
            if ids:
                cursor.execute(
                    "UPDATE patients_intake AS i SET screening_outcome = v.outcome "
                    "FROM unnest(%s::bigint[], %s::text[]) AS v(id, outcome) WHERE i.id = v.id",
                    [ids, outcomes],
                )
            last_id = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_assessment_outcome_only_encrypted_flag_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="intake",
            name="screening_outcome",
            field=core.crypto.EncryptedTextField(blank=True, null=True),
        ),
        migrations.RunPython(backfill_screening_outcomes, migrations.RunPython.noop),
    ]
