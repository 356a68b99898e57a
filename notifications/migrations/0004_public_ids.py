"""Consents and inbound texts get a public id, so audit events name them the way they name
every other object (audit_write)."""

import uuid

from django.db import migrations, models


def fill(apps, schema_editor):
    for name in ("Consent", "InboundSms"):
        model = apps.get_model("notifications", name)
        for row in model.objects.filter(public_id__isnull=True).only("pk"):
            model.objects.filter(pk=row.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("notifications", "0003_us_spelling_canceled")]

    operations = [
        migrations.AddField(
            model_name="consent", name="public_id", field=models.UUIDField(null=True, editable=False)
        ),
        migrations.AddField(
            model_name="inboundsms",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="consent",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="inboundsms",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
