from django.urls import URLPattern

from scheduling.api import (
    appointments,
    availability,
    cadence,
    calendar,
    ical,
    physicians,
    slots,
    visits,
)

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *physicians.urlpatterns,
    *availability.urlpatterns,
    *slots.urlpatterns,
    *appointments.urlpatterns,
    *visits.urlpatterns,
    *calendar.urlpatterns,
    *ical.urlpatterns,
    *cadence.urlpatterns,
]
