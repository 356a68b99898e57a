"""Gateway failures as API errors: the patient sees a clear 502/503, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from billing.gateways.base import CardDeclined, PermanentGatewayError, TransientGatewayError
from core.errors import ApplicationError

T = TypeVar("T")


class PaymentsUnavailable(ApplicationError):
    status_code = 503
    code = "payments_unavailable"
    default_message = "Payments are temporarily unavailable. Please try again in a few minutes."


class PaymentProviderError(ApplicationError):
    status_code = 502
    code = "payment_provider_error"
    default_message = "The payment provider refused the request. Our team has been told."


class PaymentDeclined(ApplicationError):
    status_code = 402
    code = "card_declined"
    default_message = "The card was declined. Update your card in the billing portal."


def gateway_call(call: Callable[[], T]) -> T:
    try:
        return call()
    except CardDeclined as error:
        raise PaymentDeclined() from error
    except TransientGatewayError as error:
        raise PaymentsUnavailable(headers={"Retry-After": "30"}) from error
    except PermanentGatewayError as error:
        raise PaymentProviderError() from error
