"""The blacklist and whitelist in the admin: read-only rows (cards and SAM write them through their actions),
filters, export/print, and the signed list file as hospitals receive it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from registry.admin_base import ActionAdmin
from registry.admin_mixins import RegionTreeFilter
from registry.choices import ListName
from registry.exports import Column
from registry.lists import list_file, list_number
from registry.models import ListEntry


class CurrentFilter(admin.SimpleListFilter):
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


@admin.register(ListEntry)
class ListEntryAdmin(ActionAdmin):
    list_display = [
        "list_name",
        "added_number",
        "entry_type",
        "label",
        "subject_hex",
        "reason",
        "region",
        "added_at",
        "added_by",
        "removed_number",
        "removed_at",
    ]
    list_filter = ["list_name", CurrentFilter, "entry_type", "reason", RegionTreeFilter, "added_at"]
    search_fields = ["label", "object_ref", "note"]
    show_full_result_count = False
    list_select_related = ["region"]
    change_list_template = "registry/admin/listentry_change_list.html"
    export_columns = [
        Column(_("list"), "get_list_name_display", 10),
        Column(_("added in list number"), "added_number", 10),
        Column(_("entry type"), "get_entry_type_display", 10),
        Column(_("subject (masked)"), "label", 28),
        Column(_("identifier"), "subject_hex", 18),
        Column(_("reason"), "get_reason_display", 16),
        Column(_("region"), "region_id", 8),
        Column(_("added at"), "added_at", 18),
        Column(_("note"), "note", 24),
        Column(_("removed in list number"), "removed_number", 10),
        Column(_("removed at"), "removed_at", 18),
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("identifier"))
    def subject_hex(self, obj):
        return obj.subject_hex

    def get_urls(self):
        return [
            path(
                "file/<str:list_name>/",
                self.admin_site.admin_view(self.file_view),
                name="registry_listentry_file",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request, list_name: str):
        """The signed snapshot of one list, exactly as the hospital API hands it out."""
        if not self.has_view_permission(request) or list_name not in ListName.values:
            return HttpResponse(status=403)
        blob = list_file(list_name=list_name)
        response = HttpResponse(blob, content_type="application/octet-stream")
        name = f"{list_name}-{list_number(list_name)}.hcl"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "list_numbers": [(name, label, list_number(name)) for name, label in ListName.choices],
        }
        return super().changelist_view(request, extra_context)
