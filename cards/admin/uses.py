"""Admin of card use: the reported records (scoped, filtered, exported), the batches, the daily aggregates.

Nothing here is edited: records come from hospitals' batches (`cards.actions.card_use_ingest_batch`)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cards.admin.production import ReadOnlyPagesMixin
from cards.models import CardUse, CardUseBatch, CardUseDaily
from institutions.models import MedicalInstitution
from registry.admin_base import ActionAdmin
from registry.admin_mixins import RegionTreeFilter
from registry.exports import Column
from registry.scope import scope_queryset

CARD_USE_COLUMNS = [
    Column(_("time of use"), "used_at", 18),
    Column(_("medical institution"), "institution.name", 28),
    Column(_("card"), lambda row: row.card or "-", 26),
    Column(_("chip serial"), "chip_serial", 14),
    Column(_("scenario"), lambda row: row.get_scenario_display() or "-", 12),
    Column(_("region"), "region.full_name", 22),
    Column(_("status"), lambda row: row.get_status_display(), 8),
    Column(_("reason"), lambda row: row.get_reason_display(), 30),
    Column(_("batch id"), "batch.batch_id", 20),
]
CARD_USE_BATCH_COLUMNS = [
    Column(_("batch id"), "batch_id", 20),
    Column(_("medical institution"), "institution.name", 28),
    Column(_("received at"), "received_at", 18),
    Column(_("records"), "record_count", 10),
    Column(_("accepted"), "accepted_count", 10),
    Column(_("duplicates"), "duplicate_count", 10),
    Column(_("rejected"), "rejected_count", 10),
]
CARD_USE_DAILY_COLUMNS = [
    Column(_("day"), "day", 12),
    Column(_("medical institution"), "institution.name", 28),
    Column(_("scenario"), lambda row: row.get_scenario_display(), 14),
    Column(_("region"), "region.full_name", 22),
    Column(_("uses"), "count", 10),
]


class InstitutionFilter(admin.SimpleListFilter):
    """The medical institutions of the person's region only (a plain FK filter would list every one)."""

    title = _("medical institution")
    parameter_name = "institution"

    def lookups(self, request, model_admin):
        institutions = scope_queryset(MedicalInstitution.objects.all(), request.user).order_by(
            "region_id", "name"
        )
        return [(i.code, i.name) for i in institutions.only("code", "name")[:200]]

    def queryset(self, request, queryset):
        return queryset.filter(institution__code=self.value()) if self.value() else queryset


@admin.register(CardUse)
class CardUseAdmin(ReadOnlyPagesMixin, ActionAdmin):
    list_display = [
        "used_at",
        "institution",
        "card",
        "chip_serial",
        "scenario",
        "region",
        "status",
        "reason",
        "batch",
    ]
    list_filter = [RegionTreeFilter, InstitutionFilter, "scenario", "status", "reason", "used_at"]
    search_fields = ["batch__batch_id", "chip_serial", "institution__code", "institution__name"]
    list_select_related = ["institution", "region", "card", "batch"]
    # No date hierarchy: it would scan the whole table for its dates; the time filter uses the index.
    show_full_result_count = False
    readonly_fields = ["change_history"]
    export_columns = CARD_USE_COLUMNS
    export_title = _("Card uses")


@admin.register(CardUseBatch)
class CardUseBatchAdmin(ReadOnlyPagesMixin, ActionAdmin):
    list_display = [
        "batch_id",
        "institution",
        "received_at",
        "record_count",
        "accepted_count",
        "duplicate_count",
        "rejected_count",
    ]
    list_filter = [RegionTreeFilter, InstitutionFilter, "received_at"]
    search_fields = ["batch_id", "institution__code", "institution__name"]
    list_select_related = ["institution"]
    show_full_result_count = False
    readonly_fields = ["change_history"]
    export_columns = CARD_USE_BATCH_COLUMNS
    export_title = _("Card use batches")


@admin.register(CardUseDaily)
class CardUseDailyAdmin(ReadOnlyPagesMixin, ActionAdmin):
    list_display = ["day", "institution", "scenario", "region", "count"]
    list_filter = [RegionTreeFilter, InstitutionFilter, "scenario", "day"]
    search_fields = ["institution__code", "institution__name"]
    list_select_related = ["institution", "region"]
    show_full_result_count = False
    date_hierarchy = "day"
    readonly_fields = ["change_history"]
    export_columns = CARD_USE_DAILY_COLUMNS
    export_title = _("Daily card uses")
