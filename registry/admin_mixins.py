"""What every app's admin shares: region scope, the region tree filter, export and print of the filtered list."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from registry.exports import Column, Sheet, export_response
from registry.models import Region
from registry.models.regions import region_prefix
from registry.scope import scope_queryset, user_scope_prefix


class ScopedAdminMixin:
    """Every admin queryset passes through the user's region scope (lists, change pages, exports, actions)."""

    scope_field: str | None = None  # default: the model's REGION_SCOPE_FIELD

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, field=self.scope_field)


class RegionTreeFilter(admin.SimpleListFilter):
    """Drill down the region tree: the choices are the children of the chosen region (or of the user's scope)."""

    title = gettext_lazy("region")
    parameter_name = "region_tree"
    scope_field = "region__code"

    def lookups(self, request, model_admin):
        chosen = self.value()
        base = chosen or _scope_root(request.user)
        if base is None:
            return []
        # xxxx01 "市辖区" codes are kept for old ID numbers but are no place a clerk would pick.
        children = (
            Region.objects.filter(parent_id=base)
            .exclude(name__endswith="市辖区")
            .only("code", "name")
            .order_by("code")
        )
        choices = [(r.code, r.name) for r in children]
        if chosen:
            region = Region.objects.filter(code=chosen).only("code", "full_name").first()
            if region is not None:
                choices.insert(0, (region.code, f"▸ {region.full_name}"))
        return choices

    def queryset(self, request, queryset):
        code = self.value()
        if not code:
            return queryset
        field = getattr(queryset.model, "REGION_SCOPE_FIELD", self.scope_field)
        return queryset.filter(**{f"{field}__startswith": region_prefix(code)})


def _scope_root(user) -> str | None:
    prefix = user_scope_prefix(user)
    if prefix is None:
        return None
    if user.scope_region_id and region_prefix(user.scope_region_id) == prefix:
        return user.scope_region_id
    return settings.HC_REGION


def describe_changelist_filters(changelist: ChangeList) -> list[tuple[str, str]]:
    """The filters a person chose on the list, in words, for the header of an export or printout."""
    described = []
    for spec in changelist.filter_specs:
        params = set(spec.expected_parameters())
        if not params & set(changelist.params):
            continue
        for choice in spec.choices(changelist):
            if choice.get("selected") and choice.get("display") not in (None, _("All")):
                described.append((str(spec.title), str(choice["display"])))
                break
    if changelist.query:
        described.append((_("search"), changelist.query))
    return described


class ExportAdminMixin:
    """Adds "Export to Excel" and "Print" to a changelist: the current filtered rows, the columns below.

    Lists larger than HC_EXPORT_SYNC_LIMIT rows become a background export job with progress.
    """

    export_columns: list[Column] = []
    export_title: str = ""
    change_list_template = "registry/admin/change_list_export.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export/<str:fmt>/",
                self.admin_site.admin_view(self.export_view),
                name=f"{info[0]}_{info[1]}_export",
            ),
            *super().get_urls(),
        ]

    def get_export_title(self) -> str:
        return str(self.export_title or self.opts.verbose_name_plural)

    def export_sheet(self, request: HttpRequest) -> Sheet:
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        return Sheet(
            title=self.get_export_title(),
            columns=self.export_columns,
            rows=queryset,
            filters=describe_changelist_filters(changelist),
            generated_by=request.user.get_username(),
        )

    def export_view(self, request: HttpRequest, fmt: str):
        from registry.actions import export_job_create

        if fmt not in ("xlsx", "pdf"):
            raise PermissionDenied
        if not self.has_view_permission(request):
            raise PermissionDenied
        sheet = self.export_sheet(request)
        rows = sheet.rows.count()
        if fmt == "xlsx" and rows > settings.HC_EXPORT_SYNC_LIMIT:
            job = export_job_create(
                user=request.user,
                source=f"admin:{self.opts.label_lower}",
                params=request.GET.dict(),
                fmt=fmt,
                rows_total=rows,
            )
            self.message_user(
                request,
                _("%(rows)s rows is a large export: it runs in the background; download it here when done.")
                % {"rows": rows},
                messages.INFO,
            )
            return HttpResponseRedirect(reverse("admin:registry_exportjob_change", args=[job.pk]))
        sheet.total = rows
        return export_response(sheet, fmt)


class NoCountPaginator(Paginator):
    """Pages of a list of millions without COUNT(*): the count is the rows before the page asked for plus
    those found in a window of a few pages ahead (primary keys only, on the list's index), so it is exact
    near the end and a lower bound elsewhere (`uncounted` then says so on the page)."""

    pages_ahead = 5

    def __init__(self, *args, page_number: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.page_number = max(int(page_number), 1)
        self.uncounted = False

    @cached_property
    def count(self) -> int:
        offset = (self.page_number - 1) * self.per_page
        window = self.per_page * self.pages_ahead
        found = len(self.object_list.values_list("pk", flat=True)[offset : offset + window + 1])
        if found == 0 and offset:
            return 0  # past the end: the admin shows its "page does not exist" instead of counting
        self.uncounted = found > window
        return offset + min(found, window)


class NoCountPaginationMixin:
    """For changelists over millions of rows (cards, holders, applications, journal, audit): no COUNT(*)."""

    paginator = NoCountPaginator
    show_full_result_count = False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        try:
            page = int(request.GET.get(PAGE_VAR, 1))
        except ValueError:
            page = 1
        return self.paginator(queryset, per_page, orphans, allow_empty_first_page, page_number=page)
