from django.urls import URLPattern, URLResolver

from prescriptions.api import orders, refills

# Each resource's module (prescriptions/api/*.py) adds its routes here.
urlpatterns: list[URLPattern | URLResolver] = [
    *orders.urlpatterns,
    *refills.urlpatterns,
]
