from django.urls import URLPattern

from scheduling.api import availability, physicians

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *physicians.urlpatterns,
    *availability.urlpatterns,
]
