"""Staff API routes of the sam app."""

app_name = "sam-api"
urlpatterns: list = []
