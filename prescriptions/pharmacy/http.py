"""The HTTP pharmacy backend: POSTs the order as JSON to the pharmacy's `order_url`,
signed with its `webhook_secret` (prescriptions.pharmacy.signing), with an
`Idempotency-Key` header that is the same on every attempt for one order.

A 2xx is a receipt (`{"reference": ...}` in the answer when the pharmacy gives one; a
pharmacy that already has the key answers as it did the first time). Timeouts, refused
connections, 5xx and 429 are transient; any other answer is permanent, a redirect
included (never followed). An order URL that is not https (loopback aside) is refused
before anything is sent. Neither the body
nor the pharmacy's answer text is logged or chained onto our errors.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests  # noqa: TID251
from django.conf import settings
from django.core.exceptions import ValidationError

from prescriptions.models import Pharmacy
from prescriptions.pharmacy.base import (
    PermanentPharmacyError,
    PharmacyBackend,
    PharmacyReceipt,
    TransientPharmacyError,
)
from prescriptions.pharmacy.signing import ORDER_SIGNATURE_HEADER, signature_header
from prescriptions.validators import validate_order_url

MAX_REFERENCE_LENGTH = 128  # PharmacySubmission.pharmacy_reference


def order_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes signed and sent (keys sorted: the same payload, the same body)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


class HttpPharmacy(PharmacyBackend):
    def __init__(self) -> None:
        self.timeout = settings.PHARMACY_TIMEOUT_SECONDS

    def send(
        self, *, payload: dict[str, Any], pharmacy: Pharmacy, idempotency_key: str
    ) -> PharmacyReceipt:
        if not pharmacy.order_url:
            raise PermanentPharmacyError("The pharmacy has no order URL", code="no_order_url")
        try:  # checked again here: the admin's form is not the only way a URL gets stored
            validate_order_url(pharmacy.order_url)
        except ValidationError:
            raise PermanentPharmacyError(
                "The pharmacy's order URL is not https", code="insecure_order_url"
            ) from None
        body = order_body(payload)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            ORDER_SIGNATURE_HEADER: signature_header(
                body, pharmacy.webhook_secret, timestamp=int(time.time())
            ),
        }
        try:
            # A redirect is an answer, never followed: it could lead the body elsewhere.
            response = requests.post(
                pharmacy.order_url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise TransientPharmacyError(
                "The pharmacy did not answer in time", code="timeout"
            ) from None
        except requests.RequestException:
            raise TransientPharmacyError("Could not reach the pharmacy", code="network") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientPharmacyError("The pharmacy is unavailable", code=f"http_{status}")
        if not 200 <= status < 300:
            raise PermanentPharmacyError("The pharmacy refused the order", code=f"http_{status}")
        return PharmacyReceipt(reference=_reference(response))


def _reference(response: requests.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    reference = answer.get("reference") if isinstance(answer, dict) else None
    return str(reference)[:MAX_REFERENCE_LENGTH] if reference else ""
