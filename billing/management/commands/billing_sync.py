from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing.services.sync import memberships_sync


class Command(BaseCommand):
    help = "Refetch subscriptions and invoices from the gateway to repair missed webhooks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customer", action="append", dest="customers", help="Only this gateway customer id."
        )

    def handle(self, *args: Any, customers: list[str] | None, **options: Any) -> None:
        synced = memberships_sync(customer_ids=customers)
        self.stdout.write(f"synced {synced} customer(s)")
