from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import email_lookup_hash
from billing.gateways.base import GatewayError
from billing.gateways.local import LocalGateway, renewal_simulate
from billing.gateways.local_delivery import deliver_pending
from billing.gateways.registry import gateway
from billing.selectors import current_subscription
from patients.models import Patient


class Command(BaseCommand):
    help = (
        "Local gateway only: end a patient's current billing period now. A renewal is paid "
        "or declined (the card on file decides, or --fail / --pay), a requested "
        "cancellation takes effect; the events go to the webhook like Stripe's."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The patient's sign-in email.")
        outcome = parser.add_mutually_exclusive_group()
        outcome.add_argument("--fail", action="store_true", help="Decline the renewal.")
        outcome.add_argument("--pay", action="store_true", help="Pay the renewal.")
        parser.add_argument(
            "--no-deliver", action="store_true", help="Leave the events for the worker."
        )

    def handle(self, *args: Any, email: str, fail: bool, pay: bool, **options: Any) -> None:
        if not isinstance(gateway(), LocalGateway):
            raise CommandError("billing_simulate works with the local gateway only.")
        patient = Patient.objects.filter(user__email_hash=email_lookup_hash(email)).first()
        subscription = current_subscription(patient) if patient else None
        if subscription is None:
            raise CommandError("No membership for that email.")
        try:
            result = renewal_simulate(
                subscription.gateway_subscription_id,
                fail=True if fail else (False if pay else None),
            )
        except GatewayError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"renewal: {result}")
        if not options["no_deliver"]:
            self.stdout.write(f"events delivered: {deliver_pending()}")
