"""Re-encrypt every encrypted column with the newest key in FIELD_ENCRYPTION_KEYS.

Rotation: prepend a new key to FIELD_ENCRYPTION_KEYS (keep the old ones), deploy, run
this command, then drop the old key from the list.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from core.crypto import EncryptedTextField, rotate


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        for model in apps.get_models():
            columns = [
                str(f.column)
                for f in model._meta.concrete_fields
                if isinstance(f, EncryptedTextField)
            ]
            if columns:
                count = self._rotate_table(model._meta.db_table, columns, batch_size)
                self.stdout.write(f"{model._meta.label}: {count} rows re-encrypted")

    def _rotate_table(self, table: str, columns: list[str], batch_size: int) -> int:
        """Token to token on raw values: plaintext never leaves the cryptography layer,
        and no model code (save(), auto_now) runs."""
        select = ", ".join(f'"{c}"' for c in columns)
        assignments = ", ".join(f'"{c}" = %s' for c in columns)
        last_id, done = 0, 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                # Tables that refuse edits (prescriptions_prescription: migration 0002)
                # let this transaction rewrite their encrypted columns, and only those.
                cursor.execute("SELECT set_config('core.phi_key_rotation', 'on', true)")
                cursor.execute(
                    f'SELECT id, {select} FROM "{table}" WHERE id > %s ORDER BY id LIMIT %s '  # noqa: S608
                    "FOR UPDATE",
                    [last_id, batch_size],
                )
                rows = cursor.fetchall()
                for row_id, *tokens in rows:
                    cursor.execute(
                        f'UPDATE "{table}" SET {assignments} WHERE id = %s',  # noqa: S608
                        [*(rotate(t) if t else t for t in tokens), row_id],
                    )
                # Closed again at once, also when this runs inside an outer transaction.
                cursor.execute("SELECT set_config('core.phi_key_rotation', 'off', true)")
            if not rows:
                return done
            last_id, done = rows[-1][0], done + len(rows)
