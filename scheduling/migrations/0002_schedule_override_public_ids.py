"""Public ids for schedules and date overrides (URLs and audit rows never name a sequential
id), and the admin's availability proxy of PhysicianProfile."""

import uuid

from django.db import migrations, models


def fill_public_ids(apps, schema_editor):
    for name in ("PhysicianSchedule", "AvailabilityOverride"):
        model = apps.get_model("scheduling", name)
        for pk in model.objects.filter(public_id__isnull=True).values_list("pk", flat=True):
            model.objects.filter(pk=pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_email_verified_at"),
        ("scheduling", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="physicianschedule",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="availabilityoverride",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="physicianschedule",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False),
        ),
        migrations.AlterField(
            model_name="availabilityoverride",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False),
        ),
        migrations.CreateModel(
            name="PhysicianAvailability",
            fields=[],
            options={
                "verbose_name": "physician availability",
                "verbose_name_plural": "physician availability",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("accounts.physicianprofile",),
        ),
    ]
