"""The signature on every order we send a pharmacy and every status report a pharmacy or
carrier sends us: Stripe's scheme, HMAC-SHA256 over "<timestamp>.<body>" with the
sender's secret, in a header `t=<timestamp>,v1=<hex>`.

Signing is billing's (the same scheme, one implementation); checking adds what Stripe's
check leaves out: a timestamp too far in the future is refused like one too old.
"""

from __future__ import annotations

import time

from billing.gateways.base import WebhookSignatureInvalid
from billing.gateways.shapes import signature_header, signature_verify

ORDER_SIGNATURE_HEADER = "X-Pharmacy-Signature"  # on orders we POST to a pharmacy
SIGNATURE_HEADERS = {  # on status reports, by sender kind
    "pharmacy": "X-Pharmacy-Signature",
    "carrier": "X-Carrier-Signature",
}

__all__ = ["SignatureInvalid", "signature_check", "signature_header"]


class SignatureInvalid(Exception):
    """Missing, wrongly signed, too old or from the future."""


def signature_check(body: bytes, header: str, *, secret: str, tolerance: int) -> None:
    """Raise SignatureInvalid unless `header` signs `body` with `secret` at a time within
    `tolerance` seconds of now (either way)."""
    try:
        signature_verify(body, header, secret=secret, tolerance=tolerance)
    except WebhookSignatureInvalid:
        raise SignatureInvalid("Signature verification failed") from None
    stamp = next(part[2:] for part in header.split(",") if part.startswith("t="))
    if int(stamp) > time.time() + tolerance:
        raise SignatureInvalid("Signature verification failed")
