"""The statistics in the admin: report pages (filter form, table, Excel, print), assessment targets, and the
dashboard that is the admin's home page (its data served as JSON to the ECharts on the page)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from html import escape  # Django's escape is this behind a lazy-string wrapper that costs more per value

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from registry.actors import Actor
from registry.admin_base import ActionAdmin
from registry.exports import Column, Sheet, export_response
from registry.scope import user_scope_prefix
from stats import actions, selectors
from stats.filtersets import FigureFilterForm, FigureFilters
from stats.models import AssessmentTarget, DailyCount
from stats.periods import ROLLING_WINDOWS, window_days

# The admin's home page is the dashboard (stats/templates/stats/dashboard.html extends the usual index).
admin.site.index_template = "stats/dashboard.html"

# What a page folds before it is drawn: one small batch, so a page waits at most ≈ 50 ms for the fold however
# far behind it is (a sync that applied a million events); the scheduled fold (every minute) and the fold after
# each action do the bulk, and the page says how fresh its figures are.
FOLD_ON_READ = {"batches": 1, "limit": 2_000}


def figure_sheet(*, figure: selectors.Figure, rows: list[dict], filters: FigureFilters, user) -> Sheet:
    """The figure as the one export machinery writes it: the same columns and rows as the page."""
    columns = [Column(header=_("group"), value=lambda row: row["label"], width=28)]
    columns += [
        Column(header=c.header, value=lambda row, key=c.key: row[key], width=c.width) for c in figure.columns
    ]
    return Sheet(
        title=str(figure.title),
        columns=columns,
        rows=rows,
        filters=filters.described(),
        generated_by=user.get_username(),
        total=len(rows),
    )


def _figure_table_body(rows: list[tuple[dict, list]]) -> str:
    """The report table's rows as HTML, drawn here rather than by the template's loops: a report by institution
    has thousands of rows, and the template engine took longer to draw them than the database took to count
    them (0.9 s of 1.6 s at 10,000,000 cards). Values are localised and escaped as the template would."""

    def text(value) -> str:
        if value is None:
            return "-"
        # Whole numbers print as they are (no thousands separator is configured); the rest as localised.
        return escape(str(value) if type(value) is int else localize(value))

    return mark_safe(  # noqa: S308  (every value is escaped above)
        "".join(
            f'<tr class="{"total" if row.get("total") else ""}" data-key="{escape(localize(row["key"]))}">'
            f"<td>{escape(localize(row['label']))}</td>"
            + "".join(f'<td class="num">{text(value)}</td>' for value in values)
            + "</tr>"
            for row, values in rows
        )
    )


def _page_number(request) -> int:
    try:
        return max(int(request.GET.get(PAGE_VAR, 1)), 1)
    except ValueError:
        return 1


def _range_presets(asked) -> list[tuple[str, str]]:
    """Links to the rolling windows (the last 30 and 365 days), the other filters kept: the ranges the fold keeps
    summed, so a report by institution over them reads one row per institution."""
    today = timezone.localdate()
    links = []
    for days in ROLLING_WINDOWS:
        first, last = window_days(days, today)
        query = asked.copy()
        query["date_from"], query["date_to"] = first.isoformat(), last.isoformat()
        links.append((_("last %(days)s days") % {"days": days}, f"?{query.urlencode()}"))
    return links


def _pagination(figure: selectors.Figure, total: dict, query: str) -> dict | None:
    """The page links of a ranked table (the admin list's style: `?p=`, elided ranges) and what the page shows;
    None for a table shown whole."""
    if "groups" not in total:
        return None
    groups, number = total["groups"], total["page"]
    paginator = Paginator(range(groups), selectors.PAGE_SIZE)
    base = f"?{query}&" if query else "?"
    links = []
    if paginator.num_pages > 1:
        for item in paginator.get_elided_page_range(number):
            if item == paginator.ELLIPSIS:
                links.append((item, None))
            else:
                links.append((item, "" if item == number else f"{base}{PAGE_VAR}={item}"))
    main = next(c.header for c in figure.columns if c.key == figure.main_column)
    first = (number - 1) * selectors.PAGE_SIZE + 1 if groups else 0
    return {
        "links": links,
        "summary": _(
            "Rows %(first)s–%(last)s of %(count)s, largest “%(column)s” first. The total row and the exports "
            "cover all of them."
        )
        % {
            "first": first,
            "last": min(number * selectors.PAGE_SIZE, groups),
            "count": groups,
            "column": main,
        },
    }


def _local_time(moment: dt.datetime | None) -> str | None:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def _json_value(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@admin.register(DailyCount)
class FigureAdmin(admin.ModelAdmin):
    """ "Figures" in the admin menu: the list of reports; each report is a page of its own."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("report/<str:name>/", view(self.report_view), name="stats_report"),
            path(
                "report/<str:name>/export/<str:fmt>/",
                view(self.report_export_view),
                name="stats_report_export",
            ),
            path(
                "report/<str:name>/cases/<str:fmt>/",
                view(self.report_cases_view),
                name="stats_report_cases",
            ),
            path("dashboard-data/", view(self.dashboard_data_view), name="stats_dashboard_data"),
            *super().get_urls(),
        ]

    def page_context(self, request) -> dict:
        """The admin's page context without the navigation sidebar: building and drawing the app list costs more
        than a figure does, and a report is a wide table that wants the room."""
        site = self.admin_site
        return {
            "site_title": site.site_title,
            "site_header": site.site_header,
            "site_url": site.site_url,
            "has_permission": site.has_permission(request),
            "available_apps": [],
            "is_popup": False,
            "is_nav_sidebar_enabled": False,
            "log_entries": [],
        }

    def _check(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied

    def changelist_view(self, request, extra_context=None):
        self._check(request)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Figures"),
            "opts": self.opts,
            "figures": [
                (figure, reverse("admin:stats_report", args=[figure.name]))
                for figure in selectors.FIGURES.values()
            ],
        }
        return TemplateResponse(request, "stats/report_index.html", context)

    def _figure(self, request, name: str, *, page: int = 0):
        """The figure, its form, filters and rows; page > 0: that page of a table ranked by institution or card
        maker (the exports pass 0: every row)."""
        self._check(request)
        try:
            figure = selectors.figure_get(name)
        except KeyError:
            raise Http404(name) from None
        form = FigureFilterForm(request.GET or None, groupings=figure.groupings)
        actions.stats_fold(**FOLD_ON_READ)
        filters = dataclasses.replace(form.filters(), page=page)
        rows = selectors.figure_rows(user=request.user, name=name, filters=filters)
        return figure, form, filters, rows

    def report_view(self, request, name: str):
        figure, form, filters, rows = self._figure(request, name, page=_page_number(request))
        asked = request.GET.copy()
        asked.pop(PAGE_VAR, None)  # the exports have every row, whatever page is on screen
        query = asked.urlencode()
        table = [(row, [row[c.key] for c in figure.columns]) for row in rows]
        context = {
            **self.page_context(request),
            "title": figure.title,
            "opts": self.opts,
            "figure": figure,
            "form": form,
            "headers": [c.header for c in figure.columns],
            "rows": table,
            "table_body": _figure_table_body(table),
            "pagination": _pagination(figure, rows[-1], query),
            "presets": _range_presets(asked),
            "fresh": figure.fresh(),
            # What the children synced (their cards, uses, registers) is as fresh as their last applied sync.
            "syncs": selectors.child_syncs(request.user, filters),
            "filters": filters,
            "xlsx_url": reverse("admin:stats_report_export", args=[name, "xlsx"])
            + (f"?{query}" if query else ""),
            "pdf_url": reverse("admin:stats_report_export", args=[name, "pdf"])
            + (f"?{query}" if query else ""),
            "out_of_scope": selectors.effective_prefix(request.user, filters) is None,
            "cases_url": reverse("admin:stats_report_cases", args=[name, "xlsx"])
            + (f"?{query}" if query else "")
            if figure.cases
            else "",
        }
        return TemplateResponse(request, "stats/report.html", context)

    def report_export_view(self, request, name: str, fmt: str):
        if fmt not in ("xlsx", "pdf"):
            raise Http404(fmt)
        figure, _form, filters, rows = self._figure(request, name)
        return export_response(
            figure_sheet(figure=figure, rows=rows, filters=filters, user=request.user), fmt
        )

    def report_cases_view(self, request, name: str, fmt: str):
        """The case-level rows behind a figure (its `cases`), scoped and filtered like the figure."""
        if fmt not in ("xlsx", "pdf"):
            raise Http404(fmt)
        self._check(request)
        figure = selectors.FIGURES.get(name)
        if figure is None or figure.cases is None:
            raise Http404(name)
        filters = FigureFilterForm(request.GET or None, groupings=figure.groupings).filters()
        title, columns, rows = figure.cases(request.user, filters)
        sheet = Sheet(
            title=str(title),
            columns=columns,
            rows=rows,
            filters=filters.described(),
            generated_by=request.user.get_username(),
        )
        return export_response(sheet, fmt)

    def dashboard_data_view(self, request):
        """The dashboard's JSON: headline, trend and one level of the region drill-down, in the user's scope."""
        self._check(request)
        actions.stats_fold(**FOLD_ON_READ)
        form = FigureFilterForm(request.GET or None)
        filters = form.filters()
        drill = selectors.dashboard_drill(user=request.user, filters=filters)
        headline, fresh = selectors.dashboard_headline(
            user=request.user, filters=filters, issuance=drill.get("total")
        )
        trend = selectors.dashboard_trend(user=request.user, filters=filters)
        for row in [*drill["children"], drill.get("total") or {}]:
            for key, value in row.items():
                row[key] = _json_value(value)
        return JsonResponse(
            {
                "headline": headline,
                "fresh": _local_time(fresh),
                # The time of the last applied sync from each child node (the figures' synced part).
                "syncs": [
                    {**sync, "applied_at": _local_time(sync["applied_at"])}
                    for sync in selectors.child_syncs(request.user, filters)
                ],
                "drill": drill,
                "trend": trend,
                "columns": [
                    {"key": c.key, "header": str(c.header)} for c in selectors.figure_get("issuance").columns
                ],
                "period": [filters.date_from.isoformat(), filters.date_to.isoformat()],
                "scope": user_scope_prefix(request.user),
            }
        )


@admin.register(AssessmentTarget)
class AssessmentTargetAdmin(ActionAdmin):
    list_display = ("year", "region", "institution_code", "measure", "value", "set_by", "set_at")
    list_filter = ("year", "measure")
    search_fields = ("institution_code", "region__name")
    fields = ("year", "region", "institution_code", "measure", "value")
    autocomplete_fields = ()
    raw_id_fields = ("region",)
    export_columns = [
        Column(gettext_lazy("year"), "year"),
        Column(gettext_lazy("region"), "region.full_name", width=30),
        Column(gettext_lazy("institution code"), "institution_code", width=20),
        Column(gettext_lazy("measure"), "measure", width=24),
        Column(gettext_lazy("target"), "value"),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ("year", "region", "institution_code", "measure") if obj else ()

    def save_model(self, request, obj, form, change):
        saved = actions.assessment_target_set(
            actor=Actor.from_request(request),
            year=form.cleaned_data.get("year", obj.year),
            region_id=(form.cleaned_data.get("region") or obj.region).code,
            institution_code=form.cleaned_data.get("institution_code", obj.institution_code) or "",
            measure=form.cleaned_data.get("measure", obj.measure),
            value=form.cleaned_data["value"],
        )
        obj.pk = saved.pk
