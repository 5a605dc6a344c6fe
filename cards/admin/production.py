"""Admin of the cards app: production plans (generate, submit, start, close, the maker's files, stock-in) and
their items. Every write goes through cards.actions; pages only parse forms and call them."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

import cards.importers_production  # noqa: F401  (registers the return-file import wherever the admin loads)
from cards import actions
from cards.actions.production import FILE_STATUSES, MAX_PLAN_SIZE, RETURN_STATUSES
from cards.choices import ApplicationChannel
from cards.importers_production import PLAN_RETURN_IMPORT
from cards.models import PlanItem, ProductionPlan
from cards.selectors.production import plan_reconciliation
from institutions.choices import OrganisationStatus
from institutions.models import CardMaker
from registry.actors import Actor
from registry.admin_base import ActionAdmin, ReadOnlyPagesMixin, form_page, run_with_form
from registry.admin_imports import ImportAdminMixin
from registry.admin_mixins import RegionTreeFilter
from registry.errors import DomainError
from registry.exports import Column
from registry.models import Region


def rate_text(rate) -> str:
    return "-" if rate is None else f"{rate}%"


PLAN_COLUMNS = [
    Column(_("plan number"), "number", 26),
    Column(_("card maker"), "card_maker.name", 26),
    Column(_("region"), "region.full_name", 22),
    Column(_("status"), "status", 10),
    Column(_("cards planned"), "item_count", 10),
    Column(_("cards produced"), "produced_count", 10),
    Column(_("cards failed"), "failed_count", 10),
    Column(_("success rate"), lambda plan: rate_text(plan.success_rate), 10),
    Column(_("created at"), "created_at", 18),
    Column(_("note"), "note", 20),
]
PLAN_ITEM_COLUMNS = [
    Column(_("plan"), "plan.number", 26),
    Column(_("plan item id"), "pk", 10),
    Column(_("application"), "application.number", 26),
    Column(_("holder"), "application.resident.masked_name", 10),
    Column(_("document number"), "application.resident.masked_document_number", 22),
    Column(_("status"), "status", 10),
    Column(_("chip serial"), "chip_serial", 16),
    Column(_("failure reason"), "failure_reason", 24),
    Column(_("returned at"), "returned_at", 18),
]


class PlanGenerateForm(forms.Form):
    card_maker = forms.ModelChoiceField(
        label=_("card maker"),
        queryset=CardMaker.objects.filter(status=OrganisationStatus.ACTIVE).order_by("name"),
    )
    region = forms.CharField(
        label=_("region"),
        max_length=6,
        help_text=_(
            "The code of the city or county whose approved applications go into the plan, e.g. 610100."
        ),
    )
    size_cap = forms.IntegerField(label=_("size cap"), min_value=1, max_value=MAX_PLAN_SIZE, initial=5000)
    channel = forms.ChoiceField(
        label=pgettext_lazy("application", "channel"),
        required=False,
        choices=[
            ("", _("All channels")),
            *[c for c in ApplicationChannel.choices if c[0] != ApplicationChannel.ONSITE],
        ],
    )
    note = forms.CharField(label=_("note"), max_length=200, required=False)

    def clean_region(self):
        region = Region.objects.filter(code=self.cleaned_data["region"].strip()).first()
        if region is None:
            raise forms.ValidationError(
                _("Unknown region code %(code)s.") % {"code": self.cleaned_data["region"]}
            )
        return region


class StockInForm(forms.Form):
    responsible_unit = forms.CharField(label=_("responsible unit"), max_length=100)
    responsible_person = forms.CharField(label=_("responsible person"), max_length=50)
    batch_number = forms.CharField(
        label=_("batch number"), max_length=40, required=False, help_text=_("Left empty, a number is given.")
    )
    quantity = forms.IntegerField(
        label=_("quantity"),
        min_value=1,
        required=False,
        help_text=_("The count on the delivery note; it must match the produced cards waiting for stock-in."),
    )


@admin.register(ProductionPlan)
class ProductionPlanAdmin(ReadOnlyPagesMixin, ImportAdminMixin, ActionAdmin):
    import_spec_name = PLAN_RETURN_IMPORT
    change_list_template = "cards/production/plan_change_list.html"
    list_display = [
        "number",
        "card_maker",
        "region",
        "status",
        "item_count",
        "produced_count",
        "failed_count",
        "success_rate_display",
        "created_at",
    ]
    list_filter = [RegionTreeFilter, "status", "card_maker", "created_at"]
    search_fields = ["number"]
    list_select_related = ["card_maker", "region"]
    list_per_page = 50
    show_full_result_count = False
    readonly_fields = ["success_rate_display", "reconciliation", "tools", "change_history"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "card_maker",
                    "region",
                    "status",
                    "status_changed_at",
                    "size_cap",
                    "note",
                    "created_at",
                    "created_by",
                ]
            },
        ),
        (
            _("Production"),
            {
                "fields": [
                    "item_count",
                    "produced_count",
                    "failed_count",
                    "success_rate_display",
                    "reconciliation",
                    "tools",
                ]
            },
        ),
        (_("History"), {"fields": ["change_history"]}),
    ]
    actions = ["submit_selected", "start_selected", "close_selected", "download_file", "stock_in_selected"]
    export_columns = PLAN_COLUMNS
    export_title = _("Production plans")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("generate/", view(self.generate_view), name="cards_productionplan_generate"),
            path(
                "<int:pk>/personalisation-file/",
                view(self.file_view),
                name="cards_productionplan_personalisation_file",
            ),
            *super().get_urls(),
        ]

    def has_import_permission(self, request) -> bool:
        return self.has_change_permission(request)

    def has_generate_permission(self, request) -> bool:
        return request.user.has_perm("cards.add_productionplan")

    def changelist_view(self, request, extra_context=None):
        extra_context = {"can_generate": self.has_generate_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("success rate"))
    def success_rate_display(self, obj):
        return rate_text(obj.success_rate)

    @admin.display(description=_("reconciliation"))
    def reconciliation(self, obj):
        figures = plan_reconciliation(obj)
        return format_html(
            "{}: {} · {}: {} · {}: {} · {}: {} · {}: {} · {}: {}",
            _("planned"),
            figures["planned"],
            _("produced"),
            figures["produced"],
            _("failed"),
            figures["failed"],
            _("pending"),
            figures["pending"],
            _("stocked in"),
            figures["stocked_in"],
            _("success rate"),
            rate_text(figures["success_rate"]),
        )

    @admin.display(description=_("files and lists"))
    def tools(self, obj):
        links = [
            (
                reverse("admin:cards_planitem_changelist") + f"?plan__id__exact={obj.pk}",
                gettext("Plan items"),
            ),
            (reverse("admin:cards_stockin_changelist") + f"?plan__id__exact={obj.pk}", gettext("Stock-ins")),
        ]
        if obj.status in FILE_STATUSES:
            links.insert(
                0,
                (
                    reverse("admin:cards_productionplan_personalisation_file", args=[obj.pk]),
                    gettext("Download the personalisation file"),
                ),
            )
        if obj.status in RETURN_STATUSES:
            links.insert(1, (reverse("admin:cards_productionplan_import"), gettext("Upload the return file")))
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    # --- pages -------------------------------------------------------------------------------------------

    def generate_view(self, request):
        if not self.has_generate_permission(request):
            raise PermissionDenied
        initial = {}
        scope = getattr(request.user, "scope_region_id", None)
        if scope:
            initial["region"] = scope
        form = PlanGenerateForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                plan = actions.plan_generate(
                    actor=Actor.from_request(request),
                    card_maker=data["card_maker"],
                    region=data["region"],
                    size_cap=data["size_cap"],
                    channel=data["channel"],
                    note=data["note"],
                )
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Plan %(number)s generated with %(count)s cards.")
                    % {"number": plan.number, "count": plan.item_count},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:cards_productionplan_change", args=[plan.pk]))
        return form_page(
            self,
            request,
            form=form,
            title=gettext("Generate a production plan"),
            intro=gettext(
                "The oldest approved applications of the region (and those whose card failed) go into a draft "
                "plan, up to the size cap."
            ),
        )

    def file_view(self, request, pk: int):
        if not self.has_change_permission(request):
            raise PermissionDenied
        plan = self.get_queryset(request).filter(pk=pk).first()
        if plan is None:
            raise Http404
        try:
            made = actions.plan_personalisation_file(actor=Actor.from_request(request), plan=plan)
        except DomainError as error:
            self.message_user(request, error.message_zh, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:cards_productionplan_change", args=[plan.pk]))
        response = HttpResponse(made.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{made.filename}"'
        return response

    # --- actions -----------------------------------------------------------------------------------------

    def _each(self, request, queryset, perform):
        actor = Actor.from_request(request)
        done = 0
        for plan in queryset:
            try:
                perform(actor=actor, plan=plan)
                done += 1
            except DomainError as error:
                self.message_user(request, f"{plan}: {error.message_zh}", messages.ERROR)
        if done:
            self.message_user(request, gettext("%(count)s done.") % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Submit selected plans"), permissions=["change"])
    def submit_selected(self, request, queryset):
        self._each(request, queryset, actions.plan_submit)

    @admin.action(description=_("Start production of selected plans"), permissions=["change"])
    def start_selected(self, request, queryset):
        self._each(request, queryset, actions.plan_start)

    @admin.action(description=_("Close selected plans"), permissions=["change"])
    def close_selected(self, request, queryset):
        from registry.admin_base import run_with_reason

        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Close production plans"),
            action_name="close_selected",
            perform=lambda actor, obj, reason: actions.plan_close(actor=actor, plan=obj, reason=reason),
        )

    @admin.action(description=_("Download the personalisation file"), permissions=["change"])
    def download_file(self, request, queryset):
        plans = list(queryset[:2])
        if len(plans) != 1:
            self.message_user(request, gettext("Choose exactly one plan."), messages.WARNING)
            return None
        return self.file_view(request, plans[0].pk)

    @admin.action(description=_("Stock in the produced cards"), permissions=["change"])
    def stock_in_selected(self, request, queryset):
        single = queryset.count() == 1  # a batch number names one stock-in: several plans get numbers given
        return run_with_form(
            self,
            request,
            queryset,
            form_class=StockInForm,
            title=_("Stock in the produced cards"),
            action_name="stock_in_selected",
            intro=_("Every produced card of each plan that is not yet in stock is stocked in as one batch."),
            perform=lambda actor, obj, data: actions.stock_in_record(
                actor=actor,
                plan=obj,
                responsible_unit=data["responsible_unit"],
                responsible_person=data["responsible_person"],
                batch_number=data["batch_number"] if single else "",
                quantity=data["quantity"],
            ),
        )


class PlanRegionFilter(RegionTreeFilter):
    scope_field = "plan__region__code"


@admin.register(PlanItem)
class PlanItemAdmin(ActionAdmin):
    """One card of a plan: the holder (masked), the maker's chip serial or failure reason."""

    scope_field = "plan__region__code"
    list_display = [
        "id",
        "plan",
        "holder",
        "document_number",
        "application",
        "status",
        "chip_serial",
        "failure_reason",
        "returned_at",
    ]
    list_filter = [PlanRegionFilter, "status", "plan__status"]
    search_fields = ["plan__number", "chip_serial", "application__number"]
    list_select_related = ["plan", "application", "application__resident"]
    list_per_page = 100
    show_full_result_count = False
    export_columns = PLAN_ITEM_COLUMNS
    export_title = _("Plan items")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("holder"))
    def holder(self, obj):
        return obj.application.resident.masked_name

    @admin.display(description=_("document number"))
    def document_number(self, obj):
        return obj.application.resident.masked_document_number
