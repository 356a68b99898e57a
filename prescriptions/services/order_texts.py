"""The patient's delivery texts: generic wording (no drug, no pharmacy name), one per
status an order reaches, whatever moved it there (a pharmacy or carrier webhook, ops, a
task): `order_transition` calls `order_texts_schedule` as its last step.

- shipped: "on its way", with the carrier's tracking link (the app's order page when the
  carrier is not known, or the tracking number is anything but letters and digits);
- out_for_delivery: "out for delivery today";
- delivered: "delivered", nothing more;
- exception: "there is a problem with your delivery, see the app".
Other statuses send nothing. Each goes by text and by email (booking's convention),
category care, in the caller's transaction (dispatched on commit). Dedupe keys are
`order:<public_id>:<status>:<channel>`: a status reported again, or reached again after an
exception, never texts twice.
"""

from __future__ import annotations

import re
from typing import Any, Final

from notifications.models import Category, Channel
from notifications.services import MessageDraft, messages_schedule
from notifications.templates import TEMPLATES, clinical_words_in
from prescriptions.models import DeliveryOrder, OrderStatus

ORDER_TEMPLATES: Final[dict[str, str]] = {
    OrderStatus.SHIPPED: "delivery_shipped",
    OrderStatus.OUT_FOR_DELIVERY: "delivery_out_for_delivery",
    OrderStatus.DELIVERED: "delivery_delivered",
    OrderStatus.EXCEPTION: "delivery_exception",
}
CHANNELS: Final = (Channel.SMS, Channel.EMAIL)
_PLAIN: Final = re.compile(r"[A-Za-z0-9]{1,64}")


def order_text_dedupe_key(order: DeliveryOrder, status: str, channel: str) -> str:
    return f"order:{order.public_id}:{status}:{channel}"


def tracking_number_plain(number: str) -> bool:
    """Whether a tracking number (from a webhook) may go in a text: letters and digits
    only, no clinical word. Otherwise the text links to the app's order page instead."""
    return bool(_PLAIN.fullmatch(number)) and not clinical_words_in(number)


def order_texts_schedule(*, order: DeliveryOrder) -> None:
    """Tell the order's patient about the status it has just reached (module docstring)."""
    template_key = ORDER_TEMPLATES.get(order.status)
    if template_key is None:
        return
    context: dict[str, Any] = {"path": order.app_path}
    if order.carrier and tracking_number_plain(order.tracking_number):
        context["tracking_url"] = order.carrier.tracking_url(order.tracking_number)
    declared = TEMPLATES[template_key].context_keys
    context = {key: value for key, value in context.items() if key in declared}
    recipient = order.patient.user
    messages_schedule(
        [
            MessageDraft(
                recipient=recipient,
                template_key=template_key,
                category=Category.CARE,
                channel=channel,
                dedupe_key=order_text_dedupe_key(order, order.status, channel),
                context=context,
            )
            for channel in CHANNELS
        ]
    )
