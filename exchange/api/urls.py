"""API routes of the exchange app: the signed partner interfaces (hospital, bank, regional platform, e-card)
and the personal self-query."""

from exchange.hospital.urls import urlpatterns as hospital_urls

app_name = "exchange-api"
urlpatterns: list = [*hospital_urls]
