"""Routes of the hospital API, under /api/v1/hospital/ (whoami lives in institutions)."""

from django.urls import path

from exchange.hospital import partners, personal, views

urlpatterns = [
    # First: the card check is the call every hospital makes at every visit.
    path("hospital/cards/<str:card_no>/status", views.CardStatusView.as_view(), name="hospital-card-status"),
    path("hospital/identity/verify", views.IdentityVerifyView.as_view(), name="hospital-identity-verify"),
    path("hospital/cards/verify-batch", views.VerifyBatchView.as_view(), name="hospital-verify-batch"),
    path("hospital/cards/issued", views.CardIssuedView.as_view(), name="hospital-card-issued"),
    path(
        "hospital/cards/<str:card_no>/replacement",
        views.ReplacementView.as_view(),
        name="hospital-card-replacement",
    ),
    path("hospital/cards/<str:card_no>", views.CardPatchView.as_view(), name="hospital-card-update"),
    path(
        "hospital/residents/<str:card_no>", views.ResidentPatchView.as_view(), name="hospital-resident-update"
    ),
    path("hospital/blacklist", views.BlacklistDeltaView.as_view(), name="hospital-blacklist-delta"),
    path(
        "hospital/blacklist/snapshot",
        views.BlacklistSnapshotView.as_view(),
        name="hospital-blacklist-snapshot",
    ),
    path(
        "hospital/whitelist/snapshot",
        views.WhitelistSnapshotView.as_view(),
        name="hospital-whitelist-snapshot",
    ),
    path("hospital/card-uses", views.CardUsesView.as_view(), name="hospital-card-uses"),
    path("hospital/ehc", personal.EhcIssueView.as_view(), name="hospital-ehc-issue"),
    path("hospital/ehc/verify", personal.EhcVerifyView.as_view(), name="hospital-ehc-verify"),
    path("hospital/ehc/<str:ehc_id>/qr", personal.EhcQrView.as_view(), name="hospital-ehc-qr"),
    path("selfquery/code", personal.SelfQueryCodeView.as_view(), name="selfquery-code"),
    path("selfquery/result", personal.SelfQueryResultView.as_view(), name="selfquery-result"),
    path("bank/applications", partners.BankApplicationView.as_view(), name="bank-applications"),
    path("bank/loss-reports", partners.BankLossReportView.as_view(), name="bank-loss-reports"),
    path("bank/status-changes", partners.BankStatusChangesView.as_view(), name="bank-status-changes"),
    path("regional/imports/<str:kind>", partners.RegionalImportView.as_view(), name="regional-import"),
]
