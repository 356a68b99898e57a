"""A physician's availability in the Django admin: one page per physician with their
schedule (zone, buffer, public profile), weekly rules and date overrides inline.

Ops admins only (User.has_module_perms), as in the API where ops admins manage any
physician's availability. The forms refuse what the API refuses, with the same rules
(scheduling.services.availability), and every write is audited by AuditedAdmin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import AuditedAdmin
from scheduling.models import (
    AvailabilityOverride,
    PhysicianAvailability,
    PhysicianSchedule,
    WeeklyAvailability,
)
from scheduling.selectors.availability import physician_today
from scheduling.services.availability import (
    OverrideRequest,
    ScheduleSettings,
    WeeklyWindow,
    override_problems,
    schedule_settings_problems,
    weekly_rules_problems,
)


class PhysicianScheduleForm(forms.ModelForm):
    photo_url = forms.URLField(max_length=200, required=False, assume_scheme="https")

    class Meta:
        model = PhysicianSchedule
        fields = [
            "time_zone",
            "buffer_minutes",
            "title",
            "board_certification",
            "languages",
            "bio",
            "photo_url",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        settings = ScheduleSettings(
            time_zone=cleaned.get("time_zone", ""),
            buffer_minutes=cleaned.get("buffer_minutes", 0),
            languages=tuple(cleaned.get("languages") or ()),
            photo_url=cleaned.get("photo_url", ""),
        )
        for name, reasons in schedule_settings_problems(settings).items():
            self.add_error(name.removeprefix("profile."), reasons)
        return cleaned


class ScheduleInline(admin.StackedInline):
    model = PhysicianSchedule
    form = PhysicianScheduleForm
    max_num = 1
    can_delete = False


def _deleting(formset: Any, form: Any) -> bool:
    return bool(formset.can_delete and form.cleaned_data.get("DELETE"))


def _kept(formset: Any) -> list[Any]:
    return [form for form in formset.forms if form.cleaned_data and not _deleting(formset, form)]


class WeeklyFormSet(forms.BaseInlineFormSet):
    """The rules as a set: end after start, no overlap on one weekday."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = _kept(self)
        windows = [
            WeeklyWindow(
                f.cleaned_data["weekday"], f.cleaned_data["start_time"], f.cleaned_data["end_time"]
            )
            for f in kept
        ]
        for key, reasons in weekly_rules_problems(windows).items():
            _, index, name = key.split(".")
            kept[int(index)].add_error(name, reasons)


class WeeklyInline(admin.TabularInline):
    model = WeeklyAvailability
    formset = WeeklyFormSet
    extra = 0


class OverrideFormSet(forms.BaseInlineFormSet):
    """New or changed overrides: not in the past (the physician's today), times that make
    sense, extra hours not overlapping on one date. Past overrides are kept."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        today = physician_today(self.instance)
        for form in self.forms:
            if _deleting(self, form) and form.instance.pk and form.instance.date < today:
                raise forms.ValidationError("Past overrides are kept.")
        kept = _kept(self)
        for form in kept:
            if not form.has_changed():
                continue
            data = form.cleaned_data
            request = OverrideRequest(
                date=data["date"],
                kind=data["kind"],
                start_time=data.get("start_time"),
                end_time=data.get("end_time"),
            )
            others = [other.instance for other in kept if other is not form]
            for name, reasons in override_problems(request, today=today, existing=others).items():
                form.add_error(name, reasons)


class OverrideInline(admin.TabularInline):
    model = AvailabilityOverride
    formset = OverrideFormSet
    fields = ["date", "kind", "start_time", "end_time"]
    extra = 0


@admin.register(PhysicianAvailability)
class PhysicianAvailabilityAdmin(AuditedAdmin):
    """The physician's name is fixed here (credentials live under Accounts); their
    schedule, weekly rules and overrides are edited inline."""

    list_display = ["last_name", "first_name", "npi"]
    search_fields = ["last_name", "npi"]
    fields = ["first_name", "last_name", "npi"]
    readonly_fields = ["first_name", "last_name", "npi"]
    inlines = [ScheduleInline, WeeklyInline, OverrideInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Nothing of the physician itself is editable here: only the inlines are saved.
        return
