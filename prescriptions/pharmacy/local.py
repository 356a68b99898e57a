"""The local pharmacy: the embedded default's PHARMACY_BACKEND (production refuses it).

`send` records that it received an order: the order, the idempotency key, a digest of
the payload and the time, never the payload itself. A second send with the same key is
dropped and answered with the first receipt, as a real pharmacy does. What happens next
(compounding, shipping, delivery) is played by prescriptions.pharmacy.local_play.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction

from prescriptions.models import DeliveryOrder, LocalPharmacyReceipt, Pharmacy
from prescriptions.pharmacy.base import PermanentPharmacyError, PharmacyBackend, PharmacyReceipt
from prescriptions.pharmacy.http import order_body


class LocalPharmacy(PharmacyBackend):
    def send(
        self, *, payload: dict[str, Any], pharmacy: Pharmacy, idempotency_key: str
    ) -> PharmacyReceipt:
        order = DeliveryOrder.objects.filter(number=payload.get("order", {}).get("number")).first()
        if order is None:
            raise PermanentPharmacyError("No such order", code="unknown_order")
        existing = LocalPharmacyReceipt.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            try:
                with transaction.atomic():
                    existing = LocalPharmacyReceipt.objects.create(
                        order=order,
                        idempotency_key=idempotency_key,
                        payload_sha256=hashlib.sha256(order_body(payload)).hexdigest(),
                        reference=f"LOCAL-{order.number}",
                    )
            except IntegrityError:  # a concurrent retry of the same key got there first
                existing = LocalPharmacyReceipt.objects.get(idempotency_key=idempotency_key)
        return PharmacyReceipt(reference=existing.reference)
