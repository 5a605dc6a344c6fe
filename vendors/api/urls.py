"""Staff API routes of the vendors app."""

from rest_framework.routers import SimpleRouter

from vendors.api import views

app_name = "vendors-api"

router = SimpleRouter()
router.register("manufacturers", views.ManufacturerViewSet, basename="manufacturer")
router.register("filed-products", views.FiledProductViewSet, basename="filed-product")
router.register("actual-uses", views.ActualUseViewSet, basename="actual-use")
router.register("card-maker-filings", views.CardMakerFilingViewSet, basename="card-maker-filing")
urlpatterns = router.urls
