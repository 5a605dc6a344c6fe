"""The people on the blacklist (person entries of registry's list) as the cards app shows them: who, why, until
when, who decided; filters, export and print. Entries are added and removed on the holder's page."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cards.models import PersonBlacklistEntry
from registry.admin_base import ActionAdmin
from registry.admin_mixins import RegionTreeFilter
from registry.choices import EntryType, ListName
from registry.exports import Column


class ListedNowFilter(admin.SimpleListFilter):
    title = _("listed now")
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", _("Listed now")), ("no", _("Removed"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(removed_number__isnull=True)
        if self.value() == "no":
            return queryset.filter(removed_number__isnull=False)
        return queryset


@admin.register(PersonBlacklistEntry)
class PersonBlacklistAdmin(ActionAdmin):
    list_display = [
        "label",
        "note",
        "valid_until",
        "added_by",
        "added_at",
        "region",
        "removed_at",
        "removed_note",
    ]
    list_filter = [ListedNowFilter, RegionTreeFilter, "valid_until", "added_at"]
    search_fields = ["label", "note"]
    list_select_related = ["region"]
    show_full_result_count = False
    actions = None
    export_title = _("People on the blacklist")
    export_columns = [
        Column(_("person (masked)"), "label", 28),
        Column(_("reason"), "note", 30),
        Column(_("valid until"), "valid_until", 12),
        Column(_("decided by"), "added_by", 14),
        Column(_("added at"), "added_at", 18),
        Column(_("added in list number"), "added_number", 10),
        Column(_("region"), "region_id", 8),
        Column(_("removed at"), "removed_at", 18),
        Column(_("removal note"), "removed_note", 24),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(list_name=ListName.BLACKLIST, entry_type=EntryType.PERSON)

    def has_add_permission(self, request):
        return False  # added on the holder's page (person_blacklist_add), with reason and period

    def has_change_permission(self, request, obj=None):
        return False
