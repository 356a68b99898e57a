import uuid

from django.db import migrations, models


def fill(apps, schema_editor):
    model = apps.get_model("prescriptions", "InPersonEvaluation")
    for row in model.objects.filter(public_id__isnull=True):
        row.public_id = uuid.uuid4()
        row.save(update_fields=["public_id"])


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0004_prescription_immutable")]
    operations = [
        migrations.AddField(
            model_name="inpersonevaluation",
            name="public_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="inpersonevaluation",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
