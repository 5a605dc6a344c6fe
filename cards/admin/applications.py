"""Admin of the cards app: applications (submit, review, withdraw, receipt) and application batches."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from cards import actions
from cards.actions.applications import holder_eligibility
from cards.actions.common import institution_of
from cards.admin.cards import ViewOnlyDetailMixin, admin_link, history_table
from cards.choices import ApplicationStatus, DocumentType, ReviewDecision
from cards.filtersets.applications import WAITING_STATUSES
from cards.models import Application, ApplicationBatch
from cards.receipts import application_receipt_response
from cards.selectors.applications import (
    APPLICATION_RELATED,
    application_history,
    applications_waiting_for,
    holder_by_document,
    review_level_of,
)
from registry.actors import Actor
from registry.admin_base import ActionAdmin, run_with_reason
from registry.admin_mixins import NoCountPaginationMixin, RegionTreeFilter
from registry.errors import DomainError
from registry.exports import Column
from registry.protection import blind_index, mask_id_number, mask_name
from registry.scope import scope_queryset

APPLICATION_COLUMNS = [
    Column(_("application number"), "number", 24),
    Column(_("holder"), lambda a: a.resident.masked_name, 10),
    Column(_("document number"), lambda a: a.resident.masked_document_number, 22),
    Column(pgettext_lazy("application", "channel"), "channel", 14),
    Column(_("applicant"), "applicant_kind", 8),
    Column(_("status"), "status", 14),
    Column(_("region"), "region.full_name", 20),
    Column(_("service point"), lambda a: getattr(institution_of(a), "name", ""), 26),
    Column(_("batch"), lambda a: a.batch.number if a.batch_id else "", 22),
    Column(_("submitted at"), "submitted_at", 18),
]
BATCH_COLUMNS = [
    Column(_("batch number"), "number", 24),
    Column(_("title"), "title", 24),
    Column(_("region"), "region.full_name", 20),
    Column(_("service point"), lambda b: getattr(institution_of(b), "name", ""), 26),
    Column(_("created at"), "created_at", 18),
    Column(_("applications"), "application_count", 10),
    Column(_("waiting for review"), "waiting_count", 10),
]


def batch_approve_all(*, actor: Actor, user, batch: ApplicationBatch) -> tuple[int, list[dict]]:
    """Approve every application of the batch that waits for the review `user` gives; one action each, so
    one that cannot be approved (withdrawn meanwhile) does not stop the others."""
    done, failed = 0, []
    for application in applications_waiting_for(user=user, batch=batch).order_by("id"):
        try:
            actions.application_review(actor=actor, application=application, decision=ReviewDecision.APPROVE)
            done += 1
        except DomainError as error:
            failed.append({"number": application.number, **error.as_dict()})
    return done, failed


def report(model_admin, request, done: int, failed: list[str]) -> None:
    if done:
        model_admin.message_user(request, gettext("%(count)s done.") % {"count": done}, messages.SUCCESS)
    for message in failed:
        model_admin.message_user(request, message, messages.ERROR)


# --- Forms ---------------------------------------------------------------------------------------------


class ApplicationSubmitForm(forms.ModelForm):
    """申领: the holder is picked by the exact document number (blind index), never by a name search."""

    document_type = forms.ChoiceField(
        label=_("holder's document type"), choices=DocumentType.choices, initial=DocumentType.ID_CARD
    )
    document_number = forms.CharField(
        label=_("holder's document number"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Exactly as registered; register the holder first."),
    )
    user = None  # set per request by ApplicationAdmin.get_form

    class Meta:
        model = Application
        fields = [
            "channel",
            "applicant_kind",
            "guardian_name",
            "guardian_document_type",
            "guardian_document_number",
            "guardian_relation",
            "medical_institution",
            "financial_institution",
            "batch",
            "note",
        ]
        widgets = {
            "guardian_name": forms.TextInput(attrs={"autocomplete": "off"}),
            "guardian_document_number": forms.TextInput(attrs={"autocomplete": "off"}),
        }

    def clean(self):
        cleaned = super().clean()
        number = cleaned.get("document_number")
        if number:
            resident = holder_by_document(
                user=self.user, document_number=number, document_type=cleaned.get("document_type")
            )
            if resident is None:
                self.add_error(
                    "document_number",
                    gettext("No holder with this document number in your region: register the holder first."),
                )
            else:
                refusal = holder_eligibility(resident)
                if refusal is not None:
                    self.add_error("document_number", refusal.message_zh)
                self.resident = resident
        if cleaned.get("medical_institution") and cleaned.get("financial_institution"):
            self.add_error(
                "financial_institution",
                gettext("Choose one service point: a medical institution or a bank branch."),
            )
        return cleaned


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("decision"), choices=ReviewDecision.choices, widget=forms.RadioSelect, initial="approve"
    )
    reason = forms.CharField(
        label=_("reason"),
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required for a rejection."),
    )


class ReasonOnlyForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200, widget=forms.Textarea(attrs={"rows": 3}))


# --- Filters -------------------------------------------------------------------------------------------


class BatchFilter(admin.SimpleListFilter):
    """The batches still waiting for a review (any batch id works in the URL, e.g. from a batch's page)."""

    title = _("batch")
    parameter_name = "batch"

    def lookups(self, request, model_admin):
        batches = (
            scope_queryset(ApplicationBatch.objects.all(), request.user)
            .filter(applications__status__in=WAITING_STATUSES)
            .distinct()
            .order_by("-created_at")[:20]
        )
        choices = [(str(b.pk), str(b)) for b in batches]
        chosen = self.value()
        if chosen and chosen.isdigit() and chosen not in {pk for pk, _label in choices}:
            batch = scope_queryset(ApplicationBatch.objects.all(), request.user).filter(pk=chosen).first()
            if batch is not None:
                choices.insert(0, (str(batch.pk), str(batch)))
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(batch_id=value) if value and value.isdigit() else queryset


# --- Applications ---------------------------------------------------------------------------------------


@admin.register(Application)
class ApplicationAdmin(NoCountPaginationMixin, ViewOnlyDetailMixin, ActionAdmin):
    list_display = [
        "number",
        "holder_masked",
        "channel",
        "status",
        "region",
        "service_point",
        "submitted_at",
    ]
    list_filter = ["status", "channel", RegionTreeFilter, BatchFilter, "submitted_at"]
    search_fields = ["number"]
    search_help_text = _("Application number (or its beginning), or the holder's document number (exact).")
    list_select_related = APPLICATION_RELATED
    list_per_page = 50
    show_full_result_count = False
    autocomplete_fields = ["medical_institution", "financial_institution", "batch"]
    change_form_template = "cards/cards/change_form.html"
    export_columns = APPLICATION_COLUMNS
    export_title = _("Applications")
    actions = ["approve_selected", "reject_selected", "withdraw_selected"]
    detail_fields = [
        "number",
        "holder_masked",
        "channel",
        "applicant_kind",
        "guardian",
        "status",
        "status_changed_at",
        "region",
        "service_point",
        "batch_link",
        "submitted_at",
        "submitted_by",
        "note",
    ]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["document_type", "document_number", "channel", "applicant_kind"]}),
                (
                    _("Guardian (for a child)"),
                    {
                        "fields": [
                            "guardian_name",
                            "guardian_document_type",
                            "guardian_document_number",
                            "guardian_relation",
                        ]
                    },
                ),
                (
                    _("Service point"),
                    {"fields": ["medical_institution", "financial_institution", "batch", "note"]},
                ),
            ]
        return [
            (None, {"fields": self.detail_fields}),
            (_("Reviews"), {"fields": ["reviews_panel"]}),
            (_("Case history"), {"fields": ["history_panel"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.detail_fields, "reviews_panel", "history_panel"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApplicationSubmitForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # a fresh class per request (modelform_factory), so this is not shared
        return form

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().upper()
        if not term:
            return queryset, False
        if len(term) >= 15 and not term.startswith("A"):  # an ID number: exact, through the blind index
            return queryset.filter(resident__document_index=blind_index(term, family="id_number")), False
        return queryset.filter(number__startswith=term), False

    def save_model(self, request, obj, form, change):
        if change:  # pragma: no cover - the detail page is read-only
            return
        data = form.cleaned_data
        saved = actions.application_submit(
            actor=Actor.from_request(request),
            resident=form.resident,
            channel=data["channel"],
            applicant_kind=data["applicant_kind"],
            guardian_name=data.get("guardian_name") or "",
            guardian_document_type=data.get("guardian_document_type") or "",
            guardian_document_number=data.get("guardian_document_number") or "",
            guardian_relation=data.get("guardian_relation") or "",
            institution=data.get("medical_institution") or data.get("financial_institution"),
            batch=data.get("batch"),
            note=data.get("note") or "",
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # nothing related: the action wrote everything

    # --- columns and panels ---

    @admin.display(description=_("holder"))
    def holder_masked(self, obj):
        resident = obj.resident
        return admin_link(resident, f"{resident.masked_name} {resident.masked_document_number}")

    @admin.display(description=_("guardian"))
    def guardian(self, obj):
        if not obj.guardian_name:
            return "-"
        return (
            f"{mask_name(obj.guardian_name)} {mask_id_number(obj.guardian_document_number)} "
            f"({obj.get_guardian_relation_display()})"
        )

    @admin.display(description=_("service point"))
    def service_point(self, obj):
        point = institution_of(obj)
        return point.name if point else "-"

    @admin.display(description=_("batch"))
    def batch_link(self, obj):
        return admin_link(obj.batch) if obj.batch_id else "-"

    @admin.display(description=_("reviews"))
    def reviews_panel(self, obj):
        reviews = list(obj.reviews.all())
        if not reviews:
            return "-"
        return format_html(
            '<table class="hc-reviews">{}</table>',
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        timezone.localtime(r.at).strftime("%Y-%m-%d %H:%M:%S"),
                        r.get_level_display(),
                        r.get_decision_display(),
                        r.reviewer_label,
                        r.reason,
                    )
                    for r in reviews
                ),
            ),
        )

    @admin.display(description=_("case history"))
    def history_panel(self, obj):
        return history_table(application_history(application=obj))

    # --- detail page buttons and their views ---

    def has_review_permission(self, request):
        return request.user.has_perm("cards.review_application")

    def detail_buttons(self, request, obj) -> list[tuple[str, str]]:
        items = [
            (_("Print the application receipt"), reverse("admin:cards_application_receipt", args=[obj.pk]))
        ]
        if obj.status in WAITING_STATUSES and self.has_review_permission(request):
            items.append((_("Review"), reverse("admin:cards_application_review", args=[obj.pk])))
        allowed = Application.TRANSITIONS.allowed_from(obj.status)
        if ApplicationStatus.WITHDRAWN in allowed and request.user.has_perm("cards.change_application"):
            items.append((_("Withdraw"), reverse("admin:cards_application_withdraw", args=[obj.pk])))
        return items

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        extra_context = {
            "detail_buttons": self.detail_buttons(request, obj) if obj else [],
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/receipt/", view(self.receipt_view), name="cards_application_receipt"),
            path("<int:pk>/review/", view(self.review_view), name="cards_application_review"),
            path("<int:pk>/withdraw/", view(self.withdraw_view), name="cards_application_withdraw"),
            *super().get_urls(),
        ]

    def receipt_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return application_receipt_response(self.object_or_404(request, pk))

    def _form_page(self, request, obj, form, title, submit_label):
        return TemplateResponse(
            request,
            "cards/applications/action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": obj,
                "title": title,
                "form": form,
                "submit_label": submit_label,
                "summary": [
                    (_("application number"), obj.number),
                    (_("holder"), f"{obj.resident.masked_name} {obj.resident.masked_document_number}"),
                    (pgettext_lazy("application", "channel"), obj.get_channel_display()),
                    (_("status"), obj.get_status_display()),
                ],
            },
        )

    def _done(self, obj):
        return HttpResponseRedirect(reverse("admin:cards_application_change", args=[obj.pk]))

    def review_view(self, request, pk: int):
        if not self.has_review_permission(request):
            raise PermissionDenied
        application = self.object_or_404(request, pk)
        form = DecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                actions.application_review(
                    actor=Actor.from_request(request),
                    application=application,
                    decision=form.cleaned_data["decision"],
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as error:
                form.add_error(None, error.message_zh)
            else:
                self.message_user(request, gettext("Review recorded."), messages.SUCCESS)
                return self._done(application)
        return self._form_page(
            request, application, form, _("Review the application"), _("Record the review")
        )

    def withdraw_view(self, request, pk: int):
        if not request.user.has_perm("cards.change_application"):
            raise PermissionDenied
        application = self.object_or_404(request, pk)
        form = ReasonOnlyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                actions.application_withdraw(
                    actor=Actor.from_request(request),
                    application=application,
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as error:
                form.add_error(None, error.message_zh)
            else:
                self.message_user(request, gettext("Application withdrawn."), messages.SUCCESS)
                return self._done(application)
        return self._form_page(request, application, form, _("Withdraw the application"), _("Withdraw"))

    # --- list actions ---

    @admin.action(description=_("Approve selected (at my review level)"), permissions=["review"])
    def approve_selected(self, request, queryset):
        actor = Actor.from_request(request)
        done, failed = 0, []
        for application in queryset.select_related(None).order_by("id"):
            try:
                actions.application_review(
                    actor=actor, application=application, decision=ReviewDecision.APPROVE
                )
                done += 1
            except DomainError as error:
                failed.append(f"{application.number}: {error.message_zh}")
        report(self, request, done, failed)

    @admin.action(description=_("Reject selected (with a reason)"), permissions=["review"])
    def reject_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Reject applications"),
            action_name="reject_selected",
            perform=lambda actor, obj, reason: actions.application_review(
                actor=actor, application=obj, decision=ReviewDecision.REJECT, reason=reason
            ),
        )

    @admin.action(description=_("Withdraw selected (with a reason)"), permissions=["change"])
    def withdraw_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Withdraw applications"),
            action_name="withdraw_selected",
            perform=lambda actor, obj, reason: actions.application_withdraw(
                actor=actor, application=obj, reason=reason
            ),
        )


# --- Batches --------------------------------------------------------------------------------------------


class BatchForm(forms.ModelForm):
    class Meta:
        model = ApplicationBatch
        fields = ["title", "region", "medical_institution", "financial_institution"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("medical_institution") and cleaned.get("financial_institution"):
            self.add_error(
                "financial_institution",
                gettext("Choose one service point: a medical institution or a bank branch."),
            )
        return cleaned


@admin.register(ApplicationBatch)
class ApplicationBatchAdmin(ViewOnlyDetailMixin, ActionAdmin):
    form = BatchForm
    list_display = [
        "number",
        "title",
        "region",
        "service_point",
        "created_at",
        "application_count",
        "waiting_count",
    ]
    list_filter = [RegionTreeFilter, "created_at"]
    search_fields = ["number", "title"]
    list_select_related = ["region", "medical_institution", "financial_institution"]
    autocomplete_fields = ["region", "medical_institution", "financial_institution"]
    show_full_result_count = False
    change_form_template = "cards/cards/change_form.html"
    export_columns = BATCH_COLUMNS
    export_title = _("Application batches")
    actions = ["approve_all_selected"]
    detail_fields = [
        "number",
        "title",
        "region",
        "service_point",
        "created_at",
        "application_count",
        "waiting_count",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                application_count=Count("applications"),
                waiting_count=Count("applications", filter=Q(applications__status__in=WAITING_STATUSES)),
            )
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["title", "region", "medical_institution", "financial_institution"]})]
        return [
            (None, {"fields": self.detail_fields}),
            (_("Applications"), {"fields": ["applications_panel"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [*self.detail_fields, "applications_panel"]

    def save_model(self, request, obj, form, change):
        if change:  # pragma: no cover - the detail page is read-only
            return
        data = form.cleaned_data
        saved = actions.batch_create(
            actor=Actor.from_request(request),
            title=data["title"],
            region=data["region"],
            institution=data.get("medical_institution") or data.get("financial_institution"),
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.display(description=_("service point"))
    def service_point(self, obj):
        point = institution_of(obj)
        return point.name if point else "-"

    @admin.display(description=_("applications"), ordering="application_count")
    def application_count(self, obj):
        return obj.application_count

    @admin.display(description=_("waiting for review"), ordering="waiting_count")
    def waiting_count(self, obj):
        return obj.waiting_count

    @admin.display(description=_("applications"))
    def applications_panel(self, obj):
        rows = list(obj.applications.select_related("resident").order_by("id")[:50])
        if not rows:
            return "-"
        link = f"{reverse('admin:cards_application_changelist')}?{urlencode({'batch': obj.pk})}"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    admin_link(a, a.number),
                    a.resident.masked_name,
                    a.resident.masked_document_number,
                    a.get_status_display(),
                )
                for a in rows
            ),
        )
        return format_html(
            '<table class="hc-batch">{}</table><p><a href="{}">{}</a></p>',
            body,
            link,
            gettext("All applications of this batch"),
        )

    def has_review_permission(self, request):
        return request.user.has_perm("cards.review_application")

    def detail_buttons(self, request, obj) -> list[tuple[str, str]]:
        items = []
        if request.user.has_perm("cards.add_application"):
            query = urlencode({"batch": obj.pk, "channel": "batch"})
            items.append((_("Add an application"), f"{reverse('admin:cards_application_add')}?{query}"))
        if self.has_review_permission(request) and obj.waiting_count:
            level = review_level_of(request.user)
            if level:
                items.append(
                    (
                        _("Approve all waiting at my level"),
                        reverse("admin:cards_applicationbatch_approve", args=[obj.pk]),
                    )
                )
        return items

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        extra_context = {
            "detail_buttons": self.detail_buttons(request, obj) if obj else [],
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:pk>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="cards_applicationbatch_approve",
            ),
            *super().get_urls(),
        ]

    def approve_view(self, request, pk: int):
        """GET: what would be approved; POST: approve every application waiting for my level."""
        if not self.has_review_permission(request):
            raise PermissionDenied
        batch = self.object_or_404(request, pk)
        if request.method == "POST":
            done, failed = batch_approve_all(
                actor=Actor.from_request(request), user=request.user, batch=batch
            )
            report(self, request, done, [f"{f['number']}: {f['message_zh']}" for f in failed])
            return HttpResponseRedirect(reverse("admin:cards_applicationbatch_change", args=[batch.pk]))
        waiting = applications_waiting_for(user=request.user, batch=batch)
        return TemplateResponse(
            request,
            "cards/applications/approve_batch.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": batch,
                "title": gettext("Approve all waiting at my level"),
                "level": review_level_of(request.user),
                "waiting": waiting[:200],
                "waiting_count": waiting.count(),
            },
        )

    @admin.action(description=_("Approve all waiting at my level"), permissions=["review"])
    def approve_all_selected(self, request, queryset):
        actor = Actor.from_request(request)
        done, failed = 0, []
        for batch in queryset:
            batch_done, batch_failed = batch_approve_all(actor=actor, user=request.user, batch=batch)
            done += batch_done
            failed += [f"{f['number']}: {f['message_zh']}" for f in batch_failed]
        report(self, request, done, failed)
