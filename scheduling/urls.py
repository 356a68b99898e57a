from django.urls import URLPattern

from scheduling.api import visits

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *visits.urlpatterns,
]
