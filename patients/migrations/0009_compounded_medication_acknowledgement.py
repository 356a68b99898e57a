# ruff: noqa: E501  (the document is kept as written: one paragraph per line)
"""Publish the acknowledgement that compounded ketamine is not FDA approved.

DOMAIN.md: the patient acknowledges the FDA's warnings about compounded ketamine before
the first order. The treatment consent explains them; this is the separate, signed
acknowledgement a prescription asks for (prescriptions' signing checks it). Frozen like
0003's texts: a change of wording is a new version.
"""

import hashlib

from django.db import migrations

VERSION = "2026-12"
TITLE = "Acknowledgement: compounded ketamine is not FDA approved"
BODY = """\
Acknowledgement about compounded ketamine

1. The medicine your physician may prescribe is ketamine compounded for you alone by a partner pharmacy. Compounded ketamine is not approved by the U.S. Food and Drug Administration (FDA): the FDA does not review compounded medicines for safety, effectiveness or quality, and ketamine is not FDA approved to treat depression, anxiety or any other psychiatric condition.

2. The FDA has warned about compounded ketamine taken at home without a health care provider present: sedation, dissociation, raised blood pressure, slowed breathing, bladder problems, and misuse or dependence. The treatment consent you signed describes these risks and the precautions we ask you to take.

3. Each session needs an adult sitter with you, no driving or operating machinery until the next day, and no alcohol or sedating medicines that day. Keep the medicine locked away from others.

By typing my full legal name I acknowledge that compounded ketamine is not FDA approved and that I have read the FDA's warnings about it.
"""


def publish(apps, schema_editor):
    ConsentDocument = apps.get_model("patients", "ConsentDocument")
    ConsentDocument.objects.get_or_create(
        kind="compounded_medication",
        version=VERSION,
        defaults={
            "title": TITLE,
            "body": BODY,
            "body_sha256": hashlib.sha256(BODY.encode("utf-8")).hexdigest(),
        },
    )


def unpublish(apps, schema_editor):
    ConsentDocument = apps.get_model("patients", "ConsentDocument")
    ConsentDocument.objects.filter(
        kind="compounded_medication", version=VERSION, signatures__isnull=True
    ).delete()


class Migration(migrations.Migration):
    # Its own migration: deleting documents (the reverse) and altering their table cannot
    # share a transaction.
    dependencies = [
        ("patients", "0008_consent_kind_compounded_medication"),
    ]

    operations = [
        migrations.RunPython(publish, unpublish),
    ]
