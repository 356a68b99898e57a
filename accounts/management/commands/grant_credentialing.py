from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services.credentials import credentialing_grant


class Command(BaseCommand):
    help = (
        "Grant the `credentialing` permission (change physician credentials, roles and the "
        "staff flag) to the user with this email; --revoke takes it back."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email")
        parser.add_argument("--revoke", action="store_true", help="take the permission back")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.with_email(options["email"]).first()
        if user is None:
            raise CommandError("No user with that email.")
        if not user.is_staff_role:
            raise CommandError("Only staff accounts may credential.")
        credentialing_grant(user=user, granted=not options["revoke"])
        verb = "revoked from" if options["revoke"] else "granted to"
        self.stdout.write(self.style.SUCCESS(f"credentialing {verb} {user.email}"))
