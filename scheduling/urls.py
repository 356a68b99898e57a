from django.urls import URLPattern

from scheduling.api import cadence

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *cadence.urlpatterns,
]
