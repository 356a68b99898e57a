from django.urls import URLPattern, URLResolver

from prescriptions.api import webhooks

urlpatterns: list[URLPattern | URLResolver] = [
    *webhooks.urlpatterns,
]
