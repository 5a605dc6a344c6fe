"""Admin of the three registers and the API credentials: lists, combined filters, export/print, actions."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from institutions import actions
from institutions.models import ApiCredential, CardMaker, FinancialInstitution, MedicalInstitution
from institutions.selectors import (
    card_maker_has_valid_filing,
    card_maker_work,
    credentials_expiring,
    institution_equipment,
)
from registry.actors import Actor
from registry.admin_base import ActionAdmin, run_with_reason
from registry.admin_imports import ImportAdminMixin
from registry.admin_mixins import RegionTreeFilter
from registry.errors import DomainError
from registry.exports import Column

BASE_COLUMNS = [
    Column(_("name"), "name", 30),
    Column(_("unified social credit code"), "code", 22),
    Column(_("region"), "region.full_name", 22),
]
CONTACT_COLUMNS = [
    Column(_("head"), "head", 10),
    Column(_("contact person"), "contact_person", 10),
    Column(_("phone"), "phone", 14),
    Column(_("address"), "address", 30),
    Column(_("status"), "status", 8),
    Column(_("registered at"), "registered_at", 18),
]
MEDICAL_COLUMNS = [
    *BASE_COLUMNS,
    Column(_("practice licence registration number"), "licence_number", 18),
    Column(_("nature"), "nature", 8),
    Column(_("category"), "category", 16),
    Column(_("grade"), "grade", 10),
    *CONTACT_COLUMNS,
]
CARD_MAKER_COLUMNS = [*BASE_COLUMNS, Column(_("licence number"), "licence_number", 18), *CONTACT_COLUMNS]
FINANCIAL_COLUMNS = [
    *BASE_COLUMNS,
    Column(_("kind"), "kind", 10),
    Column(_("bank code"), "bank_code", 14),
    *CONTACT_COLUMNS,
]


class OrganisationForm(forms.ModelForm):
    """Checks what the actions would refuse, so the clerk sees it next to the field, in Chinese."""

    def clean_code(self):
        try:
            return actions.clean_code(self.cleaned_data["code"])
        except DomainError as error:
            raise forms.ValidationError(error.message_zh) from error

    def clean_region(self):
        region = self.cleaned_data["region"]
        try:
            actions.check_region(self._meta.model, region)
        except DomainError as error:
            raise forms.ValidationError(error.message_zh) from error
        return region


class OrganisationAdmin(ActionAdmin):
    """What the three registers share. Writes go through institutions.actions."""

    form = OrganisationForm

    list_display = ["name", "code", "region", "head", "contact_person", "phone", "status", "registered_at"]
    list_filter = [RegionTreeFilter, "status", "registered_at"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["region"]
    list_select_related = ["region"]
    list_per_page = 50
    show_full_result_count = False
    readonly_fields = ["status", "status_reason", "registered_at", "changed_at", "change_history"]
    actions = ["deregister_selected", "reinstate_selected"]
    detail_fields: list[str] = []

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["name", "code", "region", *self.detail_fields, "status", "status_reason"]}),
            (_("Contacts"), {"fields": ["head", "contact_person", "phone", "address"]}),
            (_("History"), {"fields": ["registered_at", "changed_at", "change_history"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "code"] if obj else fields

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        editable = actions.EDITABLE[self.model]
        values = {field: form.cleaned_data[field] for field in editable if field in form.cleaned_data}
        if change:
            saved = actions.organisation_update(actor=actor, obj=obj, **values)
        else:
            saved = actions.organisation_register(
                actor=actor, model=self.model, code=form.cleaned_data["code"], **values
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def has_deregister_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.deregister_{self.opts.model_name}")

    @admin.action(description=_("Deregister selected"), permissions=["deregister"])
    def deregister_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Deregister"),
            action_name="deregister_selected",
            perform=lambda actor, obj, reason: actions.organisation_deregister(
                actor=actor, obj=obj, reason=reason
            ),
        )

    @admin.action(description=_("Reinstate selected"), permissions=["deregister"])
    def reinstate_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Reinstate"),
            action_name="reinstate_selected",
            perform=lambda actor, obj, reason: actions.organisation_reinstate(
                actor=actor, obj=obj, reason=reason
            ),
        )


@admin.register(MedicalInstitution)
class MedicalInstitutionAdmin(ImportAdminMixin, OrganisationAdmin):
    list_display = ["name", "code", "region", "category", "grade", "nature", "head", "phone", "status"]
    list_filter = [RegionTreeFilter, "status", "category", "nature", "grade", "registered_at"]
    search_fields = ["name", "code", "licence_number"]
    detail_fields = ["licence_number", "nature", "category", "grade"]
    export_columns = MEDICAL_COLUMNS
    export_title = _("Medical institutions")
    import_spec_name = "institutions.medical"
    actions = [*OrganisationAdmin.actions, "issue_credential"]
    readonly_fields = [*OrganisationAdmin.readonly_fields, "equipment", "credentials_panel"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None:
            fieldsets.insert(2, (_("Equipment and API keys"), {"fields": ["equipment", "credentials_panel"]}))
        return fieldsets

    @admin.display(description=_("equipment"))
    def equipment(self, obj):
        panel = institution_equipment(institution=obj)
        sam = panel.get("sam_cards", {"count": 0})
        terminals = panel.get("terminals", {"count": 0})
        return format_html(
            "{}: {} · {}: {}", _("SAM cards"), sam["count"], _("terminals"), terminals["count"]
        )

    @admin.display(description=_("API keys"))
    def credentials_panel(self, obj):
        keys = list(obj.credentials.order_by("-created_at")[:10])
        if not keys:
            return "-"
        return format_html(
            "<br>".join(["{}"] * len(keys)),
            *[f"{k.key_id} · {k.get_status_display()} · {k.expires_at:%Y-%m-%d}" for k in keys],
        )

    @admin.action(description=_("Issue an API key"), permissions=["change"])
    def issue_credential(self, request, queryset):
        actor = Actor.from_request(request)
        issued = []
        for institution in queryset:
            try:
                credential, secret = actions.credential_issue(actor=actor, institution=institution)
            except DomainError as error:
                self.message_user(request, f"{institution}: {error.message_zh}", messages.ERROR)
                continue
            issued.append((institution, credential, secret))
        if not issued:
            return None
        return TemplateResponse(
            request,
            "institutions/admin/secrets_once.html",
            {
                **self.admin_site.each_context(request),
                "title": _("New API keys"),
                "issued": issued,
                "opts": self.opts,
            },
        )


@admin.register(CardMaker)
class CardMakerAdmin(OrganisationAdmin):
    list_display = ["name", "code", "region", "filing_flag", "head", "phone", "status"]
    detail_fields = ["licence_number"]
    readonly_fields = [*OrganisationAdmin.readonly_fields, "filing_flag", "work_panel"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None:
            fieldsets.insert(2, (_("Filing and production"), {"fields": ["filing_flag", "work_panel"]}))
        return fieldsets

    @admin.display(description=_("filed product"))
    def filing_flag(self, obj):
        if card_maker_has_valid_filing(obj):
            return format_html('<span style="color:#2e7d32">{}</span>', _("valid filing"))
        return format_html('<strong style="color:#ba2121">⚠ {}</strong>', _("no valid filed product"))

    @admin.display(description=_("production"))
    def work_panel(self, obj):
        work = card_maker_work(maker=obj)
        rate = "-" if work["success_rate"] is None else f"{work['success_rate']}%"
        return format_html(
            "{}: {} · {}: {} · {}: {} · {}: {}",
            _("planned"),
            work["planned"],
            _("produced"),
            work["produced"],
            _("failed"),
            work["failed"],
            _("success rate"),
            rate,
        )

    export_columns = CARD_MAKER_COLUMNS
    export_title = _("Card makers")


@admin.register(FinancialInstitution)
class FinancialInstitutionAdmin(OrganisationAdmin):
    list_display = ["name", "code", "region", "kind", "bank_code", "head", "phone", "status"]
    list_filter = [RegionTreeFilter, "status", "kind", "registered_at"]
    search_fields = ["name", "code", "bank_code"]
    detail_fields = ["kind", "bank_code"]
    export_columns = FINANCIAL_COLUMNS
    export_title = _("Financial institutions")
    actions = [*OrganisationAdmin.actions, "issue_credential"]
    issue_credential = MedicalInstitutionAdmin.issue_credential


@admin.register(ApiCredential)
class ApiCredentialAdmin(ActionAdmin):
    list_display = [
        "key_id",
        "institution_name",
        "label",
        "status",
        "expires_at",
        "expiry_warning",
        "last_used_at",
    ]
    list_filter = [RegionTreeFilter, "status", "expires_at"]
    search_fields = ["key_id", "medical_institution__name", "financial_institution__name", "label"]
    list_select_related = ["medical_institution", "financial_institution"]
    readonly_fields = [
        "key_id",
        "medical_institution",
        "financial_institution",
        "status",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
        "last_used_at",
        "replaced_by",
        "change_history",
    ]
    fields = ["label", *readonly_fields]
    actions = ["rotate_selected", "revoke_selected"]
    export_columns = [
        Column(_("key id"), "key_id", 24),
        Column(_("institution"), lambda c: c.institution, 30),
        Column(_("label"), "label", 16),
        Column(_("status"), "status", 8),
        Column(_("expires at"), "expires_at", 18),
        Column(_("last used at"), "last_used_at", 18),
    ]
    export_title = _("API credentials")

    def has_add_permission(self, request):
        return False  # keys are issued from the institution (they need a secret shown once)

    def changelist_view(self, request, extra_context=None):
        for days in (7, 15, 30):
            count = credentials_expiring(user=request.user, within_days=days).count()
            if count:
                self.message_user(
                    request,
                    _(
                        "%(count)s API keys expire within %(days)s days: rotate them before hospitals are cut off."
                    )
                    % {"count": count, "days": days},
                    messages.WARNING,
                )
                break
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("institution"))
    def institution_name(self, obj):
        return obj.institution

    @admin.display(description=_("expiry"))
    def expiry_warning(self, obj):
        if obj.status != "active":
            return "-"
        days = obj.days_left
        if days < 0:
            return format_html('<strong style="color:#ba2121">{}</strong>', _("expired"))
        for limit, colour in ((7, "#ba2121"), (15, "#d9822b"), (30, "#b5a000")):
            if days <= limit:
                return format_html(
                    '<strong style="color:{}">{}</strong>', colour, _("%(days)s days left") % {"days": days}
                )
        return _("%(days)s days left") % {"days": days}

    def save_model(self, request, obj, form, change):
        actions.credential_relabel(
            actor=Actor.from_request(request), credential=obj, label=form.cleaned_data["label"]
        )

    @admin.action(description=_("Rotate selected keys"), permissions=["change"])
    def rotate_selected(self, request, queryset):
        actor = Actor.from_request(request)
        issued = []
        for credential in queryset:
            try:
                successor, secret = actions.credential_rotate(
                    actor=actor, credential=credential, grace_days=7
                )
            except DomainError as error:
                self.message_user(request, f"{credential}: {error.message_zh}", messages.ERROR)
                continue
            issued.append((credential.institution, successor, secret))
        if not issued:
            return None
        return TemplateResponse(
            request,
            "institutions/admin/secrets_once.html",
            {
                **self.admin_site.each_context(request),
                "title": _("New API keys"),
                "issued": issued,
                "opts": self.opts,
            },
        )

    @admin.action(description=_("Revoke selected keys"), permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Revoke API keys"),
            action_name="revoke_selected",
            perform=lambda actor, obj, reason: actions.credential_revoke(
                actor=actor, credential=obj, reason=reason
            ),
        )

    def has_revoke_permission(self, request):
        return request.user.has_perm("institutions.revoke_apicredential")
