"""Staff API routes of the sam app."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from sam.api import views

app_name = "sam-api"

router = SimpleRouter()
router.register("sam-applications", views.SamApplicationViewSet, basename="sam-application")
router.register("sam-plans", views.SamPlanViewSet, basename="sam-plan")
router.register("sam-cards", views.SamViewSet, basename="sam-card")
router.register("sam-stock-ins", views.SamStockInViewSet, basename="sam-stock-in")
router.register("sam-stock-outs", views.SamStockOutViewSet, basename="sam-stock-out")
router.register("sam-shipments", views.SamShipmentViewSet, basename="sam-shipment")
urlpatterns = [
    path("sam-supervision/<str:report>/", views.SamSupervisionView.as_view(), name="sam-supervision"),
    *router.urls,
]
