"""Admin of filings (editable at the ministry, a read-only copy below), actual use and its figures, and card
makers compared with filings. Every list exports and prints; writes go through vendors.actions."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from institutions.actions import check_region, clean_code
from registry.actors import Actor
from registry.admin_base import ActionAdmin, run_with_reason
from registry.admin_mixins import RegionTreeFilter, ScopedAdminMixin
from registry.choices import NATION_CODE
from registry.errors import DomainError
from registry.exports import Column, Sheet, export_response
from registry.models import Region
from vendors import actions
from vendors.choices import ActualUseGrouping
from vendors.filtersets import ActualUseFilterSet
from vendors.models import ActualUse, CardMakerFiling, FiledProduct, Manufacturer
from vendors.selectors import (
    actual_use_totals,
    card_maker_filed_products,
    card_maker_filing_match,
    national_queryset,
)

MANUFACTURER_COLUMNS = [
    Column(_("name"), "name", 30),
    Column(_("unified social credit code"), "code", 22),
    Column(_("region"), "region.full_name", 22),
    Column(_("contact person"), "contact_person", 10),
    Column(_("phone"), "phone", 14),
    Column(_("address"), "address", 30),
    Column(_("status"), "status", 8),
    Column(_("registered at"), "registered_at", 18),
]
PRODUCT_COLUMNS = [
    Column(_("filing number"), "filing_number", 18),
    Column(_("product name"), "name", 22),
    Column(_("model"), "model", 14),
    Column(_("product type"), "product_type", 12),
    Column(_("manufacturer"), "manufacturer.name", 28),
    Column(_("unified social credit code"), "manufacturer.code", 22),
    Column(_("filing date"), "filing_date", 12),
    Column(_("valid until"), "valid_until", 12),
    Column(_("status"), "status", 8),
    Column(_("valid today"), lambda p: p.is_valid_on(), 8),
    Column(_("test report"), "test_report", 18),
]
ACTUAL_USE_COLUMNS = [
    Column(_("institution"), lambda u: u.institution.name, 30),
    Column(_("unified social credit code"), lambda u: u.institution.code, 22),
    Column(_("region"), "region.full_name", 22),
    Column(_("filed product"), lambda u: f"{u.product.name} {u.product.model}", 24),
    Column(_("filing number"), "product.filing_number", 18),
    Column(_("product type"), "product.product_type", 12),
    Column(_("manufacturer"), "product.manufacturer.name", 26),
    Column(_("quantity"), "quantity", 8),
    Column(_("in use since"), "since", 12),
    Column(_("status"), "status", 8),
    Column(_("note"), "note", 24),
]
CARD_MAKER_FILING_COLUMNS = [
    Column(_("name"), "name", 30),
    Column(_("unified social credit code"), "code", 22),
    Column(_("region"), "region.full_name", 22),
    Column(_("status"), "status", 8),
    Column(_("has a valid filed product"), "has_valid_filing", 12),
    Column(_("matched by"), lambda m: matched_by(m), 14),
]
FIGURE_COLUMNS = [
    Column(_("code"), lambda row: row["key"], 22),
    Column(_("name"), lambda row: row["label"], 34),
    Column(_("quantity"), lambda row: row["quantity"], 10),
    Column(_("registrations"), lambda row: row["registrations"], 10),
    Column(_("institutions"), lambda row: row["institutions"], 10),
]


def matched_by(maker) -> str:
    if getattr(maker, "filing_manufacturer_by_code", False):
        return str(_("unified social credit code"))
    return str(_("name")) if maker.has_valid_filing else "-"


class FilingRegionFilter(RegionTreeFilter):
    """Filings are national: the drill-down starts at the provinces whatever the user's own scope."""

    def lookups(self, request, model_admin):
        if self.value():
            return super().lookups(request, model_admin)
        provinces = Region.objects.filter(parent_id=NATION_CODE).only("code", "name").order_by("code")
        return [(r.code, r.name) for r in provinces]


class ManufacturerRegionFilter(FilingRegionFilter):
    title = _("manufacturer region")
    scope_field = "manufacturer__region__code"


class ValidTodayFilter(admin.SimpleListFilter):
    title = _("valid today")
    parameter_name = "valid"

    def lookups(self, request, model_admin):
        return [("1", _("Yes")), ("0", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.valid()
        if self.value() == "0":
            return queryset.exclude(pk__in=FiledProduct.objects.valid().values("pk"))
        return queryset


class FilingAdmin(ActionAdmin):
    """Filings: national lists (not region-scoped), editable through actions at the ministry only.

    Below the ministry the copy is written by sync alone: no add, no change, no actions; list, detail and
    export/print work.
    """

    show_full_result_count = False
    list_per_page = 50
    actions = ["suspend_selected", "revoke_selected", "reinstate_selected", "delete_unreferenced"]

    # Subclasses name the action behind each admin action: filing_suspend(actor=, obj=, reason=) and so on.

    def get_queryset(self, request):
        queryset = super(ScopedAdminMixin, self).get_queryset(request)
        return national_queryset(queryset, request.user)

    def has_add_permission(self, request):
        return actions.filings_editable_here() and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return actions.filings_editable_here() and super().has_change_permission(request, obj)

    def has_revoke_permission(self, request):
        opts = self.opts
        return actions.filings_editable_here() and request.user.has_perm(
            f"{opts.app_label}.revoke_{opts.model_name}"
        )

    def has_remove_permission(self, request):
        opts = self.opts
        return actions.filings_editable_here() and request.user.has_perm(
            f"{opts.app_label}.delete_{opts.model_name}"
        )

    def changelist_view(self, request, extra_context=None):
        if not actions.filings_editable_here():
            extra_context = {
                **(extra_context or {}),
                "subtitle": _("Read-only copy of the ministry's filings, kept current by sync"),
            }
        return super().changelist_view(request, extra_context)

    def _run(self, request, queryset, *, title, action_name, perform):
        return run_with_reason(self, request, queryset, title=title, action_name=action_name, perform=perform)

    @admin.action(description=_("Suspend selected filings"), permissions=["revoke"])
    def suspend_selected(self, request, queryset):
        return self._run(
            request, queryset, title=_("Suspend"), action_name="suspend_selected", perform=self.filing_suspend
        )

    @admin.action(description=_("Revoke selected filings"), permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        return self._run(
            request, queryset, title=_("Revoke"), action_name="revoke_selected", perform=self.filing_revoke
        )

    @admin.action(description=_("Reinstate selected filings"), permissions=["revoke"])
    def reinstate_selected(self, request, queryset):
        return self._run(
            request,
            queryset,
            title=_("Reinstate"),
            action_name="reinstate_selected",
            perform=self.filing_reinstate,
        )

    @admin.action(description=_("Delete selected (only if nothing refers to them)"), permissions=["remove"])
    def delete_unreferenced(self, request, queryset):
        return self._run(
            request,
            queryset,
            title=_("Delete"),
            action_name="delete_unreferenced",
            perform=self.filing_delete,
        )


class ManufacturerForm(forms.ModelForm):
    """Checks what the actions would refuse, so the clerk sees it next to the field, in Chinese."""

    def clean_code(self):
        try:
            return clean_code(self.cleaned_data["code"])
        except DomainError as error:
            raise forms.ValidationError(error.message_zh) from error

    def clean_region(self):
        region = self.cleaned_data["region"]
        try:
            check_region(Manufacturer, region)
        except DomainError as error:
            raise forms.ValidationError(error.message_zh) from error
        return region


@admin.register(Manufacturer)
class ManufacturerAdmin(FilingAdmin):
    form = ManufacturerForm
    list_display = ["name", "code", "region", "contact_person", "phone", "product_count", "status"]
    list_filter = [FilingRegionFilter, "status", "registered_at"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["region"]
    list_select_related = ["region"]
    readonly_fields = [
        "status",
        "status_reason",
        "registered_at",
        "changed_at",
        "products_panel",
        "change_history",
    ]
    fieldsets = [
        (None, {"fields": ["name", "code", "region", "status", "status_reason"]}),
        (_("Contacts"), {"fields": ["contact_person", "phone", "address"]}),
        (_("Filed products"), {"fields": ["products_panel"]}),
        (_("History"), {"fields": ["registered_at", "changed_at", "change_history"]}),
    ]
    export_columns = MANUFACTURER_COLUMNS
    export_title = _("Filed manufacturers")

    def filing_suspend(self, *, actor, obj, reason):
        return actions.manufacturer_suspend(actor=actor, manufacturer=obj, reason=reason)

    def filing_revoke(self, *, actor, obj, reason):
        return actions.manufacturer_revoke(actor=actor, manufacturer=obj, reason=reason)

    def filing_reinstate(self, *, actor, obj, reason):
        return actions.manufacturer_reinstate(actor=actor, manufacturer=obj, reason=reason)

    def filing_delete(self, *, actor, obj, reason):
        return actions.manufacturer_delete(actor=actor, manufacturer=obj, reason=reason)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_total=Count("products"))

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "code"] if obj else fields

    @admin.display(description=_("filed products"), ordering="product_total")
    def product_count(self, obj):
        return obj.product_total

    @admin.display(description=_("filed products"))
    def products_panel(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        products = list(obj.products.all()[:50])
        if not products:
            return "-"
        return format_html_join(
            "",
            "<div>{} · {} {} · {} · {} · {}</div>",
            (
                (
                    p.filing_number,
                    p.name,
                    p.model,
                    p.get_product_type_display(),
                    p.get_status_display(),
                    _("valid until %(date)s") % {"date": p.valid_until.isoformat()},
                )
                for p in products
            ),
        )

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        values = {f: form.cleaned_data[f] for f in actions.MANUFACTURER_EDITABLE if f in form.cleaned_data}
        if change:
            saved = actions.manufacturer_update(actor=actor, manufacturer=obj, **values)
        else:
            saved = actions.manufacturer_register(actor=actor, code=form.cleaned_data["code"], **values)
        obj.pk = saved.pk
        obj.refresh_from_db()


class FiledProductForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("filing_date"), cleaned.get("valid_until")
        if start and end and end < start:
            self.add_error(
                "valid_until", _("The filing is valid until before its filing date: check both dates.")
            )
        return cleaned


@admin.register(FiledProduct)
class FiledProductAdmin(FilingAdmin):
    form = FiledProductForm
    list_display = [
        "filing_number",
        "name",
        "model",
        "product_type",
        "manufacturer",
        "filing_date",
        "valid_until",
        "status",
        "valid_today",
    ]
    list_filter = [ValidTodayFilter, "product_type", "status", ManufacturerRegionFilter, "filing_date"]
    search_fields = ["filing_number", "name", "model", "manufacturer__name", "manufacturer__code"]
    autocomplete_fields = ["manufacturer"]
    list_select_related = ["manufacturer"]
    readonly_fields = [
        "status",
        "status_reason",
        "valid_today",
        "registered_at",
        "changed_at",
        "change_history",
    ]
    fieldsets = [
        (None, {"fields": ["manufacturer", "product_type", "name", "model", "filing_number", "test_report"]}),
        (_("Validity"), {"fields": ["filing_date", "valid_until", "status", "status_reason", "valid_today"]}),
        (_("History"), {"fields": ["registered_at", "changed_at", "change_history"]}),
    ]
    export_columns = PRODUCT_COLUMNS
    export_title = _("Filed products")

    def filing_suspend(self, *, actor, obj, reason):
        return actions.product_suspend(actor=actor, product=obj, reason=reason)

    def filing_revoke(self, *, actor, obj, reason):
        return actions.product_revoke(actor=actor, product=obj, reason=reason)

    def filing_reinstate(self, *, actor, obj, reason):
        return actions.product_reinstate(actor=actor, product=obj, reason=reason)

    def filing_delete(self, *, actor, obj, reason):
        return actions.product_delete(actor=actor, product=obj, reason=reason)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "manufacturer", "filing_number"] if obj else fields

    @admin.display(description=_("valid today"), boolean=True)
    def valid_today(self, obj):
        return obj.is_valid_on() if obj and obj.pk else None

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        values = {f: form.cleaned_data[f] for f in actions.PRODUCT_EDITABLE if f in form.cleaned_data}
        if change:
            saved = actions.product_update(actor=actor, product=obj, **values)
        else:
            saved = actions.product_register(
                actor=actor,
                manufacturer=form.cleaned_data["manufacturer"],
                filing_number=form.cleaned_data["filing_number"],
                **values,
            )
        obj.pk = saved.pk
        obj.refresh_from_db()


# --- Actual use ------------------------------------------------------------------------------------------


class ActualUseForm(forms.ModelForm):
    class Meta:
        model = ActualUse
        fields = ["medical_institution", "financial_institution", "product", "quantity", "since", "note"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            chosen = [cleaned.get("medical_institution"), cleaned.get("financial_institution")]
            if sum(1 for c in chosen if c) != 1:
                raise forms.ValidationError(
                    _("Choose either a medical institution or a financial institution.")
                )
            product = cleaned.get("product")
            if product is not None and not product.is_valid_on():
                self.add_error("product", _("Only a validly filed product can be registered in use."))
        return cleaned


@admin.register(ActualUse)
class ActualUseAdmin(ActionAdmin):
    form = ActualUseForm
    change_list_template = "vendors/admin/actualuse_change_list.html"
    list_display = [
        "institution_name",
        "region",
        "product_name",
        "product_type",
        "manufacturer_name",
        "quantity",
        "since",
        "status",
    ]
    list_filter = [RegionTreeFilter, "status", "product__product_type", "since"]
    search_fields = [
        "medical_institution__name",
        "financial_institution__name",
        "product__filing_number",
        "product__name",
        "product__model",
    ]
    autocomplete_fields = ["medical_institution", "financial_institution", "product"]
    list_select_related = ["medical_institution", "financial_institution", "product__manufacturer", "region"]
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ["region", "status", "status_reason", "registered_at", "changed_at", "change_history"]
    actions = ["retire_selected"]
    export_columns = ACTUAL_USE_COLUMNS
    export_title = _("Actual use of filed products")

    def get_fieldsets(self, request, obj=None):
        return [
            (
                None,
                {
                    "fields": [
                        "medical_institution",
                        "financial_institution",
                        "product",
                        "quantity",
                        "since",
                        "note",
                    ]
                },
            ),
            (_("Status"), {"fields": ["region", "status", "status_reason"]}),
            (_("History"), {"fields": ["registered_at", "changed_at", "change_history"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "medical_institution", "financial_institution", "product"] if obj else fields

    def has_add_permission(self, request):
        return actions.actual_use_editable_here() and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return actions.actual_use_editable_here() and super().has_change_permission(request, obj)

    def get_urls(self):
        return [
            path(
                "figures/",
                self.admin_site.admin_view(self.figures_view),
                name="vendors_actualuse_figures",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("institution"), ordering="medical_institution__name")
    def institution_name(self, obj):
        return obj.institution

    @admin.display(description=_("filed product"), ordering="product__name")
    def product_name(self, obj):
        return f"{obj.product.name} {obj.product.model}"

    @admin.display(description=_("product type"), ordering="product__product_type")
    def product_type(self, obj):
        return obj.product.get_product_type_display()

    @admin.display(description=_("manufacturer"), ordering="product__manufacturer__name")
    def manufacturer_name(self, obj):
        return obj.product.manufacturer.name

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        data = form.cleaned_data
        values = {f: data[f] for f in actions.ACTUAL_USE_EDITABLE if f in data}
        if change:
            saved = actions.actual_use_update(actor=actor, use=obj, **values)
        else:
            saved = actions.actual_use_register(
                actor=actor,
                institution=data.get("medical_institution") or data.get("financial_institution"),
                product=data["product"],
                **values,
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.action(description=_("Retire selected (no longer in use)"), permissions=["change"])
    def retire_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Retire"),
            action_name="retire_selected",
            perform=lambda actor, obj, reason: actions.actual_use_retire(actor=actor, use=obj, reason=reason),
        )

    def figures_view(self, request):
        """Actual use summed by product, type, manufacturer, province, region or institution; export/print."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        by = request.GET.get("by") or ActualUseGrouping.PRODUCT_TYPE
        if by not in ActualUseGrouping.values:
            by = ActualUseGrouping.PRODUCT_TYPE
        params = {k: v for k, v in request.GET.items() if k not in ("by", "as")}
        filterset = ActualUseFilterSet(params, queryset=ActualUse.objects.none())
        rows = actual_use_totals(user=request.user, by=by, filters=params)
        title = str(_("Actual-use figures, %(grouping)s") % {"grouping": ActualUseGrouping(by).label})
        fmt = request.GET.get("as")
        if fmt in ("xlsx", "pdf"):
            described = [
                (str(f.label), params[name]) for name, f in filterset.filters.items() if params.get(name)
            ]
            sheet = Sheet(
                title=title,
                columns=FIGURE_COLUMNS,
                rows=[*rows, _total_row(rows)],
                filters=described,
                generated_by=request.user.get_username(),
            )
            return export_response(sheet, fmt)
        query = urlencode(params)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "by": by,
            "groupings": ActualUseGrouping.choices,
            "rows": rows,
            "total": _total_row(rows),
            "filterset": filterset,
            "query": query,
        }
        return TemplateResponse(request, "vendors/admin/actualuse_figures.html", context)


def _total_row(rows: list[dict]) -> dict:
    return {
        "key": "",
        "label": str(_("Total")),
        "quantity": sum(r["quantity"] for r in rows),
        "registrations": sum(r["registrations"] for r in rows),
        "institutions": "",
    }


# --- Card makers compared with filings -------------------------------------------------------------------


class HasValidFilingFilter(admin.SimpleListFilter):
    title = _("filed product")
    parameter_name = "filing"

    def lookups(self, request, model_admin):
        return [("none", _("no valid filed product")), ("valid", _("valid filing"))]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(has_valid_filing=False)
        if self.value() == "valid":
            return queryset.filter(has_valid_filing=True)
        return queryset


@admin.register(CardMakerFiling)
class CardMakerFilingAdmin(ActionAdmin):
    """The report: card makers (制卡机构) compared with the filings this node holds; flag and filter."""

    list_display = ["name", "code", "region", "status", "filing_flag", "matched"]
    list_filter = [HasValidFilingFilter, RegionTreeFilter, "status"]
    search_fields = ["name", "code"]
    list_select_related = ["region"]
    show_full_result_count = False
    fields = ["name", "code", "region", "status", "filing_flag", "matched", "products_panel"]
    readonly_fields = fields
    actions = None
    export_columns = CARD_MAKER_FILING_COLUMNS
    export_title = _("Card makers compared with filings")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**card_maker_filing_match())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("filed product"), ordering="has_valid_filing")
    def filing_flag(self, obj):
        if obj.has_valid_filing:
            return format_html('<span style="color:#2e7d32">{}</span>', _("valid filing"))
        return format_html('<strong style="color:#ba2121">⚠ {}</strong>', _("no valid filed product"))

    @admin.display(description=_("matched by"))
    def matched(self, obj):
        return matched_by(obj)

    @admin.display(description=_("filed products"))
    def products_panel(self, obj):
        products = list(card_maker_filed_products(obj)[:50])
        if not products:
            return "-"
        return format_html_join(
            "",
            "<div>{} · {} {} · {} · {}</div>",
            (
                (p.filing_number, p.name, p.model, p.get_product_type_display(), p.get_status_display())
                for p in products
            ),
        )
