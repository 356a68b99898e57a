from django.urls import URLPattern

from scheduling.api import calendar, ical

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *calendar.urlpatterns,
    *ical.urlpatterns,
]
