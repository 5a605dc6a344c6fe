"""Staff API routes of the exchange app."""

app_name = "exchange-api"
urlpatterns: list = []
