from django.urls import URLPattern

from scheduling.api import calendar, ical, slots, visits

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *slots.urlpatterns,
    *calendar.urlpatterns,
    *ical.urlpatterns,
    *visits.urlpatterns,
]
