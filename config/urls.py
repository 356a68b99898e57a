from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Resolving tries the patterns in order, each include walking all of its own: the
    # includes under their own prefix come first (one failed prefix match for any other
    # path), the two sharing "api/" last. No route of those two starts with a prefix here.
    path("api/prescriptions/", include("prescriptions.urls")),
    path("api/scheduling/", include("scheduling.urls")),
    path("api/notifications/", include("notifications.urls")),
    path("api/billing/", include("billing.urls")),
    path("api/", include("accounts.urls")),
    path("api/", include("patients.urls")),
    path("billing/", include("billing.local_pages")),
]

handler400 = "core.api.bad_request"
handler403 = "core.api.permission_denied"
handler404 = "core.api.not_found"
handler500 = "core.api.server_error"
