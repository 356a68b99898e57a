from django.urls import URLPattern, URLResolver

from prescriptions.api import ops_actions, orders, refills, tracking, webhooks

# Each resource's module (prescriptions/api/*.py) adds its routes here.
urlpatterns: list[URLPattern | URLResolver] = [
    *orders.urlpatterns,
    *refills.urlpatterns,
    *tracking.urlpatterns,
    *ops_actions.urlpatterns,
    *webhooks.urlpatterns,
]
