"""Billing endpoints. Patients manage their own membership (there is no id in these URLs:
nobody can address another patient's membership); ops admins see every membership and
the summary; physicians reach none of it. Gateway trouble answers 502/503, never 500."""

from __future__ import annotations

from typing import Any

import django_filters
from django.conf import settings
from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from accounts.permissions import IsOpsAdmin, IsPatient, user_of
from audit.services import audit_phi_read
from billing import selectors
from billing.models import Invoice, InvoiceStatus, Subscription, SubscriptionStatus
from billing.services.checkout import checkout_start
from billing.services.membership import (
    invoice_pay_now,
    membership_set_cancel_at_period_end,
    portal_url,
)
from billing.services.webhooks import webhook_receive
from core.api import enum_field, error_responses
from core.errors import ValidationFailed
from core.parsers import json_body_problem
from patients.selectors.own_record import own_record

# --- the patient's membership --------------------------------------------------------------

# Endpoints that call the payment gateway: the per-user limit, plus a stricter one shared
# by all of them (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["payments"]).
PAYMENTS_THROTTLES = [UserRateThrottle, ScopedRateThrottle]
PAYMENTS_SCOPE = "payments"


class NextInvoiceOut(serializers.Serializer):
    amount_cents = serializers.IntegerField()
    currency = serializers.CharField()
    date = serializers.DateTimeField(allow_null=True)


class MembershipOut(serializers.Serializer):
    state = enum_field(selectors.MEMBERSHIP_STATES, help_text="See the billing docs.")
    allowed = serializers.BooleanField(
        help_text="Whether check-ins, prescriptions, refills and deliveries are allowed."
    )
    reason = serializers.CharField(allow_blank=True, help_text="Why not, when not allowed.")
    gateway_status = enum_field(SubscriptionStatus.values, allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    grace_ends_at = serializers.DateTimeField(
        allow_null=True, help_text="While past due: when access pauses unless paid."
    )
    amount_cents = serializers.IntegerField()
    currency = serializers.CharField()
    next_invoice = NextInvoiceOut(allow_null=True)


def _membership(subscription: Subscription | None, *, with_next_invoice: bool) -> dict[str, Any]:
    gate = selectors.gate_for(subscription)
    next_invoice = None
    if with_next_invoice and subscription is not None and gate.allowed:
        next_invoice = _next_invoice(subscription)
    return {
        "state": gate.state,
        "allowed": gate.allowed,
        "reason": gate.reason,
        "gateway_status": subscription.status if subscription else None,
        "current_period_end": subscription.current_period_end if subscription else None,
        "cancel_at_period_end": bool(subscription and subscription.cancel_at_period_end),
        "grace_ends_at": gate.grace_ends_at,
        "amount_cents": subscription.amount_cents
        if subscription
        else settings.MEMBERSHIP_AMOUNT_CENTS,
        "currency": subscription.currency if subscription else settings.MEMBERSHIP_CURRENCY,
        "next_invoice": next_invoice,
    }


def _next_invoice(subscription: Subscription) -> dict[str, Any] | None:
    upcoming = selectors.next_invoice_preview(subscription)
    if upcoming is None:
        return None
    return {
        "amount_cents": upcoming.amount_due_cents,
        "currency": upcoming.currency,
        "date": upcoming.next_payment_attempt,
    }


def _answer_membership(request: Request, subscription: Subscription | None) -> Response:
    if subscription is not None:
        audit_phi_read(actor=user_of(request), objects=[subscription])
    return Response(MembershipOut(_membership(subscription, with_next_invoice=True)).data)


class MembershipView(APIView):
    permission_classes = [IsPatient]
    throttle_classes = PAYMENTS_THROTTLES
    throttle_scope = PAYMENTS_SCOPE

    @extend_schema(
        responses={200: MembershipOut, **error_responses(401, 403, 409)},
        summary="My membership: state, period end, cancellation, next invoice",
    )
    def get(self, request: Request) -> Response:
        patient = own_record(user_of(request))
        return _answer_membership(request, selectors.current_subscription(patient))


class MembershipCancelView(APIView):
    permission_classes = [IsPatient]
    throttle_classes = PAYMENTS_THROTTLES
    throttle_scope = PAYMENTS_SCOPE
    cancel = True

    @extend_schema(
        request=None,
        responses={200: MembershipOut, **error_responses(401, 403, 409, 502, 503)},
        summary="Cancel my membership at the end of the current period",
        description="Access continues until the period ends. Asking twice is harmless.",
    )
    def post(self, request: Request) -> Response:
        subscription = membership_set_cancel_at_period_end(
            user=user_of(request), cancel=self.cancel
        )
        return _answer_membership(request, subscription)


class MembershipResumeView(MembershipCancelView):
    cancel = False

    @extend_schema(
        request=None,
        responses={200: MembershipOut, **error_responses(401, 403, 409, 502, 503)},
        summary="Keep my membership (undo a cancellation before the period ends)",
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class PayNowView(APIView):
    permission_classes = [IsPatient]
    throttle_classes = PAYMENTS_THROTTLES
    throttle_scope = PAYMENTS_SCOPE

    @extend_schema(
        request=None,
        responses={200: MembershipOut, **error_responses(401, 402, 403, 409, 502, 503)},
        summary="Pay the overdue membership invoice now",
        description="Charges the card on file (update it in the billing portal first). "
        "402 `card_declined` when refused; 409 `nothing_due` when nothing is overdue.",
    )
    def post(self, request: Request) -> Response:
        invoice = invoice_pay_now(user=user_of(request))
        return _answer_membership(request, invoice.subscription)  # the current one


class RedirectOut(serializers.Serializer):
    url = serializers.URLField(help_text="Send the browser here.")


class CheckoutView(APIView):
    permission_classes = [IsPatient]
    throttle_classes = PAYMENTS_THROTTLES
    throttle_scope = PAYMENTS_SCOPE

    @extend_schema(
        request=None,
        responses={200: RedirectOut, **error_responses(401, 403, 409, 502, 503)},
        summary="Start the membership checkout",
        description="Returns the hosted checkout page's URL. A repeated request returns the "
        "same checkout while it is valid. 409 `already_member` while a membership is "
        "active, past due, paused or awaiting its first payment. The membership starts "
        "when the payment provider confirms it (by webhook), not when the browser returns.",
    )
    def post(self, request: Request) -> Response:
        attempt = checkout_start(user=user_of(request))
        return Response({"url": attempt.url})


class PortalView(APIView):
    permission_classes = [IsPatient]
    throttle_classes = PAYMENTS_THROTTLES
    throttle_scope = PAYMENTS_SCOPE

    @extend_schema(
        request=None,
        responses={200: RedirectOut, **error_responses(401, 403, 409, 502, 503)},
        summary="Open the billing portal (change the card, receipts)",
    )
    def post(self, request: Request) -> Response:
        return Response({"url": portal_url(user=user_of(request))})


class InvoiceOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    status = enum_field(InvoiceStatus.values)
    amount_due_cents = serializers.IntegerField()
    amount_paid_cents = serializers.IntegerField()
    currency = serializers.CharField()
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    hosted_invoice_url = serializers.CharField(allow_blank=True)
    issued_at = serializers.DateTimeField()


@extend_schema(
    responses={200: InvoiceOut(many=True), **error_responses(401, 403, 409)},
    summary="My invoices, newest first",
)
class InvoiceListView(generics.ListAPIView):
    permission_classes = [IsPatient]
    serializer_class = InvoiceOut

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Invoice.objects.none()
        return selectors.invoices_of(own_record(user_of(self.request)))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        audit_phi_read(actor=user_of(request), objects=page)
        return self.get_paginated_response(InvoiceOut(page, many=True).data)


# --- ops -----------------------------------------------------------------------------------


class OpsMembershipOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    patient_id = serializers.UUIDField(source="patient.public_id")
    patient_name = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    gateway_status = enum_field(SubscriptionStatus.values, source="status")
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    past_due_since = serializers.DateTimeField(allow_null=True)
    canceled_at = serializers.DateTimeField(allow_null=True)
    amount_cents = serializers.IntegerField()
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_patient_name(self, subscription: Subscription) -> str:
        patient = subscription.patient
        return f"{patient.legal_first_name} {patient.legal_last_name}".strip()

    @extend_schema_field({"type": "string", "enum": list(selectors.MEMBERSHIP_STATES[1:])})
    def get_state(self, subscription: Subscription) -> str:
        return selectors.membership_state(subscription)


class MembershipFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=[(state, state) for state in selectors.MEMBERSHIP_STATES[1:]],
        method="in_state",
        help_text="Only memberships in this state (see GET /api/billing/membership).",
    )

    class Meta:
        model = Subscription
        fields: list[str] = []

    def in_state(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(selectors.state_filter(value))


@extend_schema(
    responses={200: OpsMembershipOut(many=True), **error_responses(400, 401, 403)},
    summary="Every membership (one per patient), newest first",
)
class OpsMembershipListView(generics.ListAPIView):
    permission_classes = [IsOpsAdmin]
    serializer_class = OpsMembershipOut
    filterset_class = MembershipFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Subscription.objects.none()
        return selectors.memberships_for_ops()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        audit_phi_read(actor=user_of(request), objects=page)
        return self.get_paginated_response(OpsMembershipOut(page, many=True).data)


class SummaryOut(serializers.Serializer):
    active = serializers.IntegerField()
    past_due = serializers.IntegerField(help_text="Past due, within the grace period.")
    paused = serializers.IntegerField(help_text="Past due beyond the grace period.")
    canceled_this_month = serializers.IntegerField(help_text="On the practice's calendar.")
    monthly_recurring_revenue_cents = serializers.IntegerField(
        help_text="Monthly amount of active and past-due (in grace) memberships."
    )
    currency = serializers.CharField()


class OpsSummaryView(APIView):
    permission_classes = [IsOpsAdmin]

    @extend_schema(
        responses={200: SummaryOut, **error_responses(401, 403)},
        summary="Membership figures: active, past due, paused, canceled, MRR",
    )
    def get(self, request: Request) -> Response:
        return Response(SummaryOut(selectors.membership_summary()).data)


# --- the gateway's webhook -------------------------------------------------------------------


class WebhookAckOut(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField()


class StripeWebhookView(APIView):
    """Called by Stripe (or the local gateway), authenticated by its signature only."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object"}},
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Stripe's signature of the raw body: `t=<timestamp>,v1=<hmac>`.",
            )
        ],
        responses={200: WebhookAckOut, **error_responses(400, 413, 503)},
        summary="Stripe webhook (signed)",
        description="The body is verified against the Stripe-Signature header (tolerance "
        "300 s); anything unsigned, wrongly signed or stale is 400 and changes nothing. "
        "Each event is applied once; a duplicate answers 200 with `duplicate: true`.",
        auth=[],
    )
    def post(self, request: Request) -> Response:
        # The raw body is verified, then parsed with plain json: hold it to the API's JSON
        # rules first (nesting that would exhaust json's recursion, text we cannot store).
        if (problem := json_body_problem(request.body)) is not None:
            raise ValidationFailed(problem, code="parse_error")
        outcome = webhook_receive(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature", "")
        )
        return Response({"received": True, "duplicate": outcome is None})


urlpatterns: list[URLPattern] = [
    path("membership", MembershipView.as_view(), name="billing-membership"),
    path("membership/cancel", MembershipCancelView.as_view(), name="billing-cancel"),
    path("membership/resume", MembershipResumeView.as_view(), name="billing-resume"),
    path("membership/pay", PayNowView.as_view(), name="billing-pay-now"),
    path("checkout", CheckoutView.as_view(), name="billing-checkout"),
    path("portal", PortalView.as_view(), name="billing-portal"),
    path("invoices", InvoiceListView.as_view(), name="billing-invoices"),
    path("memberships", OpsMembershipListView.as_view(), name="billing-memberships"),
    path("summary", OpsSummaryView.as_view(), name="billing-summary"),
    path("stripe/webhook", StripeWebhookView.as_view(), name="billing-stripe-webhook"),
]
