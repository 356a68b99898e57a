"""Print the SQL that creates a least-privilege role for the running application."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection

from audit.models import AuditEvent

# The only audit columns the application may ever change: the one-time seal.
SEAL_COLUMNS = ("seq", "prev_hash", "hash")


def db_roles_sql(*, role: str) -> str:
    """GRANTs for `role` on every table now in the database: INSERT and SELECT on the audit
    log plus UPDATE of its seal columns; SELECT, INSERT, UPDATE, DELETE elsewhere; never
    TRUNCATE, ownership or DDL (migrations run as the owner)."""
    quote = connection.ops.quote_name
    name = quote(role)
    audit = AuditEvent._meta.db_table
    seal = ", ".join(quote(column) for column in SEAL_COLUMNS)
    lines = [
        "-- Least-privilege role for the application (run as the owner of the tables).",
        f"CREATE ROLE {name} LOGIN;  -- then: \\password {role}",
        f"GRANT CONNECT ON DATABASE {quote(connection.settings_dict['NAME'])} TO {name};",
        f"GRANT USAGE ON SCHEMA public TO {name};",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name};",
        f"GRANT INSERT, SELECT ON {quote(audit)} TO {name};",
        f"GRANT UPDATE ({seal}) ON {quote(audit)} TO {name};",
    ]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    lines += [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {quote(table)} TO {name};"
        for table in sorted(tables)
        if table != audit
    ]
    lines.append("-- Run again after a migration that adds tables.")
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = (
        "Print the SQL for a least-privilege application role: INSERT and SELECT on the "
        "audit table and UPDATE of its seal columns only, the usual privileges elsewhere, "
        "no TRUNCATE and no DDL. Migrations run as the table owner, the app as this role."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--role", default="telehealth_app", help="the role to create")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(db_roles_sql(role=options["role"]), ending="")
