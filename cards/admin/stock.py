"""Admin of the cards app: stock-ins, stock-outs to issuing points, and shipments (logistics).

Stock-ins are made from the production plan list (action "Stock in the produced cards"); stock-outs from the
"Stock out cards" page here; shipments move through the "Update delivery" action.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cards import actions
from cards.choices import ShipmentStatus
from cards.models import Shipment, StockIn, StockOut
from cards.selectors.stock import cards_in_stock
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.admin_base import ActionAdmin, ReadOnlyPagesMixin, form_page, run_with_form
from registry.admin_mixins import RegionTreeFilter
from registry.errors import DomainError
from registry.exports import Column
from registry.scope import scope_queryset

STOCK_IN_COLUMNS = [
    Column(_("batch number"), "batch_number", 26),
    Column(_("plan"), "plan.number", 26),
    Column(_("region"), "region.full_name", 22),
    Column(_("quantity"), "quantity", 10),
    Column(_("responsible unit"), "responsible_unit", 20),
    Column(_("responsible person"), "responsible_person", 12),
    Column(_("time"), "at", 18),
]
STOCK_OUT_COLUMNS = [
    Column(_("batch number"), "batch_number", 26),
    Column(_("issuing point"), lambda row: row.issuing_point, 28),
    Column(_("region"), "region.full_name", 22),
    Column(_("quantity"), "quantity", 10),
    Column(_("responsible unit"), "responsible_unit", 20),
    Column(_("responsible person"), "responsible_person", 12),
    Column(_("time"), "at", 18),
    Column(_("delivery status"), lambda row: _shipment_status(row), 12),
]
SHIPMENT_COLUMNS = [
    Column(_("stock-out"), "stock_out.batch_number", 26),
    Column(_("issuing point"), lambda row: row.stock_out.issuing_point, 28),
    Column(_("quantity"), "stock_out.quantity", 10),
    Column(_("waybill number"), "waybill", 18),
    Column(_("courier"), "courier", 14),
    Column(_("responsible person"), "responsible_person", 12),
    Column(_("delivery status"), "status", 12),
    Column(_("shipped at"), "shipped_at", 18),
    Column(_("delivered at"), "delivered_at", 18),
    Column(_("signed for by"), "signed_by", 12),
]


def _shipment_status(stock_out: StockOut) -> str:
    shipment = getattr(stock_out, "shipment", None)
    return shipment.get_status_display() if shipment else "-"


@admin.register(StockIn)
class StockInAdmin(ReadOnlyPagesMixin, ActionAdmin):
    list_display = [
        "batch_number",
        "plan",
        "region",
        "quantity",
        "responsible_unit",
        "responsible_person",
        "at",
    ]
    list_filter = [RegionTreeFilter, "at"]
    search_fields = ["batch_number", "plan__number"]
    list_select_related = ["plan", "region"]
    show_full_result_count = False
    readonly_fields = ["change_history"]
    export_columns = STOCK_IN_COLUMNS
    export_title = _("Stock-ins")


class StockOutForm(forms.Form):
    institution_code = forms.CharField(
        label=_("issuing point code"),
        max_length=18,
        help_text=_("The unified social credit code of the medical institution or bank branch."),
    )
    count = forms.IntegerField(
        label=_("number of cards"),
        min_value=1,
        required=False,
        help_text=_("The oldest cards in stock for that issuing point are sent."),
    )
    stock_in_batch = forms.CharField(
        label=_("from stock-in batch"), max_length=40, required=False, help_text=_("Optional, with a number.")
    )
    chip_serials = forms.CharField(
        label=_("chip serials"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Or the chip serials of the cards to send, one per line."),
    )
    responsible_unit = forms.CharField(label=_("responsible unit"), max_length=100)
    responsible_person = forms.CharField(label=_("responsible person"), max_length=50)
    batch_number = forms.CharField(
        label=_("batch number"), max_length=40, required=False, help_text=_("Left empty, a number is given.")
    )
    waybill = forms.CharField(label=_("waybill number"), max_length=40, required=False)
    courier = forms.CharField(label=_("courier"), max_length=50, required=False)

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_institution_code(self):
        code = self.cleaned_data["institution_code"].strip().upper()
        institution = (
            scope_queryset(MedicalInstitution.objects.all(), self.user).filter(code=code).first()
            or scope_queryset(FinancialInstitution.objects.all(), self.user).filter(code=code).first()
        )
        if institution is None:
            raise forms.ValidationError(
                _("No institution with code %(code)s in your region.") % {"code": code}
            )
        return institution

    def clean(self):
        data = super().clean()
        serials = [s for s in re.split(r"[\s,;]+", data.get("chip_serials") or "") if s]
        if bool(serials) == bool(data.get("count")):
            raise forms.ValidationError(_("Give either the cards or a number of cards."))
        data["cards"] = None
        if serials:
            found = {c.chip_serial: c for c in cards_in_stock(user=self.user).filter(chip_serial__in=serials)}
            missing = [s for s in serials if s not in found]
            if missing:
                self.add_error(
                    "chip_serials",
                    _("Not in stock in your region: %(serials)s") % {"serials": ", ".join(missing[:20])},
                )
            data["cards"] = list(found.values())
        data["stock_in"] = None
        batch = (data.get("stock_in_batch") or "").strip()
        if batch:
            data["stock_in"] = (
                scope_queryset(StockIn.objects.all(), self.user).filter(batch_number=batch).first()
            )
            if data["stock_in"] is None:
                self.add_error(
                    "stock_in_batch", _("No stock-in batch %(number)s in your region.") % {"number": batch}
                )
        return data


@admin.register(StockOut)
class StockOutAdmin(ReadOnlyPagesMixin, ActionAdmin):
    change_list_template = "cards/stock/stock_out_change_list.html"
    list_display = [
        "batch_number",
        "issuing_point_name",
        "region",
        "quantity",
        "responsible_unit",
        "responsible_person",
        "at",
        "delivery_status",
    ]
    list_filter = [RegionTreeFilter, "at"]
    search_fields = ["batch_number", "medical_institution__name", "financial_institution__name"]
    list_select_related = ["region", "medical_institution", "financial_institution", "shipment"]
    show_full_result_count = False
    readonly_fields = ["change_history"]
    export_columns = STOCK_OUT_COLUMNS
    export_title = _("Stock-outs")

    def get_urls(self):
        return [
            path("create/", self.admin_site.admin_view(self.create_view), name="cards_stockout_create"),
            *super().get_urls(),
        ]

    def has_stock_out_permission(self, request) -> bool:
        return request.user.has_perm("cards.add_stockout")

    def changelist_view(self, request, extra_context=None):
        extra_context = {"can_stock_out": self.has_stock_out_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("issuing point"))
    def issuing_point_name(self, obj):
        return obj.issuing_point

    @admin.display(description=_("delivery status"))
    def delivery_status(self, obj):
        return _shipment_status(obj)

    def create_view(self, request):
        if not self.has_stock_out_permission(request):
            raise PermissionDenied
        form = StockOutForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                stock_out = actions.stock_out_record(
                    actor=Actor.from_request(request),
                    institution=data["institution_code"],
                    responsible_unit=data["responsible_unit"],
                    responsible_person=data["responsible_person"],
                    batch_number=data["batch_number"],
                    cards=data["cards"],
                    count=None if data["cards"] is not None else data["count"],
                    stock_in=data["stock_in"],
                    waybill=data["waybill"],
                    courier=data["courier"],
                )
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Stock-out %(number)s: %(count)s cards to %(point)s.")
                    % {
                        "number": stock_out.batch_number,
                        "count": stock_out.quantity,
                        "point": stock_out.issuing_point,
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:cards_shipment_changelist"))
        return form_page(self, request, form=form, title=gettext("Stock out cards"))


class ShipmentUpdateForm(forms.Form):
    status = forms.ChoiceField(
        label=_("delivery status"),
        required=False,
        choices=[("", _("Leave as it is")), *ShipmentStatus.choices],
    )
    waybill = forms.CharField(label=_("waybill number"), max_length=40, required=False)
    courier = forms.CharField(label=_("courier"), max_length=50, required=False)
    responsible_person = forms.CharField(label=_("responsible person"), max_length=50, required=False)
    signed_by = forms.CharField(label=_("signed for by"), max_length=50, required=False)


def _update_shipment(*, actor, obj, data):
    # An empty field leaves the value as it is.
    return actions.shipment_update(
        actor=actor,
        shipment=obj,
        status=data["status"],
        **{name: data[name] or None for name in ("waybill", "courier", "responsible_person", "signed_by")},
    )


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyPagesMixin, ActionAdmin):
    list_display = [
        "stock_out",
        "issuing_point",
        "waybill",
        "courier",
        "responsible_person",
        "status",
        "shipped_at",
        "delivered_at",
        "signed_by",
    ]
    list_filter = [RegionTreeFilter, "status", "shipped_at", "delivered_at"]
    search_fields = ["waybill", "courier", "stock_out__batch_number"]
    list_select_related = ["stock_out", "stock_out__medical_institution", "stock_out__financial_institution"]
    show_full_result_count = False
    readonly_fields = ["change_history"]
    actions = ["update_selected"]
    export_columns = SHIPMENT_COLUMNS
    export_title = _("Shipments")

    @admin.display(description=_("issuing point"))
    def issuing_point(self, obj):
        return obj.stock_out.issuing_point

    @admin.action(description=_("Update delivery"), permissions=["change"])
    def update_selected(self, request, queryset):
        return run_with_form(
            self,
            request,
            queryset,
            form_class=ShipmentUpdateForm,
            title=_("Update delivery"),
            action_name="update_selected",
            intro=_(
                "Empty fields are left as they are. Delivered cards wait for their holders at the issuing point."
            ),
            perform=_update_shipment,
        )
