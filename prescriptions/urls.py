from django.urls import URLPattern, URLResolver

from prescriptions.api import ops_actions, tracking

urlpatterns: list[URLPattern | URLResolver] = [
    *tracking.urlpatterns,
    *ops_actions.urlpatterns,
]
