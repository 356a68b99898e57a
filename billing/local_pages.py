"""The local gateway's hosted pages: checkout, billing portal and invoice, standing in for
Stripe's. They exist only while BILLING_GATEWAY is the local gateway (404 otherwise)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_http_methods

from billing.gateways import base, local
from billing.gateways.local import LocalGateway
from billing.gateways.registry import gateway


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _local_object(object_id: str, kind: str) -> dict[str, Any]:
    if not isinstance(gateway(), LocalGateway):
        raise Http404
    try:
        data = local.object_get(object_id)
    except base.PermanentGatewayError:
        raise Http404 from None
    if data.get("object") != kind:
        raise Http404
    return data


def _page(request: HttpRequest, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("plan_name", settings.MEMBERSHIP_NAME)
    return render(request, "billing/local_page.html", context, status=status)


def _card_error(number: str) -> str:
    if local.card_behavior(number) is None:
        return "Use one of the Stripe test cards listed above."
    return ""


@require_http_methods(["GET", "POST"])
def checkout_page(request: HttpRequest, session_id: str) -> HttpResponse:
    session = _local_object(session_id, "checkout.session")
    amount = _dollars(settings.MEMBERSHIP_AMOUNT_CENTS)
    done: dict[str, Any] = {
        "message": "Payment complete. Your membership is active.",
        "link_text": "Back to the app",
    }
    if session["status"] == "complete":
        return _page(request, title="Already paid", link=session["success_url"], **done)
    form: dict[str, Any] = {
        "title": "Start your membership",
        "amount": amount,
        "form": True,
        "button": "Pay",
    }
    if request.method == "GET":
        return _page(request, link=session["cancel_url"], link_text="Cancel", **form)
    number = request.POST.get("card_number", "")
    if error := _card_error(number):
        return _page(request, status=400, error=error, **form)
    try:
        local.checkout_complete(session_id, number)
    except base.CardDeclined:
        return _page(request, status=402, error="Your card was declined.", **form)
    return _page(request, title="Thank you", link=session["success_url"], **done)


@require_http_methods(["GET", "POST"])
def portal_page(request: HttpRequest, portal_session_id: str) -> HttpResponse:
    portal = _local_object(portal_session_id, "billing_portal.session")
    customer = local.object_get(portal["customer"])
    card = customer.get("card") or {}
    form: dict[str, Any] = {
        "title": "Your billing",
        "facts": [("Card on file", f"ending {card['last4']}" if card else "none")],
        "form": True,
        "button": "Update card",
        "link": portal["return_url"],
        "link_text": "Back to the app",
    }
    if request.method == "GET":
        return _page(request, **form)
    number = request.POST.get("card_number", "")
    if error := _card_error(number):
        return _page(request, status=400, error=error, **form)
    try:
        local.card_update(portal_session_id, number)
    except base.CardDeclined:
        return _page(request, status=402, error="Your card was declined.", **form)
    form["facts"] = [("Card on file", f"ending {number[-4:]}")]
    return _page(request, message="Card updated. Any payment due has been retried.", **form)


@require_http_methods(["GET"])
def invoice_page(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = _local_object(invoice_id, "invoice")
    period = invoice["lines"]["data"][0]["period"]

    def day(ts: int) -> str:
        return datetime.fromtimestamp(ts, tz=UTC).date().isoformat()

    facts = [
        ("Number", invoice["number"]),
        ("Amount", _dollars(invoice["amount_due"])),
        ("Status", invoice["status"]),
        ("Period", f"{day(period['start'])} to {day(period['end'])}"),
    ]
    return _page(request, title="Invoice", facts=facts)


urlpatterns: list[URLPattern] = [
    path("local-checkout/<slug:session_id>", checkout_page, name="local-checkout"),
    path("local-portal/<slug:portal_session_id>", portal_page, name="local-portal"),
    path("local-invoice/<slug:invoice_id>", invoice_page, name="local-invoice"),
]
