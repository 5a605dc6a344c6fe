"""Staff API routes of the cards app: each area module lists its ROUTES."""

from rest_framework.routers import SimpleRouter

from cards.api import applications, cards, holders, maintenance, production, stock, uses

app_name = "cards-api"

router = SimpleRouter()
for module in (holders, applications, production, stock, cards, maintenance, uses):
    for prefix, viewset, basename in module.ROUTES:
        router.register(prefix, viewset, basename=basename)
urlpatterns = router.urls
