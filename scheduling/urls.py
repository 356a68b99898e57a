from django.urls import URLPattern

from scheduling.api import appointments, slots

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *slots.urlpatterns,
    *appointments.urlpatterns,
]
