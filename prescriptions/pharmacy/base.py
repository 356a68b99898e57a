"""What every pharmacy backend takes and returns, its errors, and which backend settings
name.

A backend hands one delivery order (the 503A payload of
prescriptions.selectors.pharmacy_order) to its pharmacy and returns the pharmacy's
reference. Every attempt for one order carries the same idempotency key (the
PharmacySubmission's), so a pharmacy drops a retry of an order it already has: that is
why a timeout here is transient, not "uncertain" as for a text message.

Errors are the send errors every channel backend raises (notifications.errors), so the
outbox task applies the contract the message dispatcher applies:
`TransientPharmacyError` (timeout, connection, 5xx, 429: try again later) and
`PermanentPharmacyError` (the pharmacy refused the order, a 4xx: mark it failed and tell
the ops admins). `code` is short and safe to log; nothing a backend logs carries PHI.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.errors import PermanentSendError, TransientSendError
from prescriptions.models import Pharmacy


@dataclass(frozen=True)
class PharmacyReceipt:
    reference: str  # the pharmacy's own id for the order ("" when it gives none)


class TransientPharmacyError(TransientSendError):
    """Worth retrying with the same idempotency key."""


class PermanentPharmacyError(PermanentSendError):
    """The pharmacy will not take this order as it is."""


class PharmacyBackend:
    def send(
        self, *, payload: dict[str, Any], pharmacy: Pharmacy, idempotency_key: str
    ) -> PharmacyReceipt:
        raise NotImplementedError


@functools.cache
def _backend_class(path: str) -> type[PharmacyBackend]:
    return import_string(path)


def get_pharmacy_backend() -> PharmacyBackend:
    """The backend settings.PHARMACY_BACKEND names by dotted path (like EMAIL_BACKEND)."""
    return _backend_class(settings.PHARMACY_BACKEND)()


def is_local_backend(path: str) -> bool:
    """True for the embedded default (settings' beat flag and production's refusal)."""
    return path.endswith(".local.LocalPharmacy")
