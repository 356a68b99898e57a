from django.urls import URLPattern

from scheduling.api import availability, cadence, calendar, ical, physicians, slots, visits

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *physicians.urlpatterns,
    *availability.urlpatterns,
    *slots.urlpatterns,
    *calendar.urlpatterns,
    *ical.urlpatterns,
    *visits.urlpatterns,
    *cadence.urlpatterns,
]
