from django.urls import URLPattern, URLResolver

from prescriptions.api import catalog, pdmp, prescriptions, protocols

urlpatterns: list[URLPattern | URLResolver] = [
    *catalog.urlpatterns,
    *pdmp.urlpatterns,
    *prescriptions.urlpatterns,
    *protocols.urlpatterns,
]
