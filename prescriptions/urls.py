from django.urls import URLPattern, URLResolver

from prescriptions.api import (
    catalog,
    ops_actions,
    orders,
    pdmp,
    prescriptions,
    protocols,
    refills,
    tracking,
    webhooks,
)

# Each resource's module (prescriptions/api/*.py) adds its routes here.
urlpatterns: list[URLPattern | URLResolver] = [
    *catalog.urlpatterns,
    *protocols.urlpatterns,
    *pdmp.urlpatterns,
    *prescriptions.urlpatterns,
    *refills.urlpatterns,
    *orders.urlpatterns,
    *tracking.urlpatterns,
    *ops_actions.urlpatterns,
    *webhooks.urlpatterns,
]
