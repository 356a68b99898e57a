from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import STAFF_ROLES
from accounts.services.mfa import staff_invite
from core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Issue a single-use MFA enrollment token (valid 24 h) for a staff member, creating "
        "the account for a role that needs no credentials. The token is shown once: hand it "
        "over out of band; with their password it lets them enroll an authenticator."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=sorted(STAFF_ROLES))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            invitation = staff_invite(email=options["email"], role=options["role"], issued_by=None)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        if invitation.initial_password:
            self.stdout.write(f"initial password (shown once): {invitation.initial_password}")
        self.stdout.write(f"enrollment token (shown once): {invitation.enrollment_token}")
