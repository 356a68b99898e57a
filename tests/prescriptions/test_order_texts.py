"""The patient's delivery texts: one (by text and by email) when an order ships, goes out
for delivery, is delivered or hits an exception, whatever reports it; nothing for other
statuses; generic wording; never twice for one status."""

from __future__ import annotations

import pytest

from notifications.models import Message
from notifications.templates import TEMPLATES, clinical_words_in, render_email, render_sms
from prescriptions.models import DeliveryOrder, EventSource, OrderStatus
from prescriptions.services.order_texts import ORDER_TEMPLATES, order_texts_schedule
from prescriptions.services.orders import order_transition
from tests.prescriptions.support import carrier, pharmacy, prescription_for
from tests.prescriptions.support_refill import fill

pytestmark = pytest.mark.django_db

S = OrderStatus
TEXTED = {S.SHIPPED, S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION}


@pytest.fixture
def order(patient, physician) -> DeliveryOrder:
    pharmacy()
    return fill(prescription_for(patient, physician), status=S.CREATED, sent_at=None)


def move(order: DeliveryOrder, *statuses: str, source: str = EventSource.CARRIER) -> None:
    for status in statuses:
        order_transition(
            order=order,
            to=status,
            source=source,
            carrier=carrier() if status == S.SHIPPED else None,
            tracking_number="1Z999AA10123456784" if status == S.SHIPPED else "",
        )


def texts(order: DeliveryOrder) -> dict[str, Message]:
    return {m.dedupe_key: m for m in Message.objects.filter(dedupe_key__startswith="order:")}


def keys(order: DeliveryOrder, status: str) -> set[str]:
    return {f"order:{order.public_id}:{status}:{channel}" for channel in ("sms", "email")}


def test_the_happy_path_texts_at_shipped_out_for_delivery_and_delivered(order, patient):
    move(order, S.SENT_TO_PHARMACY, S.COMPOUNDING)
    assert texts(order) == {}  # nothing before it ships

    move(order, S.SHIPPED, S.OUT_FOR_DELIVERY, S.DELIVERED)

    sent = texts(order)
    assert set(sent) == keys(order, S.SHIPPED) | keys(order, S.OUT_FOR_DELIVERY) | keys(
        order, S.DELIVERED
    )
    assert {m.recipient_id for m in sent.values()} == {patient.pk}
    assert {m.category for m in sent.values()} == {"care"}
    shipped = render_sms("delivery_shipped", sent[f"order:{order.public_id}:shipped:sms"].context)
    assert "https://carrier.example/track/1Z999AA10123456784" in shipped
    assert order.app_path in shipped


def test_the_delivered_text_says_delivered_and_nothing_more(order):
    move(order, S.SENT_TO_PHARMACY, S.SHIPPED, S.DELIVERED)
    message = texts(order)[f"order:{order.public_id}:delivered:sms"]

    text = render_sms(message.template_key, message.context)
    assert text.endswith(": your package was delivered.")
    assert message.context == {}


def test_an_exception_texts_there_is_a_problem(order):
    move(order, S.SENT_TO_PHARMACY, S.EXCEPTION, source=EventSource.PHARMACY)
    message = texts(order)[f"order:{order.public_id}:exception:sms"]

    text = render_sms(message.template_key, message.context)
    assert "there is a problem with your delivery, see the app" in text
    assert set(texts(order)) == keys(order, S.EXCEPTION)


@pytest.mark.parametrize(
    "path",
    [
        (S.SENT_TO_PHARMACY,),
        (S.SENT_TO_PHARMACY, S.COMPOUNDING),
        (S.CANCELED,),
        (S.SENT_TO_PHARMACY, S.SHIPPED, S.RETURNED),
    ],
)
def test_other_statuses_send_nothing(order, path):
    move(order, *path)
    expected = keys(order, S.SHIPPED) if S.SHIPPED in path else set()

    assert set(texts(order)) == expected


def test_a_status_reached_again_does_not_text_again(order):
    """Shipped, an exception, shipped again once the carrier finds it: one shipped text."""
    move(order, S.SENT_TO_PHARMACY, S.SHIPPED, S.EXCEPTION, S.SHIPPED)
    order.refresh_from_db()
    order_texts_schedule(order=order)  # and a repeated report of it

    assert Message.objects.filter(dedupe_key__in=keys(order, S.SHIPPED)).count() == 2
    assert set(texts(order)) == keys(order, S.SHIPPED) | keys(order, S.EXCEPTION)


@pytest.mark.parametrize("status", sorted(TEXTED))
def test_no_text_names_a_drug_or_the_pharmacy(order, status):
    template = ORDER_TEMPLATES[status]
    context = {"path": order.app_path, "tracking_url": "https://carrier.example/track/1Z9"}
    context = {k: v for k, v in context.items() if k in TEMPLATES[template].context_keys}
    subject, body = render_email(template, context)
    for text in (render_sms(template, context), subject, body):
        assert clinical_words_in(text) == [], text
        assert "Partner Compounding" not in text


@pytest.mark.parametrize("number", ["1Z 9 ketamine", "KETAMINE", "1Z-9\nrefill"])
def test_a_tracking_number_cannot_add_words_to_the_text(order, number):
    move(order, S.SENT_TO_PHARMACY)
    order_transition(
        order=order,
        to=S.SHIPPED,
        source=EventSource.CARRIER,
        carrier=carrier(),
        tracking_number=number,
    )
    message = texts(order)[f"order:{order.public_id}:shipped:sms"]
    text = render_sms(message.template_key, message.context)

    assert clinical_words_in(text) == []
    assert message.context == {"path": order.app_path}  # the app's order page instead
    assert text.count(order.app_path) == 2
