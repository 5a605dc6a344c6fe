"""API routes of the exchange app: the node-to-node sync line (signed by node keys), the signed partner interfaces
(hospital, bank, regional platform, e-card) and the personal self-query."""

from django.urls import path

from exchange.hospital.urls import urlpatterns as hospital_urls
from exchange.sync import views as sync_views

app_name = "exchange-api"
# The partner routes first, the card check (every hospital visit) first among them: resolved without trying others.
urlpatterns: list = [
    *hospital_urls,
    path("sync/push/", sync_views.push_receive, name="sync_push"),
    path("sync/pull/", sync_views.pull_serve, name="sync_pull"),
    path("sync/digest/", sync_views.digest_serve, name="sync_digest"),
]
