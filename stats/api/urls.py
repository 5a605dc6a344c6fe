"""Staff API routes of the stats app."""

app_name = "stats-api"
urlpatterns: list = []
