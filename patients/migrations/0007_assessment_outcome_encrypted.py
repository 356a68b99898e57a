"""Assessment.outcome encrypted at rest, in place: a lead or a claim links the row to a
person, and the outcome must not sit next to that link in the clear.

The column is widened to text, every outcome is encrypted in batches, then the field
becomes an EncryptedTextField. Reversible (backwards decrypts in place). As with any
in-place conversion on PostgreSQL, `VACUUM FULL patients_assessment` afterwards removes
the old plaintext still held in dead row versions.
"""

from typing import Any

from django.db import migrations, models

import core.crypto

BATCH = 500


def _convert(apps: Any, change: Any) -> None:
    Assessment = apps.get_model("patients", "Assessment")
    last = 0
    while rows := list(
        Assessment.objects.filter(pk__gt=last).order_by("pk").only("pk", "outcome")[:BATCH]
    ):
        for row in rows:
            row.outcome = change(row.outcome)
        Assessment.objects.bulk_update(rows, ["outcome"])
        last = rows[-1].pk


def encrypt_outcomes(apps: Any, schema_editor: Any) -> None:
    _convert(apps, core.crypto.encrypt)


def decrypt_outcomes(apps: Any, schema_editor: Any) -> None:
    _convert(apps, core.crypto.decrypt)


OUTCOMES = [
    ("likely_eligible", "Likely Eligible"),
    ("not_eligible", "Not Eligible"),
    ("needs_review", "Needs Review"),
    ("not_served", "Not Served"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_phone_verification"),
    ]

    operations = [
        # Plain text while the rows are converted: the migration encrypts explicitly.
        migrations.AlterField(
            model_name="assessment", name="outcome", field=models.TextField(choices=OUTCOMES)
        ),
        migrations.RunPython(encrypt_outcomes, decrypt_outcomes, elidable=False),
        migrations.AlterField(
            model_name="assessment",
            name="outcome",
            field=core.crypto.EncryptedTextField(choices=OUTCOMES),
        ),
    ]
