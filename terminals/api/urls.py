"""Staff API routes of the terminals app."""

app_name = "terminals-api"
urlpatterns: list = []
