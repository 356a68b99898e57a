from django.urls import URLPattern

from scheduling.api import slots

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = [
    *slots.urlpatterns,
]
