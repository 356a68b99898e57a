"""The payment gateway seam: `gateway()` returns the backend named by BILLING_GATEWAY."""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from billing.gateways.base import BillingGateway


@functools.cache
def gateway_for(path: str) -> BillingGateway:
    """One instance per dotted path (tests clear it with `gateway_for.cache_clear()`)."""
    gateway: BillingGateway = import_string(path)()
    return gateway


def gateway() -> BillingGateway:
    return gateway_for(settings.BILLING_GATEWAY)
