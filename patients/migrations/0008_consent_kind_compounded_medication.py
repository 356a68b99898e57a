"""ConsentKind gains compounded_medication (published by 0009)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0007_assessment_outcome_encrypted"),
    ]

    operations = [
        migrations.AlterField(
            model_name="consentdocument",
            name="kind",
            field=models.CharField(
                choices=[
                    ("treatment", "Treatment"),
                    ("telehealth", "Telehealth"),
                    ("sms", "Sms"),
                    ("privacy", "Privacy"),
                    ("compounded_medication", "Compounded Medication"),
                ],
                max_length=32,
            ),
        ),
    ]
