from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services.mfa import mfa_reset


class Command(BaseCommand):
    help = (
        "For a lost authenticator: remove the user's MFA device and recovery codes, end "
        "their sessions, audit it with the reason, and (staff) print a new enrollment token."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email")
        parser.add_argument("--reason", required=True, help="why (kept in the audit log)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.with_email(options["email"]).first()
        if user is None:
            raise CommandError("No such user.")
        if not options["reason"].strip():
            raise CommandError("Give a reason.")
        token = mfa_reset(user=user, actor=None, reason=options["reason"].strip())
        self.stdout.write("MFA removed and sessions ended.")
        if token:
            self.stdout.write(f"enrollment token (shown once): {token}")
