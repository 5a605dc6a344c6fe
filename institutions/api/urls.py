"""API routes of the institutions app: staff registers, and the hospital-facing whoami."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from institutions.api import views

app_name = "institutions-api"

router = SimpleRouter()
router.register("medical-institutions", views.MedicalInstitutionViewSet, basename="medical-institution")
router.register("card-makers", views.CardMakerViewSet, basename="card-maker")
router.register("financial-institutions", views.FinancialInstitutionViewSet, basename="financial-institution")
router.register("api-credentials", views.ApiCredentialViewSet, basename="api-credential")
urlpatterns = [
    path("hospital/whoami", views.WhoAmIView.as_view(), name="hospital-whoami"),
    *router.urls,
]
