from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_seal_chain, audit_verify_chain


class Command(BaseCommand):
    help = "Check the audit hash chain; report the first broken link and rows still unsealed."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seal", action="store_true", help="seal pending rows first")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seal"]:
            self.stdout.write(f"sealed {audit_seal_chain()} pending rows")
        report = audit_verify_chain()
        self.stdout.write(f"sealed rows verified: {report.sealed}")
        self.stdout.write(f"rows not yet sealed: {report.unsealed}")
        if not report.ok:
            raise CommandError(
                f"chain broken at seq {report.first_broken_seq} (event id {report.first_broken_id})"
            )
        self.stdout.write(self.style.SUCCESS("audit chain intact"))
