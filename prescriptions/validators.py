"""Where a pharmacy's orders may be posted. An order carries the patient's name, date of
birth, address and prescription, so it travels only over TLS; plain http is accepted for
this machine alone (the local servers the tests and the benchmark stand up)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def validate_order_url(url: str) -> None:
    """Refuse an order URL that would send patient data in clear text."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return
    raise ValidationError(
        "Orders carry patient data: the pharmacy's order URL must start with https://.",
        code="insecure_order_url",
    )
