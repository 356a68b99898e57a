"""Prescriptions in the Django admin: delivery orders for ops admins (the same list,
filters and search as the API, read-only but for three actions), and the catalog.

Who sees what obeys prescriptions.selectors.scoping: the order list is
orders_visible_to(user). Prescriptions, protocols, dose changes, PDMP checks and
in-person evaluations are clinical records and are NOT registered at all (for no one,
superusers included): ops admins must not reach them, and physicians work through the API.
Every read and write here is audited by AuditedAdmin; the actions call
prescriptions.services.ops, which audit their own writes. Webhook secrets are write-only:
a form takes a new one, nothing ever displays the stored one."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.admin import AuditedAdmin, admin_actor
from accounts.models import User
from core.errors import ApplicationError
from prescriptions.models import Carrier, DeliveryEvent, DeliveryOrder, Medication, Pharmacy
from prescriptions.selectors.scoping import orders_visible_to
from prescriptions.services.ops import (
    order_exception_mark,
    order_note_add,
    order_replacement_create,
)


class OrderActionForm(ActionForm):
    text = forms.CharField(
        label="Reason or note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
    )


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(overdue_at__isnull=self.value() == "no")
        return queryset


EVENT_FIELDS = ["at", "from_status", "to_status", "source", "actor", "external_id", "note"]
ORDER_FIELDS = [
    "number", "kind", "status", "status_changed_at", "pharmacy", "carrier", "tracking_number",
    "ship_to_name", "ship_to_line1", "ship_to_line2", "ship_to_city", "ship_to_zip",
    "ship_to_state", "ship_to_county", "delivered_signed_by", "replaces", "created_at",
    "sent_to_pharmacy_at", "shipped_at", "delivered_at", "overdue_at", "overdue_reason",
]  # fmt: skip


class DeliveryEventInline(admin.TabularInline):
    model = DeliveryEvent
    extra = 0
    can_delete = False
    fields = list(EVENT_FIELDS)
    readonly_fields = EVENT_FIELDS
    ordering = ["at", "pk"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DeliveryOrder)
class DeliveryOrderAdmin(AuditedAdmin):
    list_display = [
        "number", "kind", "status", "ship_to_state", "ship_to_county", "pharmacy", "carrier",
        "tracking_number", "created_at", "shipped_at", "overdue_reason",
    ]  # fmt: skip
    list_filter = [
        "status", "kind", "ship_to_state", "pharmacy", "carrier", OverdueFilter, "created_at",
        "sent_to_pharmacy_at", "shipped_at", "delivered_at",
    ]  # fmt: skip
    search_help_text = "An order number or tracking number (exact, any case)."
    search_fields = ["number"]  # get_search_results does the matching
    fields = list(ORDER_FIELDS)
    readonly_fields = ORDER_FIELDS
    inlines = [DeliveryEventInline]
    action_form = OrderActionForm
    actions = ["mark_exception", "create_replacement", "add_note"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeliveryOrder]:
        user = request.user
        return orders_visible_to(user) if isinstance(user, User) else DeliveryOrder.objects.none()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(number=term.upper()) | Q(tracking_number__iexact=term)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_act_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("prescriptions.view_deliveryorder")

    def _each(self, request: HttpRequest, queryset: QuerySet[Any], act: Any, done: str) -> None:
        actor = admin_actor(request)
        assert actor is not None
        text = request.POST.get("text", "")
        succeeded = 0
        for order in queryset:
            try:
                act(order=order, actor=actor, text=text)
                succeeded += 1
            except ApplicationError as exc:
                detail = f"{exc.message} {exc.fields or ''}".strip()
                self.message_user(request, f"{order.number}: {detail}", messages.ERROR)
        if succeeded:
            self.message_user(request, f"{succeeded} orders {done}.", messages.SUCCESS)

    @admin.action(description="Mark as exception (reason required)", permissions=["act"])
    def mark_exception(self, request: HttpRequest, queryset: QuerySet[DeliveryOrder]) -> None:
        self._each(
            request,
            queryset,
            lambda order, actor, text: order_exception_mark(order=order, actor=actor, reason=text),
            "marked as exceptions",
        )

    @admin.action(description="Create a replacement (reason required)", permissions=["act"])
    def create_replacement(self, request: HttpRequest, queryset: QuerySet[DeliveryOrder]) -> None:
        self._each(
            request,
            queryset,
            lambda order, actor, text: order_replacement_create(
                order=order, actor=actor, reason=text
            ),
            "replaced",
        )

    @admin.action(description="Add a note", permissions=["act"])
    def add_note(self, request: HttpRequest, queryset: QuerySet[DeliveryOrder]) -> None:
        self._each(
            request,
            queryset,
            lambda order, actor, text: order_note_add(order=order, actor=actor, note=text),
            "noted",
        )


# --- catalog ---------------------------------------------------------------------------


@admin.register(Medication)
class MedicationAdmin(AuditedAdmin):
    list_display = ["name", "dosage_form", "strength_mg", "route", "unit", "active"]
    list_filter = ["dosage_form", "active"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retire with `active`: prescriptions point at it


class SecretForm(forms.ModelForm):
    """The stored secret is never shown; a new one replaces it (required when adding)."""

    new_webhook_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave empty to keep the current secret.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.instance.pk and not cleaned.get("new_webhook_secret"):
            self.add_error("new_webhook_secret", "A new partner needs its webhook secret.")
        return cleaned

    def save(self, commit: bool = True) -> Any:
        if secret := self.cleaned_data.get("new_webhook_secret"):
            self.instance.webhook_secret = secret
        return super().save(commit)


class PharmacyForm(SecretForm):
    # Typed without a scheme, a URL is https (validate_order_url refuses plain http).
    order_url = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Pharmacy
        fields = ["name", "npi", "dea_number", "ships_to", "active", "order_url"]


class CarrierForm(SecretForm):
    tracking_url_template = forms.URLField(max_length=300, assume_scheme="https")

    class Meta:
        model = Carrier
        fields = ["code", "name", "tracking_url_template", "active"]


@admin.register(Pharmacy)
class PharmacyAdmin(AuditedAdmin):
    form = PharmacyForm
    list_display = ["name", "npi", "ships_to", "active"]
    list_filter = ["active"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Carrier)
class CarrierAdmin(AuditedAdmin):
    form = CarrierForm
    list_display = ["code", "name", "active"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
