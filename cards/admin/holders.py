"""Admin of the cards app: holders (居民个人数据). A masked list found by exact ID number (blind index), manual
entry validated against the ID number, a masked detail page with the audited unmasked view (调阅) and the case
history, the import from the regional platform, the comparison (比对) with a population reference file, and the
classified statistics (分类统计)."""

from __future__ import annotations

import datetime as dt
import secrets

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from cards.actions.holders import (
    EDITABLE,
    check_contacts,
    holder_compare,
    holder_exists,
    holder_register,
    holder_reveal,
    holder_update,
    holder_validate,
)
from cards.admin.cards import history_table
from cards.admin.maintenance import HolderMaintenanceMixin
from cards.choices import ContactRelation
from cards.importers import COMPARISON, HOLDER_IMPORT, comparison_rows, contact_header
from cards.models import Resident
from cards.selectors.cards import person_timeline
from cards.selectors.holders import (
    AGE_BANDS,
    DIMENSIONS,
    comparison_sheet,
    holder_statistics,
    statistics_columns,
    statistics_sheet,
)
from registry.actors import Actor
from registry.admin_base import ActionAdmin
from registry.admin_imports import ImportAdminMixin, ImportUploadForm
from registry.admin_mixins import NoCountPaginationMixin, RegionTreeFilter
from registry.errors import DomainError, PermissionDeniedError
from registry.exports import Column, export_response
from registry.imports import FORMATS, template_response
from registry.protection import blind_lookup, mask_address, mask_id_number, mask_name, mask_phone
from registry.scope import user_can_see_region

HOLDER_COLUMNS = [
    Column(pgettext_lazy("holder", "name"), "masked_name", 10),
    Column(_("document type"), "document_type", 14),
    Column(_("document number"), "masked_document_number", 22),
    Column(_("sex"), "sex", 6),
    Column(_("ethnicity"), "ethnicity", 8),
    Column(_("birth date"), "birth_date", 11),
    Column(_("region"), "region.full_name", 22),
    Column(_("phone 1"), lambda r: mask_phone(r.phone1), 13),
    Column(_("created at"), "created_at", 18),
]
# Sealed text the change page takes as a new value (empty keeps the current one, which it never shows).
PERSONAL_TEXT = ("name", "address1", "address2", "phone1", "phone2", "health_record_no", "rural_coop_no")
MASKS = {"name": mask_name, "address1": mask_address, "address2": mask_address, "phone1": mask_phone}
MASKS["phone2"] = mask_phone
CONTACTS = 3
CONTACT_PARTS = ("name", "relation", "phone")
CONTACT_FIELDS = [f"contact{n}_{part}" for n in range(1, CONTACTS + 1) for part in CONTACT_PARTS]
RELATIONS = [("", "---------"), *ContactRelation.choices]
COMPARISON_TTL = 3600
COMPARISON_ROWS_SHOWN = 500


def _mask(name: str, value) -> str:
    return MASKS.get(name, mask_id_number)(value or "") if value else ""


def _contacts_text(contacts, masked: bool = True) -> str:
    parts = []
    for contact in contacts or []:
        relation = dict(ContactRelation.choices).get(contact.get("relation"), contact.get("relation", ""))
        name, phone = contact.get("name", ""), contact.get("phone", "")
        if masked:
            name, phone = mask_name(name), mask_phone(phone)
        parts.append(f"{name}（{relation}）{phone}")
    return "；".join(parts)


class HolderForm(forms.ModelForm):
    """Manual entry (添加) and modification. Checks what holder_register / holder_update would refuse, so the
    clerk reads the problem next to its field, in Chinese. On the change page the personal fields take a new
    value and never show the current one (that is the audited unmasked view's job)."""

    request_user = None  # set per request by HolderAdmin.get_form

    contact1_name = forms.CharField(label=contact_header(1, "name"), required=False, max_length=50)
    contact1_relation = forms.ChoiceField(
        label=contact_header(1, "relation"), choices=RELATIONS, required=False
    )
    contact1_phone = forms.CharField(label=contact_header(1, "phone"), required=False, max_length=30)
    contact2_name = forms.CharField(label=contact_header(2, "name"), required=False, max_length=50)
    contact2_relation = forms.ChoiceField(
        label=contact_header(2, "relation"), choices=RELATIONS, required=False
    )
    contact2_phone = forms.CharField(label=contact_header(2, "phone"), required=False, max_length=30)
    contact3_name = forms.CharField(label=contact_header(3, "name"), required=False, max_length=50)
    contact3_relation = forms.ChoiceField(
        label=contact_header(3, "relation"), choices=RELATIONS, required=False
    )
    contact3_phone = forms.CharField(label=contact_header(3, "phone"), required=False, max_length=30)

    class Meta:
        model = Resident
        fields = [
            "document_type",
            "document_number",
            "name",
            "sex",
            "birth_date",
            "region",
            "ethnicity",
            "address1_type",
            "address1",
            "address2_type",
            "address2",
            "phone1",
            "phone2",
            "education",
            "marital_status",
            "occupation",
            "health_record_no",
            "rural_coop_no",
        ]
        widgets = {
            name: forms.TextInput(attrs={"size": 40, "autocomplete": "off"})
            for name in ("name", "document_number", *PERSONAL_TEXT[1:])
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("sex", "birth_date", "region"):
            if name in self.fields and not self.instance.pk:
                self.fields[name].required = False
                self.fields[name].help_text = _("Empty: taken from the ID number.")
        if self.instance.pk:
            for name in PERSONAL_TEXT:
                if name in self.fields:
                    self.initial[name] = ""
                    self.fields[name].required = False
                    current = _mask(name, getattr(self.instance, name))
                    self.fields[name].help_text = (
                        _("Now: %(value)s. Empty keeps it.") % {"value": current}
                        if current
                        else _("Empty keeps it empty.")
                    )
            if "contact1_name" in self.fields:
                self.fields["contact1_name"].help_text = _(
                    "Fill in the contacts to replace all of them; leave them all empty to keep them."
                )

    def _contacts(self) -> list[dict] | None:
        data = self.cleaned_data
        contacts = []
        touched = False
        for n in range(1, CONTACTS + 1):
            name, relation, phone = (data.get(f"contact{n}_{part}") or "" for part in CONTACT_PARTS)
            touched = touched or bool(name or relation or phone)
            if name or phone:
                contacts.append({"name": name, "relation": relation or ContactRelation.OTHER, "phone": phone})
        if self.instance.pk and not touched:
            return None  # keep the current contacts
        return contacts

    def _error(self, error: DomainError) -> None:
        field = (error.detail or {}).get("field") if isinstance(error.detail, dict) else None
        self.add_error(field if field in self.fields else None, error.message_zh)

    def clean(self):
        data = super().clean()
        try:
            contacts = self._contacts()
            if contacts is not None:
                data["contacts"] = check_contacts(contacts)
        except DomainError as error:
            self._error(error)
        if self.instance.pk:
            for name in PERSONAL_TEXT:
                if name in data and not data[name]:
                    del data[name]  # empty: keep the current value
            region = data.get("region")
            if region is not None and not user_can_see_region(self.request_user, region.code):
                self.add_error(
                    "region",
                    DomainError(_("%(region)s is outside your region."), {"region": region}).message_zh,
                )
            return data
        if self.errors:
            return data
        try:
            values = holder_validate(
                document_type=data.get("document_type"),
                document_number=data.get("document_number", ""),
                name=data.get("name", ""),
                sex=data.get("sex") or None,
                birth_date=data.get("birth_date"),
                region=data.get("region"),
                ethnicity=data.get("ethnicity"),
            )
        except DomainError as error:
            self._error(error)
            return data
        data.update(values)
        if not user_can_see_region(self.request_user, values["region"].code):
            self.add_error(
                "region",
                DomainError(
                    _("%(region)s is outside your region: choose the county of residence."),
                    {"region": values["region"]},
                ).message_zh,
            )
        elif holder_exists(document_type=values["document_type"], document_number=values["document_number"]):
            self.add_error("document_number", DomainError(_("This holder is already registered.")).message_zh)
        return data


@admin.register(Resident)
class HolderAdmin(NoCountPaginationMixin, HolderMaintenanceMixin, ImportAdminMixin, ActionAdmin):
    form = HolderForm
    list_display = [
        "masked_name",
        "masked_document",
        "sex",
        "ethnicity",
        "birth_date",
        "region",
        "created_at",
    ]
    list_display_links = ["masked_name", "masked_document"]
    list_filter = [RegionTreeFilter, "sex", "ethnicity", "document_type"]
    # The search is overridden: an exact document number through the blind index, never LIKE on sealed data.
    search_fields = ["document_index"]
    search_help_text = _("Exact document number (ID number).")
    list_select_related = ["region"]
    autocomplete_fields = ["region"]
    list_per_page = 50
    show_full_result_count = False
    ordering = ["-id"]
    export_columns = HOLDER_COLUMNS
    export_title = _("Holders")
    import_spec_name = HOLDER_IMPORT
    change_list_template = "cards/holders/change_list.html"
    readonly_fields = [
        "masked_name",
        "masked_document",
        "document_type",
        "sex",
        "birth_date",
        "masked_personal_data",
        "reveal_button",
        "person_blacklist",
        "case_history",
        "created_at",
        "changed_at",
        "change_history",
    ]

    # --- List ---

    @admin.display(description=pgettext_lazy("holder", "name"))
    def masked_name(self, obj):
        return obj.masked_name

    @admin.display(description=_("document number"))
    def masked_document(self, obj):
        return obj.masked_document_number

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(**blind_lookup(Resident, "document_number", term)), False

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            "can_compare": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    # --- Detail ---

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if self.has_change_permission(request, obj):
            return self.readonly_fields
        return [*self.readonly_fields, "region"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": [
                            "document_type",
                            "document_number",
                            "name",
                            "sex",
                            "birth_date",
                            "region",
                            "ethnicity",
                        ]
                    },
                ),
                (
                    _("Addresses and phones"),
                    {
                        "fields": [
                            "address1_type",
                            "address1",
                            "address2_type",
                            "address2",
                            "phone1",
                            "phone2",
                        ]
                    },
                ),
                (_("Emergency contacts"), {"fields": CONTACT_FIELDS}),
                (
                    _("Other"),
                    {
                        "fields": [
                            "education",
                            "marital_status",
                            "occupation",
                            "health_record_no",
                            "rural_coop_no",
                        ]
                    },
                ),
            ]
        identity = ["masked_name", "masked_document", "document_type", "sex", "birth_date", "reveal_button"]
        fieldsets = [
            (_("Identity (masked)"), {"fields": identity}),
            (_("Personal data (masked)"), {"fields": ["masked_personal_data"]}),
        ]
        if self.has_change_permission(request, obj):
            change = [
                "name",
                "region",
                "ethnicity",
                "address1_type",
                "address1",
                "address2_type",
                "address2",
                "phone1",
                "phone2",
                *CONTACT_FIELDS,
                "education",
                "marital_status",
                "occupation",
                "health_record_no",
                "rural_coop_no",
            ]
            fieldsets.append(
                (
                    _("Change"),
                    {
                        "fields": change,
                        "description": _(
                            "Personal fields take a new value; an empty one keeps what is there."
                        ),
                    },
                )
            )
        else:
            identity.insert(5, "region")
        fieldsets += [
            (_("Blacklist"), {"fields": ["person_blacklist"]}),
            (_("Case history"), {"fields": ["case_history"]}),
            (_("History"), {"fields": ["created_at", "changed_at", "change_history"]}),
        ]
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request_user": request.user})

    @admin.display(description=_("personal data"))
    def masked_personal_data(self, obj):
        rows = [
            (Resident._meta.get_field(name).verbose_name, _mask(name, getattr(obj, name)) or "-")
            for name in ("address1", "address2", "phone1", "phone2", "health_record_no", "rural_coop_no")
        ]
        rows.append((Resident._meta.get_field("contacts").verbose_name, _contacts_text(obj.contacts) or "-"))
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description=_("unmasked view"))
    def reveal_button(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html(
            '<a class="button hc-reveal" href="{}">{}</a>',
            reverse("admin:cards_resident_reveal", args=[obj.pk]),
            _("Look up unmasked (audited)"),
        )

    @admin.display(description=_("case history"))
    def case_history(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return history_table(person_timeline(resident=obj))

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        data = form.cleaned_data
        others = {name: data[name] for name in EDITABLE if name in data}
        if change:
            saved = holder_update(actor=actor, resident=obj, **others)
        else:
            for name in ("name", "region", "ethnicity"):
                others.pop(name, None)
            saved = holder_register(
                actor=actor,
                document_type=data["document_type"],
                document_number=data["document_number"],
                name=data["name"],
                sex=data.get("sex") or None,
                birth_date=data.get("birth_date"),
                region=data.get("region"),
                ethnicity=data["ethnicity"],
                **{name: value for name, value in others.items() if value not in ("", None)},
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    # --- Pages of their own ---

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/reveal/", view(self.reveal_view), name="cards_resident_reveal"),
            path("comparison/", view(self.comparison_view), name="cards_resident_comparison"),
            path(
                "comparison/template.<str:fmt>",
                view(self.comparison_template_view),
                name="cards_resident_comparison_template",
            ),
            path(
                "comparison/<str:token>/",
                view(self.comparison_report_view),
                name="cards_resident_comparison_report",
            ),
            path(
                "comparison/<str:token>/export/<str:fmt>/",
                view(self.comparison_export_view),
                name="cards_resident_comparison_export",
            ),
            path("statistics/", view(self.statistics_view), name="cards_resident_statistics"),
            path(
                "statistics/export/<str:fmt>/",
                view(self.statistics_export_view),
                name="cards_resident_statistics_export",
            ),
            *self.maintenance_urls(),
            *super().get_urls(),
        ]

    def _page(self, request, template: str, title, **context):
        return TemplateResponse(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **context},
        )

    def reveal_view(self, request, pk: int):
        """调阅: a confirmation with an optional reason, then the unmasked values (each view is audited)."""
        resident = self.get_queryset(request).filter(pk=pk).first()  # scoped: another city's holder is a 404
        if resident is None or not self.has_view_permission(request, resident):
            raise Http404
        if request.method != "POST":
            return self._page(
                request,
                "cards/holders/reveal_confirm.html",
                _("Show the unmasked data of %(holder)s") % {"holder": resident},
                resident=resident,
                can_reveal=request.user.has_perm("registry.view_personal_data"),
            )
        try:
            values = holder_reveal(
                actor=Actor.from_request(request),
                resident=resident,
                reason=request.POST.get("reason", "")[:500],
            )
        except PermissionDeniedError as error:
            raise PermissionDenied(error.message_zh) from error
        rows = []
        for name, value in values.items():
            label = Resident._meta.get_field(name).verbose_name
            rows.append((label, _contacts_text(value, masked=False) if name == "contacts" else value or "-"))
        return self._page(
            request,
            "registry/admin/reveal.html",
            _("Unmasked personal data of %(holder)s") % {"holder": resident},
            rows=rows,
            original=resident,
        )

    # --- Comparison (比对) ---

    def _comparison_key(self, request, token: str) -> str:
        return f"cards:holder-comparison:{request.user.pk}:{token}"

    def comparison_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            filename = (upload.name or "reference").rsplit("/", 1)[-1]
            try:
                report = holder_compare(
                    actor=Actor.from_request(request),
                    rows=comparison_rows(upload, filename),
                    filename=filename,
                )
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            else:
                # The report (masked rows only) waits in the shared cache for its page and its export.
                token = secrets.token_urlsafe(12)
                cache.set(self._comparison_key(request, token), report, COMPARISON_TTL)
                return HttpResponseRedirect(reverse("admin:cards_resident_comparison_report", args=[token]))
        return self._page(
            request,
            "cards/holders/comparison_form.html",
            _("Compare with a population reference file"),
            form=form,
            template_links=[
                (fmt.upper(), reverse("admin:cards_resident_comparison_template", args=[fmt]))
                for fmt in FORMATS
                if fmt != "json"
            ],
            columns=[(column.header, column.required) for column in COMPARISON.columns],
        )

    def comparison_template_view(self, request, fmt: str):
        if fmt not in ("xlsx", "csv"):
            raise Http404
        if not self.has_view_permission(request):
            raise PermissionDenied
        return template_response(COMPARISON, fmt)

    def _report(self, request, token: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = cache.get(self._comparison_key(request, token))
        if report is None:
            raise Http404(gettext("This comparison report has expired: upload the reference file again."))
        return report

    def comparison_report_view(self, request, token: str):
        report = self._report(request, token)
        return self._page(
            request,
            "cards/holders/comparison_report.html",
            _("Comparison with %(file)s") % {"file": report.filename},
            report=report,
            reasons=report.reason_rows(),
            rows=report.mismatches[:COMPARISON_ROWS_SHOWN],
            rows_shown=min(COMPARISON_ROWS_SHOWN, len(report.mismatches)),
            export_xlsx=reverse("admin:cards_resident_comparison_export", args=[token, "xlsx"]),
            export_pdf=reverse("admin:cards_resident_comparison_export", args=[token, "pdf"]),
            comparison_url=reverse("admin:cards_resident_comparison"),
        )

    def comparison_export_view(self, request, token: str, fmt: str):
        if fmt not in ("xlsx", "pdf"):
            raise Http404
        report = self._report(request, token)
        return export_response(comparison_sheet(report, generated_by=request.user.get_username()), fmt)

    # --- Classified statistics (分类统计) ---

    def _statistics(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        by = request.GET.get("by", "region")
        if by not in DIMENSIONS:
            by = "region"
        region = request.GET.get("region") or None
        if region is not None and not user_can_see_region(request.user, region):
            region = None
        try:
            as_of = dt.date.fromisoformat(request.GET.get("as_of", "")) if request.GET.get("as_of") else None
        except ValueError:
            as_of = None
        return holder_statistics(user=request.user, by=by, region=region, as_of=as_of)

    def statistics_view(self, request):
        statistics = self._statistics(request)
        columns = statistics_columns(statistics.by)
        query = {"by": statistics.by, "as_of": statistics.as_of.isoformat()}
        if statistics.region is not None:
            query["region"] = statistics.region.code
        table = [
            (
                row,
                [column.get(row) for column in columns],
                reverse("admin:cards_resident_statistics") + "?" + urlencode({**query, "region": row.drill})
                if statistics.by == "region" and row.drill
                else None,
            )
            for row in statistics.rows
        ]
        return self._page(
            request,
            "cards/holders/statistics.html",
            _("Holders: classified statistics"),
            statistics=statistics,
            headers=[column.header for column in columns],
            table=table,
            total=[column.get(statistics.total) for column in columns],
            dimensions=[
                (
                    key,
                    label,
                    reverse("admin:cards_resident_statistics") + "?" + urlencode({**query, "by": key}),
                )
                for key, label in DIMENSIONS.items()
            ],
            up=_up_link(statistics, query),
            export_xlsx=reverse("admin:cards_resident_statistics_export", args=["xlsx"])
            + "?"
            + urlencode(query),
            export_pdf=reverse("admin:cards_resident_statistics_export", args=["pdf"])
            + "?"
            + urlencode(query),
            bands=AGE_BANDS,
        )

    def statistics_export_view(self, request, fmt: str):
        if fmt not in ("xlsx", "pdf"):
            raise Http404
        statistics = self._statistics(request)
        return export_response(statistics_sheet(statistics, generated_by=request.user.get_username()), fmt)


def _up_link(statistics, query: dict) -> str | None:
    """The parent region's statistics, while it is still in the person's scope (the page checks again)."""
    region = statistics.region
    if region is None or region.parent_id is None:
        return None
    return reverse("admin:cards_resident_statistics") + "?" + urlencode({**query, "region": region.parent_id})
