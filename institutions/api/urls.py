"""Staff API routes of the institutions app."""

app_name = "institutions-api"
urlpatterns: list = []
