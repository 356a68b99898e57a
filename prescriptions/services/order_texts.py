"""The patient's delivery texts: generic wording (no drug, no pharmacy name), one per
status an order reaches, whatever moved it there (a pharmacy or carrier webhook, ops, a
task): `order_transition` calls `order_texts_schedule` as its last step.

- shipped: "on its way", with the carrier's tracking link (the app's order page when the
  carrier is not known);
- out_for_delivery: "out for delivery today";
- delivered: "delivered", nothing more;
- exception: "there is a problem with your delivery, see the app".
Other statuses send nothing. Each goes by text and by email (booking's convention),
category care, in the caller's transaction (dispatched on commit). Dedupe keys are
`order:<public_id>:<status>:<channel>`: a status reported again, or reached again after an
exception, never texts twice.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from notifications.models import Category, Channel
from notifications.services import MessageDraft, messages_schedule
from notifications.templates import TEMPLATES
from prescriptions.models import DeliveryOrder, OrderStatus

ORDER_TEMPLATES: Final[dict[str, str]] = {
    OrderStatus.SHIPPED: "delivery_shipped",
    OrderStatus.OUT_FOR_DELIVERY: "delivery_out_for_delivery",
    OrderStatus.DELIVERED: "delivery_delivered",
    OrderStatus.EXCEPTION: "delivery_exception",
}
CHANNELS: Final = (Channel.SMS, Channel.EMAIL)


def order_text_dedupe_key(order: DeliveryOrder, status: str, channel: str) -> str:
    return f"order:{order.public_id}:{status}:{channel}"


def order_texts_schedule(*, order: DeliveryOrder) -> None:
    """Tell the order's patient about the status it has just reached (module docstring)."""
    template_key = ORDER_TEMPLATES.get(order.status)
    if template_key is None:
        return
    context: dict[str, Any] = {"path": order.app_path}
    if order.carrier and order.tracking_number:
        # Quoted: the number comes from a webhook and must not add words to the text.
        context["tracking_url"] = order.carrier.tracking_url(quote(order.tracking_number, safe=""))
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
