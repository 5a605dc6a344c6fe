"""Staff API routes of the registry."""

from rest_framework.routers import DefaultRouter

from registry.api import views

app_name = "registry-api"

router = DefaultRouter()
router.register("regions", views.RegionViewSet, basename="region")
router.register("centres", views.CentreViewSet, basename="centre")
urlpatterns = router.urls
