"""User.email encrypted at rest, in place, with `email_hash` for lookups.

The column keeps its name: it is widened to text, every address is normalized, encrypted
and hashed in batches, then the hash becomes NOT NULL and unique. The lower-case check
goes first (a Fernet token has capitals). Reversible: backwards decrypts in place, then
the unique index and the check come back.

PostgreSQL keeps the old plaintext in dead row versions until they are vacuumed: run
`VACUUM FULL accounts_user` (a short exclusive lock) after migrating a production
database to rewrite the table without them.
"""

from typing import Any

from django.db import migrations, models

import accounts.models
import core.crypto

BATCH = 500
# Frozen copies of accounts.models.normalize_email / email_lookup_hash as of this
# migration: the hashes written here must equal what that code computes.
PURPOSE = "account-email"


def _batches(apps: Any) -> Any:
    User = apps.get_model("accounts", "User")
    last = 0
    while rows := list(User.objects.filter(pk__gt=last).order_by("pk").only("pk", "email")[:BATCH]):
        yield User, rows
        last = rows[-1].pk


def encrypt_emails(apps: Any, schema_editor: Any) -> None:
    for User, rows in _batches(apps):
        for row in rows:
            address = row.email.strip().lower()
            row.email_hash = core.crypto.keyed_hash(address, purpose=PURPOSE)
            row.email = core.crypto.encrypt(address)
        User.objects.bulk_update(rows, ["email", "email_hash"])


def decrypt_emails(apps: Any, schema_editor: Any) -> None:
    for User, rows in _batches(apps):
        for row in rows:
            row.email = core.crypto.decrypt(row.email)
            row.email_hash = None
        User.objects.bulk_update(rows, ["email", "email_hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_email_verified_at"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="user", name="user_email_lowercase"),
        # Plain text while the rows are converted: the migration encrypts explicitly.
        migrations.AlterField(model_name="user", name="email", field=models.TextField()),
        migrations.AddField(
            model_name="user",
            name="email_hash",
            field=models.CharField(max_length=64, null=True, editable=False),
        ),
        migrations.RunPython(encrypt_emails, decrypt_emails, elidable=False),
        migrations.AlterField(
            model_name="user",
            name="email",
            field=core.crypto.EncryptedEmailField(max_length=254),
        ),
        migrations.AlterField(
            model_name="user",
            name="email_hash",
            field=accounts.models.EmailHashField(editable=False, max_length=64, unique=True),
        ),
    ]
