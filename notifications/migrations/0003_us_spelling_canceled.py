"""US spelling: the message status and reason "cancelled" become "canceled", and the
column cancelled_at canceled_at."""

from django.db import migrations, models


def to_us(apps, schema_editor):
    Message = apps.get_model("notifications", "Message")
    Message.objects.filter(status="cancelled").update(status="canceled")
    Message.objects.filter(status_reason="cancelled").update(status_reason="canceled")


def to_british(apps, schema_editor):
    Message = apps.get_model("notifications", "Message")
    Message.objects.filter(status="canceled").update(status="cancelled")
    Message.objects.filter(status_reason="canceled").update(status_reason="cancelled")


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_consent_event")]

    operations = [
        migrations.RenameField(model_name="message", old_name="cancelled_at", new_name="canceled_at"),
        migrations.AlterField(
            model_name="message",
            name="status",
            field=models.CharField(
                choices=[
                    ("scheduled", "Scheduled"),
                    ("claimed", "Claimed"),
                    ("sent", "Sent"),
                    ("delivered", "Delivered"),
                    ("failed", "Failed"),
                    ("canceled", "Canceled"),
                    ("suppressed", "Suppressed"),
                ],
                default="scheduled",
                max_length=16,
            ),
        ),
        migrations.RunPython(to_us, to_british),
    ]
