"""Staff API routes of the vendors app."""

app_name = "vendors-api"
urlpatterns: list = []
