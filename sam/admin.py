"""Admin of the sam app: applications, plans up the tiers, stock-in/out, shipments, the SAMs themselves and the
supervision report. Every write goes through sam.actions; pages only parse forms and call them."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from institutions.choices import OrganisationStatus
from institutions.models import CardMaker, MedicalInstitution
from registry.actors import Actor
from registry.admin_base import ActionAdmin, ReadOnlyPagesMixin, form_page, run_with_form, run_with_reason
from registry.admin_mixins import RegionTreeFilter
from registry.errors import DomainError
from registry.exports import Column, Sheet, export_response
from registry.models import Region
from registry.scope import scope_queryset
from sam import actions, selectors
from sam.choices import SamShipmentStatus, TerminalType, UseScenario
from sam.models import Sam, SamApplication, SamPlan, SamShipment, SamStockIn, SamStockOut


def rate_text(rate) -> str:
    return "-" if rate is None else f"{rate}%"


APPLICATION_COLUMNS = [
    Column(_("application number"), "number", 26),
    Column(_("medical institution"), "institution.name", 26),
    Column(_("region"), "region.full_name", 22),
    Column(_("quantity applied for"), "quantity", 10),
    Column(_("approved quantity"), "approved_quantity", 10),
    Column(_("terminal type"), "terminal_type", 14),
    Column(_("use scenario"), "scenario", 12),
    Column(_("status"), "status", 14),
    Column(_("reason"), "status_reason", 20),
    Column(_("city plan"), "plan.number", 26),
    Column(_("submitted at"), "submitted_at", 18),
]
PLAN_COLUMNS = [
    Column(_("plan number"), "number", 26),
    Column(_("level"), "level", 10),
    Column(_("region"), "region.full_name", 22),
    Column(_("quantity requested"), "quantity", 10),
    Column(_("approved quantity"), "approved_quantity", 10),
    Column(_("status"), "status", 14),
    Column(_("reason"), "status_reason", 20),
    Column(_("aggregated into"), "parent.number", 26),
    Column(_("card maker"), "card_maker.name", 24),
    Column(_("SAMs produced"), "produced_count", 10),
    Column(_("SAMs failed"), "failed_count", 10),
    Column(_("success rate"), lambda plan: rate_text(plan.success_rate), 10),
    Column(_("created at"), "created_at", 18),
]
SAM_COLUMNS = [
    Column(_("SAM serial number"), "serial", 20),
    Column(_("status"), "status", 12),
    Column(_("region"), "region.full_name", 22),
    Column(_("medical institution"), "institution.name", 26),
    Column(_("terminal type"), "terminal_type", 14),
    Column(_("terminal number"), "terminal_number", 16),
    Column(_("use scenario"), "scenario", 12),
    Column(_("bound at"), "bound_at", 18),
    Column(_("uses"), "use_count", 10),
    Column(_("reason of last status change"), "status_reason", 20),
]
STOCK_IN_COLUMNS = [
    Column(_("batch number"), "batch_number", 26),
    Column(_("production plan"), "plan.number", 26),
    Column(_("region"), "region.full_name", 22),
    Column(_("quantity"), "quantity", 10),
    Column(_("responsible unit"), "responsible_unit", 20),
    Column(_("responsible person"), "responsible_person", 12),
    Column(_("time"), "at", 18),
]
STOCK_OUT_COLUMNS = [
    Column(_("batch number"), "batch_number", 26),
    Column(_("from region"), "from_region.full_name", 22),
    Column(_("to region"), "region.full_name", 22),
    Column(_("medical institution"), "institution.name", 26),
    Column(_("quantity"), "quantity", 10),
    Column(_("responsible unit"), "responsible_unit", 20),
    Column(_("responsible person"), "responsible_person", 12),
    Column(_("time"), "at", 18),
    Column(_("delivery status"), "shipment.status", 12),
]
SHIPMENT_COLUMNS = [
    Column(_("stock-out"), "stock_out.batch_number", 26),
    Column(_("to region"), "stock_out.region.full_name", 22),
    Column(_("medical institution"), "stock_out.institution.name", 26),
    Column(_("quantity"), "stock_out.quantity", 10),
    Column(_("waybill number"), "waybill", 18),
    Column(_("courier"), "courier", 14),
    Column(_("delivery status"), "status", 12),
    Column(_("signed for by"), "signed_by", 12),
    Column(_("signed for at"), "signed_at", 18),
]


def _key(name):
    return lambda row: row[name]


SUPERVISION_REPORTS = {
    "applications": (
        _("SAM applications by date and region"),
        [
            Column(_("date"), _key("day"), 12),
            Column(_("region"), _key("region"), 22),
            Column(_("applications"), _key("applications"), 10),
            Column(_("SAMs applied for"), _key("applied"), 10),
            Column(_("SAMs granted"), _key("granted"), 10),
            Column(_("rejected"), _key("rejected"), 10),
            Column(_("awaiting review"), _key("pending"), 10),
        ],
        lambda user, by, **dates: selectors.supervision_applications(user=user, **dates),
    ),
    "production": (
        _("SAM production by date and card maker"),
        [
            Column(_("date"), _key("day"), 12),
            Column(_("card maker"), _key("card_maker"), 24),
            Column(_("plans"), _key("plans"), 8),
            Column(_("completed"), _key("completed"), 8),
            Column(_("SAMs planned"), _key("planned"), 10),
            Column(_("SAMs produced"), _key("produced"), 10),
            Column(_("SAMs failed"), _key("failed"), 10),
            Column(_("progress"), lambda row: rate_text(row["progress"]), 10),
            Column(_("success rate"), lambda row: rate_text(row["success_rate"]), 10),
        ],
        lambda user, by, **dates: selectors.supervision_production(user=user, **dates),
    ),
    "issuance": (
        _("SAMs issued and signed for"),
        [
            Column(_("group"), _key("group"), 26),
            Column(_("stock-outs"), _key("batches"), 10),
            Column(_("SAMs issued"), _key("issued"), 10),
            Column(_("signed for"), _key("signed"), 10),
            Column(_("not signed for"), _key("not_signed"), 10),
        ],
        lambda user, by, **dates: selectors.supervision_issuance(user=user, by=by, **dates),
    ),
    "maintenance": (
        _("Freezes, unfreezes, cancellations and use by institution and scenario"),
        [
            Column(_("medical institution"), _key("institution"), 26),
            Column(_("use scenario"), _key("scenario"), 12),
            Column(_("SAM cards"), _key("sams"), 8),
            Column(_("frozen"), _key("frozen"), 8),
            Column(_("unfrozen"), _key("unfrozen"), 8),
            Column(_("cancelled"), _key("cancelled"), 8),
            Column(_("uses"), _key("uses"), 10),
        ],
        lambda user, by, **dates: selectors.supervision_maintenance(user=user, **dates),
    ),
}


class SupervisionForm(forms.Form):
    date_from = forms.DateField(label=_("from"), required=False)
    date_to = forms.DateField(label=_("to"), required=False)
    by = forms.ChoiceField(
        label=_("issued and signed for, by"),
        required=False,
        choices=[("date", _("date")), ("region", _("region")), ("institution", _("institution"))],
    )


def supervision_sheet(user, key: str, data: dict) -> Sheet:
    """One supervision report as an export sheet (the admin page and the API share it)."""
    title, columns, source = SUPERVISION_REPORTS[key]
    dates = {"date_from": data.get("date_from"), "date_to": data.get("date_to")}
    by = data.get("by") or "date"
    labels = {"date_from": gettext("from"), "date_to": gettext("to")}
    filters = [(labels[name], str(value)) for name, value in dates.items() if value]
    if key == "issuance":
        filters.append((gettext("issued and signed for, by"), by))
    return Sheet(
        title=str(title),
        columns=columns,
        rows=source(user, by, **dates),
        filters=filters,
        generated_by=user.get_username(),
    )


def _tools(request, items) -> list[tuple[str, str]]:
    return [(reverse(name), label) for name, label, perm in items if request.user.has_perm(perm)]


# --- applications -------------------------------------------------------------------------------------------


class ApplicationForm(forms.Form):
    institution_code = forms.CharField(label=_("institution code"), max_length=18)
    quantity = forms.IntegerField(label=_("quantity applied for"), min_value=1, max_value=100_000)
    terminal_type = forms.ChoiceField(label=_("terminal type"), choices=TerminalType.choices)
    scenario = forms.ChoiceField(label=_("use scenario"), choices=UseScenario.choices)
    purpose = forms.CharField(label=_("purpose"), max_length=200, required=False)

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_institution_code(self):
        code = self.cleaned_data["institution_code"].strip().upper()
        institution = scope_queryset(MedicalInstitution.objects.all(), self.user).filter(code=code).first()
        if institution is None:
            raise forms.ValidationError(
                _("No medical institution with code %(code)s in your region.") % {"code": code}
            )
        return institution


class DecisionForm(forms.Form):
    approved_quantity = forms.IntegerField(label=_("approved quantity"), min_value=1, required=False)
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=500)


def _review(perform, decision):
    def run(*, actor, obj, reason=None, data=None):
        data = data or {"reason": reason}
        return perform(
            actor=actor,
            decision=decision,
            approved_quantity=data.get("approved_quantity"),
            reason=data.get("reason") or "",
            obj=obj,
        )

    return run


def _application_review(*, actor, obj, **kwargs):
    return actions.sam_application_review(actor=actor, application=obj, **kwargs)


def _plan_review(*, actor, obj, **kwargs):
    return actions.sam_plan_review(actor=actor, plan=obj, **kwargs)


class ReviewActionsMixin:
    """approve / cut / reject, each row through the model's review action."""

    review_perform = None

    def _approve(self, request, queryset):
        actor = Actor.from_request(request)
        done = 0
        for obj in queryset:
            try:
                type(self).review_perform(actor=actor, obj=obj, decision="approve")
                done += 1
            except DomainError as error:
                self.message_user(request, f"{obj}: {error.message_zh}", messages.ERROR)
        if done:
            self.message_user(request, gettext("%(count)s done.") % {"count": done}, messages.SUCCESS)

    def _cut(self, request, queryset):
        return run_with_form(
            self,
            request,
            queryset,
            form_class=DecisionForm,
            title=gettext("Approve with a reduced quantity"),
            action_name="cut_selected",
            perform=_review(type(self).review_perform, "cut"),
        )

    def _reject(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=gettext("Reject"),
            perform=_review(type(self).review_perform, "reject"),
            action_name="reject_selected",
        )


@admin.register(SamApplication)
class SamApplicationAdmin(ReviewActionsMixin, ReadOnlyPagesMixin, ActionAdmin):
    change_list_template = "sam/admin/change_list.html"
    list_display = [
        "number",
        "institution",
        "region",
        "quantity",
        "approved_quantity",
        "terminal_type",
        "scenario",
        "status",
        "status_reason",
        "plan",
        "submitted_at",
    ]
    list_filter = [RegionTreeFilter, "status", "terminal_type", "scenario", "submitted_at"]
    search_fields = ["number", "institution__name", "institution__code"]
    list_select_related = ["institution", "region", "plan"]
    show_full_result_count = False
    readonly_fields = ["change_history"]
    actions = ["approve_selected", "cut_selected", "reject_selected"]
    export_columns = APPLICATION_COLUMNS
    export_title = _("SAM applications")
    review_perform = staticmethod(_application_review)

    def get_urls(self):
        return [
            path("apply/", self.admin_site.admin_view(self.apply_view), name="sam_samapplication_apply"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        tools = _tools(
            request, [("admin:sam_samapplication_apply", _("New SAM application"), "sam.add_samapplication")]
        )
        return super().changelist_view(request, {"sam_tools": tools, **(extra_context or {})})

    def apply_view(self, request):
        if not request.user.has_perm("sam.add_samapplication"):
            raise PermissionDenied
        form = ApplicationForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                application = actions.sam_application_submit(
                    actor=Actor.from_request(request),
                    institution=data["institution_code"],
                    quantity=data["quantity"],
                    terminal_type=data["terminal_type"],
                    scenario=data["scenario"],
                    purpose=data["purpose"],
                )
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Application %(number)s submitted.") % {"number": application.number},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:sam_samapplication_changelist"))
        return form_page(self, request, form=form, title=gettext("New SAM application"))

    @admin.action(description=_("Approve"), permissions=["review"])
    def approve_selected(self, request, queryset):
        return self._approve(request, queryset)

    @admin.action(description=_("Approve with a reduced quantity"), permissions=["review"])
    def cut_selected(self, request, queryset):
        return self._cut(request, queryset)

    @admin.action(description=_("Reject"), permissions=["review"])
    def reject_selected(self, request, queryset):
        return self._reject(request, queryset)

    def has_review_permission(self, request):
        return request.user.has_perm("sam.review_samapplication")


# --- plans ----------------------------------------------------------------------------------------------------


class AggregateForm(forms.Form):
    card_maker = forms.ModelChoiceField(
        label=_("card maker"),
        required=False,
        queryset=CardMaker.objects.filter(status=OrganisationStatus.ACTIVE).order_by("name"),
        help_text=_("Only the ministry's production plan names a card maker."),
    )
    note = forms.CharField(label=_("note"), max_length=200, required=False)


class CompleteForm(forms.Form):
    failed = forms.IntegerField(label=_("SAMs failed"), min_value=0, initial=0)


@admin.register(SamPlan)
class SamPlanAdmin(ReviewActionsMixin, ReadOnlyPagesMixin, ActionAdmin):
    change_list_template = "sam/admin/change_list.html"
    list_display = [
        "number",
        "level",
        "region",
        "quantity",
        "approved_quantity",
        "status",
        "status_reason",
        "parent",
        "card_maker",
        "produced_count",
        "failed_count",
        "created_at",
    ]
    list_filter = [RegionTreeFilter, "level", "status", "created_at"]
    search_fields = ["number", "parent__number", "card_maker__name"]
    list_select_related = ["region", "parent", "card_maker"]
    show_full_result_count = False
    readonly_fields = ["parts", "change_history"]
    actions = [
        "report_selected",
        "approve_selected",
        "cut_selected",
        "reject_selected",
        "start_selected",
        "complete_selected",
    ]
    export_columns = PLAN_COLUMNS
    export_title = _("SAM plans")
    review_perform = staticmethod(_plan_review)

    def get_urls(self):
        return [
            path("aggregate/", self.admin_site.admin_view(self.aggregate_view), name="sam_samplan_aggregate"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        tools = _tools(request, [("admin:sam_samplan_aggregate", _("Aggregate a plan"), "sam.add_samplan")])
        return super().changelist_view(request, {"sam_tools": tools, **(extra_context or {})})

    @admin.display(description=_("aggregated from"))
    def parts(self, obj):
        rows = obj.applications.all() if obj.level == "city" else obj.children.all()
        return (
            format_html_join(
                "", "<div>{} · {} · {}</div>", ((r.number, r.granted, r.get_status_display()) for r in rows)
            )
            or "-"
        )

    def aggregate_view(self, request):
        if not request.user.has_perm("sam.add_samplan"):
            raise PermissionDenied
        form = AggregateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                plan = actions.sam_plan_aggregate(
                    actor=Actor.from_request(request),
                    card_maker=form.cleaned_data["card_maker"],
                    note=form.cleaned_data["note"],
                )
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Plan %(number)s: %(quantity)s SAM cards.")
                    % {"number": plan.number, "quantity": plan.quantity},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:sam_samplan_changelist"))
        return form_page(
            self,
            request,
            form=form,
            title=gettext("Aggregate a plan"),
            intro=gettext(
                "A city takes its institutions' approved applications, a province its cities' approved plans, "
                "the ministry its provinces' approved plans into the production plan."
            ),
        )

    def _each(self, request, queryset, perform):
        actor = Actor.from_request(request)
        done = 0
        for obj in queryset:
            try:
                perform(actor=actor, plan=obj)
                done += 1
            except DomainError as error:
                self.message_user(request, f"{obj}: {error.message_zh}", messages.ERROR)
        if done:
            self.message_user(request, gettext("%(count)s done.") % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Report to the tier above"), permissions=["change"])
    def report_selected(self, request, queryset):
        return self._each(request, queryset, actions.sam_plan_report)

    @admin.action(description=_("Approve"), permissions=["review"])
    def approve_selected(self, request, queryset):
        return self._approve(request, queryset)

    @admin.action(description=_("Approve with a reduced quantity"), permissions=["review"])
    def cut_selected(self, request, queryset):
        return self._cut(request, queryset)

    @admin.action(description=_("Reject"), permissions=["review"])
    def reject_selected(self, request, queryset):
        return self._reject(request, queryset)

    @admin.action(description=_("Send to the card maker"), permissions=["change"])
    def start_selected(self, request, queryset):
        return self._each(request, queryset, actions.sam_plan_start)

    @admin.action(description=_("Production completed"), permissions=["change"])
    def complete_selected(self, request, queryset):
        return run_with_form(
            self,
            request,
            queryset,
            form_class=CompleteForm,
            title=gettext("Production completed"),
            action_name="complete_selected",
            perform=lambda *, actor, obj, data: actions.sam_plan_complete(
                actor=actor, plan=obj, failed=data["failed"]
            ),
        )

    def has_review_permission(self, request):
        return request.user.has_perm("sam.review_samplan")


# --- SAMs, stock, logistics -----------------------------------------------------------------------------------


def split_serials(text: str) -> list[str]:
    return [s for s in re.split(r"[\s,;]+", text or "") if s]


class StockInForm(forms.Form):
    plan_number = forms.CharField(
        label=_("production plan"), max_length=40, required=False, help_text=_("The ministry's plan, if any.")
    )
    serials = forms.CharField(
        label=_("SAM serial numbers"), widget=forms.Textarea(attrs={"rows": 6}), help_text=_("One per line.")
    )
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, required=False)
    responsible_unit = forms.CharField(label=_("responsible unit"), max_length=100)
    responsible_person = forms.CharField(label=_("responsible person"), max_length=50)
    batch_number = forms.CharField(
        label=_("batch number"), max_length=40, required=False, help_text=_("Left empty, a number is given.")
    )

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_plan_number(self):
        number = self.cleaned_data["plan_number"].strip()
        if not number:
            return None
        plan = selectors.sam_plan_list(user=self.user).filter(number=number).first()
        if plan is None:
            raise forms.ValidationError(_("No SAM plan %(number)s in your region.") % {"number": number})
        return plan


class StockOutForm(forms.Form):
    institution_code = forms.CharField(
        label=_("institution code"),
        max_length=18,
        required=False,
        help_text=_("The medical institution that will use the SAM cards (a city's stock-out)."),
    )
    region_code = forms.CharField(
        label=_("to region"), max_length=6, required=False, help_text=_("Or the region below, e.g. 610100.")
    )
    serials = forms.CharField(
        label=_("SAM serial numbers"), widget=forms.Textarea(attrs={"rows": 6}), help_text=_("One per line.")
    )
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, required=False)
    responsible_unit = forms.CharField(label=_("responsible unit"), max_length=100)
    responsible_person = forms.CharField(label=_("responsible person"), max_length=50)
    batch_number = forms.CharField(label=_("batch number"), max_length=40, required=False)
    waybill = forms.CharField(label=_("waybill number"), max_length=40, required=False)
    courier = forms.CharField(label=_("courier"), max_length=50, required=False)

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        code = (data.get("institution_code") or "").strip().upper()
        region = (data.get("region_code") or "").strip()
        data["institution"] = data["region"] = None
        if bool(code) == bool(region):
            raise forms.ValidationError(_("Give either a medical institution or a region below."))
        if code:
            data["institution"] = (
                scope_queryset(MedicalInstitution.objects.all(), self.user).filter(code=code).first()
            )
            if data["institution"] is None:
                self.add_error(
                    "institution_code",
                    _("No medical institution with code %(code)s in your region.") % {"code": code},
                )
        else:
            data["region"] = Region.objects.filter(code=region).first()
            if data["region"] is None:
                self.add_error("region_code", _("Unknown region code %(code)s.") % {"code": region})
        return data


class BindForm(forms.Form):
    terminal_type = forms.ChoiceField(label=_("terminal type"), choices=TerminalType.choices)
    terminal_number = forms.CharField(label=_("terminal number"), max_length=40)
    scenario = forms.ChoiceField(
        label=_("use scenario"), choices=[("", "-"), *UseScenario.choices], required=False
    )


@admin.register(Sam)
class SamAdmin(ReadOnlyPagesMixin, ActionAdmin):
    change_list_template = "sam/admin/change_list.html"
    list_display = [
        "serial",
        "status",
        "region",
        "institution",
        "terminal_type",
        "terminal_number",
        "scenario",
        "bound_at",
        "use_count",
        "status_reason",
    ]
    list_filter = [RegionTreeFilter, "status", "terminal_type", "scenario"]
    search_fields = ["=serial", "terminal_number", "institution__name", "institution__code"]
    list_select_related = ["region", "institution"]
    show_full_result_count = False
    readonly_fields = ["history", "change_history"]
    actions = ["bind_selected", "unbind_selected", "freeze_selected", "unfreeze_selected", "cancel_selected"]
    export_columns = SAM_COLUMNS
    export_title = _("SAM cards")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("stock-in/", view(self.stock_in_view), name="sam_sam_stock_in"),
            path("stock-out/", view(self.stock_out_view), name="sam_sam_stock_out"),
            path("supervision/", view(self.supervision_view), name="sam_sam_supervision"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        tools = _tools(
            request,
            [
                ("admin:sam_sam_stock_in", _("Stock in SAM cards"), "sam.add_samstockin"),
                ("admin:sam_sam_stock_out", _("Stock out SAM cards"), "sam.add_samstockout"),
                ("admin:sam_sam_supervision", _("Supervision"), "sam.view_sam"),
            ],
        )
        return super().changelist_view(request, {"sam_tools": tools, **(extra_context or {})})

    @admin.display(description=_("history"))
    def history(self, obj):
        rows = selectors.sam_history(sam=obj)
        return (
            format_html_join(
                "",
                "<div>{} · {} · {} · {}</div>",
                (
                    (
                        e.at.astimezone().strftime("%Y-%m-%d %H:%M"),
                        e.get_kind_display(),
                        e.actor_label,
                        e.reason,
                    )
                    for e in rows
                ),
            )
            or "-"
        )

    def stock_in_view(self, request):
        if not request.user.has_perm("sam.add_samstockin"):
            raise PermissionDenied
        form = StockInForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                stock_in = actions.sam_stock_in(
                    actor=Actor.from_request(request),
                    plan=data["plan_number"],
                    serials=split_serials(data["serials"]),
                    quantity=data["quantity"],
                    responsible_unit=data["responsible_unit"],
                    responsible_person=data["responsible_person"],
                    batch_number=data["batch_number"],
                )
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Stock-in %(number)s: %(count)s SAM cards.")
                    % {"number": stock_in.batch_number, "count": stock_in.quantity},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:sam_samstockin_changelist"))
        return form_page(self, request, form=form, title=gettext("Stock in SAM cards"))

    def stock_out_view(self, request):
        if not request.user.has_perm("sam.add_samstockout"):
            raise PermissionDenied
        form = StockOutForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                stock_out = actions.sam_stock_out(
                    actor=Actor.from_request(request),
                    serials=split_serials(data["serials"]),
                    institution=data["institution"],
                    region=data["region"],
                    quantity=data["quantity"],
                    responsible_unit=data["responsible_unit"],
                    responsible_person=data["responsible_person"],
                    batch_number=data["batch_number"],
                    waybill=data["waybill"],
                    courier=data["courier"],
                )
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Stock-out %(number)s: %(count)s SAM cards to %(to)s.")
                    % {
                        "number": stock_out.batch_number,
                        "count": stock_out.quantity,
                        "to": stock_out.destination,
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:sam_samshipment_changelist"))
        return form_page(self, request, form=form, title=gettext("Stock out SAM cards"))

    def supervision_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = SupervisionForm(request.GET or None)
        data = form.cleaned_data if form.is_valid() else {}
        wanted = request.GET.get("report")
        if wanted in SUPERVISION_REPORTS and request.GET.get("as") in ("xlsx", "pdf"):
            return export_response(supervision_sheet(request.user, wanted, data), request.GET["as"])
        base = {k: v for k, v in request.GET.items() if k in ("date_from", "date_to", "by") and v}
        reports = []
        for key in SUPERVISION_REPORTS:
            sheet = supervision_sheet(request.user, key, data)
            reports.append(
                {
                    "title": sheet.title,
                    "query": urlencode({**base, "report": key}),
                    "headers": [str(c.header) for c in sheet.columns],
                    "rows": [[c.get(row) for c in sheet.columns] for row in sheet.rows],
                }
            )
        return TemplateResponse(
            request,
            "sam/admin/supervision.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("SAM supervision"),
                "opts": self.opts,
                "form": form,
                "reports": reports,
            },
        )

    @admin.action(description=_("Bind to a terminal"), permissions=["change"])
    def bind_selected(self, request, queryset):
        return run_with_form(
            self,
            request,
            queryset,
            form_class=BindForm,
            title=gettext("Bind to a terminal"),
            action_name="bind_selected",
            perform=lambda *, actor, obj, data: actions.sam_bind(actor=actor, sam=obj, **data),
        )

    @admin.action(description=_("Unbind from its terminal"), permissions=["change"])
    def unbind_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=gettext("Unbind from its terminal"),
            perform=lambda *, actor, obj, reason: actions.sam_unbind(actor=actor, sam=obj, reason=reason),
            action_name="unbind_selected",
        )

    @admin.action(description=_("Freeze (temporarily stop)"), permissions=["freeze"])
    def freeze_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=gettext("Freeze (temporarily stop)"),
            perform=lambda *, actor, obj, reason: actions.sam_freeze(actor=actor, sam=obj, reason=reason),
            action_name="freeze_selected",
        )

    @admin.action(description=_("Unfreeze"), permissions=["freeze"])
    def unfreeze_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=gettext("Unfreeze"),
            perform=lambda *, actor, obj, reason: actions.sam_unfreeze(actor=actor, sam=obj, reason=reason),
            action_name="unfreeze_selected",
        )

    @admin.action(description=_("Cancel"), permissions=["freeze"])
    def cancel_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=gettext("Cancel the SAM card"),
            perform=lambda *, actor, obj, reason: actions.sam_cancel(actor=actor, sam=obj, reason=reason),
            action_name="cancel_selected",
        )

    def has_freeze_permission(self, request):
        return request.user.has_perm("sam.freeze_sam")


@admin.register(SamStockIn)
class SamStockInAdmin(ReadOnlyPagesMixin, ActionAdmin):
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
    export_title = _("SAM stock-ins")


@admin.register(SamStockOut)
class SamStockOutAdmin(ReadOnlyPagesMixin, ActionAdmin):
    list_display = [
        "batch_number",
        "from_region",
        "region",
        "institution",
        "quantity",
        "responsible_unit",
        "responsible_person",
        "at",
    ]
    list_filter = [RegionTreeFilter, "at"]
    search_fields = ["batch_number", "institution__name", "institution__code"]
    list_select_related = ["from_region", "region", "institution", "shipment"]
    show_full_result_count = False
    readonly_fields = ["change_history"]
    export_columns = STOCK_OUT_COLUMNS
    export_title = _("SAM stock-outs")


class ShipmentUpdateForm(forms.Form):
    status = forms.ChoiceField(
        label=_("delivery status"),
        required=False,
        choices=[("", _("Leave as it is")), *SamShipmentStatus.choices],
    )
    waybill = forms.CharField(label=_("waybill number"), max_length=40, required=False)
    courier = forms.CharField(label=_("courier"), max_length=50, required=False)
    signed_by = forms.CharField(label=_("signed for by"), max_length=50, required=False)


@admin.register(SamShipment)
class SamShipmentAdmin(ReadOnlyPagesMixin, ActionAdmin):
    list_display = ["stock_out", "destination", "waybill", "courier", "status", "signed_by", "signed_at"]
    list_filter = [RegionTreeFilter, "status"]
    search_fields = ["waybill", "courier", "stock_out__batch_number"]
    list_select_related = ["stock_out", "stock_out__institution", "stock_out__region"]
    show_full_result_count = False
    readonly_fields = ["change_history"]
    actions = ["update_selected"]
    export_columns = SHIPMENT_COLUMNS
    export_title = _("SAM shipments")

    @admin.display(description=_("destination"))
    def destination(self, obj):
        return obj.stock_out.destination

    @admin.action(description=_("Update delivery"), permissions=["change"])
    def update_selected(self, request, queryset):
        return run_with_form(
            self,
            request,
            queryset,
            form_class=ShipmentUpdateForm,
            title=gettext("Update delivery"),
            action_name="update_selected",
            perform=lambda *, actor, obj, data: actions.sam_shipment_update(
                actor=actor,
                shipment=obj,
                status=data["status"],
                **{name: data[name] or None for name in ("waybill", "courier", "signed_by")},
            ),
        )
