"""Staff API routes of the cards app."""

app_name = "cards-api"
urlpatterns: list = []
