"""URLs of one node: the admin (the staff UI), the versioned API, its OpenAPI schema and docs."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# exchange first: its signed partner calls (a card check at every hospital visit) are the busiest route.
API_APPS = ["exchange", "registry", "institutions", "cards", "sam", "vendors", "stats", "terminals"]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include([path("", include(f"{app}.api.urls")) for app in API_APPS])),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
]
