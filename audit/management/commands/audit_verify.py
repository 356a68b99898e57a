from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.services import ChainHead, audit_anchor_check, audit_seal_chain, audit_verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit hash chain; report the first broken link and rows still unsealed. "
        "With --anchor SEQ:HASH (a head published by the anchor task), also check that the "
        "chain still holds it: deleting the newest rows is only visible that way."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seal", action="store_true", help="seal pending rows first")
        parser.add_argument(
            "--anchor", action="append", default=[], help="a published SEQ:HASH (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            anchors = [ChainHead.parse(text) for text in options["anchor"]]
        except ValueError as error:
            raise CommandError(str(error)) from None
        if options["seal"]:
            self.stdout.write(f"sealed {audit_seal_chain()} pending rows")
        report = audit_verify_chain()
        self.stdout.write(f"sealed rows verified: {report.sealed}")
        self.stdout.write(f"rows not yet sealed: {report.unsealed}")
        if not report.ok:
            raise CommandError(
                f"chain broken at seq {report.first_broken_seq} (event id {report.first_broken_id})"
            )
        for anchor in anchors:
            if problem := audit_anchor_check(anchor):
                raise CommandError(problem)
            self.stdout.write(f"anchor {anchor.seq} present")
        self.stdout.write(self.style.SUCCESS("audit chain intact"))
