"""Admin of the cards app: cards (masked list, collected / uncollected, case history), the collection desk
(领卡) with its receipt, and the on-site issuance page (即时发卡)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cards import actions
from cards.actions.lists import card_blacklist_entry, card_whitelist_entry
from cards.admin.maintenance import CardMaintenanceMixin
from cards.choices import (
    ApplicantKind,
    ApplicationChannel,
    CancellationReason,
    CardStatus,
    ContactRelation,
    DocumentType,
    ReplacementReason,
)
from cards.filtersets.cards import Collection, filter_collection
from cards.models import Application, Card, Resident
from cards.receipts import collection_receipt_response
from cards.selectors.applications import holder_by_document
from cards.selectors.cards import CARD_RELATED, card_timeline, cards_to_collect, onsite_candidates
from institutions.choices import OrganisationStatus
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.admin_base import ActionAdmin
from registry.admin_mixins import NoCountPaginationMixin, RegionTreeFilter
from registry.choices import ListReason
from registry.errors import DomainError
from registry.exports import Column
from registry.protection import blind_index, mask_id_number
from registry.scope import scope_queryset

CARD_COLUMNS = [
    Column(_("card number"), lambda c: mask_id_number(c.card_no), 22),
    Column(_("chip serial"), "chip_serial", 18),
    Column(_("holder"), lambda c: c.resident.masked_name, 10),
    Column(_("status"), "status", 12),
    Column(_("region"), "region.full_name", 20),
    Column(_("issuing point"), lambda c: getattr(c.issuing_point, "name", ""), 26),
    Column(_("application"), lambda c: c.application.number if c.application_id else "", 24),
    Column(_("personalised at"), "issued_at", 18),
    Column(_("collected at"), "collected_at", 18),
    Column(_("expires on"), "expires_on", 12),
]


# --- Shared by the application and card pages ------------------------------------------------------------


def admin_link(obj, label=None) -> str:
    """A link to obj's admin page, or its plain text when that page does not exist (yet)."""
    if obj is None:
        return "-"
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(label or obj)
    return format_html('<a href="{}">{}</a>', url, label or obj)


def history_table(events) -> str:
    """The case history as a table: time, event, actor, channel, institution, reason (oldest first)."""
    rows = list(events)
    if not rows:
        return "-"
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S"),
                event.get_kind_display(),
                event.actor_label,
                event.get_channel_display(),
                event.institution_name or "-",
                event.application.number if event.application_id else "-",
                event.reason or "",
            )
            for event in rows
        ),
    )
    head = format_html(
        "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        _("time"),
        _("event"),
        _("actor"),
        _("channel"),
        _("institution"),
        _("application"),
        _("reason"),
    )
    return format_html('<table class="hc-history">{}{}</table>', head, body)


class ViewOnlyDetailMixin:
    """A register whose rows change only through actions: the detail page is read-only (no Save), while the
    list keeps its actions (they check the model-level permission)."""

    def has_change_permission(self, request, obj=None):
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def object_or_404(self, request, pk):
        obj = self.get_queryset(request).filter(pk=pk).first()  # scoped: another city's row is a 404
        if obj is None:
            raise Http404
        return obj


def institution_widget(name: str) -> AutocompleteSelect:
    return AutocompleteSelect(Application._meta.get_field(name), admin.site)


def issuing_point_fields(form: forms.Form, user) -> None:
    """Two pickers (a medical institution or a bank branch), active ones in the user's scope."""
    form.fields["medical_institution"] = forms.ModelChoiceField(
        label=_("issuing medical institution"),
        queryset=scope_queryset(MedicalInstitution.objects.filter(status=OrganisationStatus.ACTIVE), user),
        required=False,
        widget=institution_widget("medical_institution"),
    )
    form.fields["financial_institution"] = forms.ModelChoiceField(
        label=_("issuing bank branch"),
        queryset=scope_queryset(FinancialInstitution.objects.filter(status=OrganisationStatus.ACTIVE), user),
        required=False,
        widget=institution_widget("financial_institution"),
    )


def chosen_point(form: forms.Form):
    medical = form.cleaned_data.get("medical_institution")
    bank = form.cleaned_data.get("financial_institution")
    if bool(medical) == bool(bank):
        raise forms.ValidationError(
            gettext("Choose one issuing point: a medical institution or a bank branch.")
        )
    return medical or bank


# --- Forms of the collection desk and the on-site page --------------------------------------------------


class FindHolderForm(forms.Form):
    document_type = forms.ChoiceField(
        label=_("document type"), choices=DocumentType.choices, initial=DocumentType.ID_CARD
    )
    document_number = forms.CharField(
        label=_("document number"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
        help_text=_("Exactly as on the document (or read by the ID card reader)."),
    )


class CollectForm(forms.Form):
    card = forms.IntegerField(widget=forms.HiddenInput)
    identity_document_type = forms.ChoiceField(
        label=_("document shown"), choices=DocumentType.choices, initial=DocumentType.ID_CARD
    )
    identity_document_number_seen = forms.CharField(
        label=_("number on the document shown"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Compared with the holder's (or the guardian's) number; it is not stored."),
    )
    collected_by_guardian = forms.BooleanField(label=_("collected by the guardian"), required=False)
    note = forms.CharField(label=_("note"), max_length=200, required=False)


class OnsiteApplyForm(forms.Form):
    applicant_kind = forms.ChoiceField(
        label=_("applicant"), choices=ApplicantKind.choices, initial=ApplicantKind.HOLDER
    )
    guardian_name = forms.CharField(label=_("guardian name"), max_length=50, required=False)
    guardian_document_type = forms.ChoiceField(
        label=_("guardian document type"), choices=[("", "-"), *DocumentType.choices], required=False
    )
    guardian_document_number = forms.CharField(
        label=_("guardian document number"), max_length=40, required=False
    )
    guardian_relation = forms.ChoiceField(
        label=_("guardian relation"), choices=[("", "-"), *ContactRelation.choices], required=False
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        issuing_point_fields(self, user)

    def clean(self):
        cleaned = super().clean()
        self.point = chosen_point(self)
        return cleaned


class OnsiteAllocateForm(forms.Form):
    application = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        issuing_point_fields(self, user)

    def clean(self):
        cleaned = super().clean()
        self.point = chosen_point(self)
        return cleaned


class OnsiteCompleteForm(forms.Form):
    card = forms.IntegerField(widget=forms.HiddenInput)
    chip_serial = forms.CharField(
        label=_("chip serial"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("As the terminal reports it after writing the chip."),
    )


class OnsiteAbortForm(forms.Form):
    card = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("reason"), max_length=200)


# --- The card admin --------------------------------------------------------------------------------------


class CollectionFilter(admin.SimpleListFilter):
    title = _("collection")
    parameter_name = "collection"

    def lookups(self, request, model_admin):
        return Collection.choices

    def queryset(self, request, queryset):
        return filter_collection(queryset, self.value()) if self.value() else queryset


@admin.register(Card)
class CardAdmin(NoCountPaginationMixin, CardMaintenanceMixin, ViewOnlyDetailMixin, ActionAdmin):
    list_display = [
        "masked_card_no",
        "chip_serial",
        "holder",
        "status",
        "region",
        "issuing_point_name",
        "collected_at",
        "expires_on",
    ]
    list_filter = ["status", CollectionFilter, RegionTreeFilter, "collected_at", "expires_on"]
    search_fields = ["chip_serial"]
    search_help_text = _("Chip serial, or the holder's document number (exact).")
    list_select_related = CARD_RELATED
    list_per_page = 50
    show_full_result_count = False
    change_list_template = "cards/cards/change_list.html"
    change_form_template = "cards/cards/change_form.html"
    export_columns = CARD_COLUMNS
    export_title = _("Cards")
    actions = None
    readonly_fields = [
        "masked_card_no",
        "chip_serial",
        "holder",
        "status",
        "status_changed_at",
        "status_reason_text",
        "list_entries",
        "replaces_link",
        "replaced_by_link",
        "region",
        "issuing_point_name",
        "application_link",
        "stock_in",
        "stock_out",
        "issued_at",
        "collected_at",
        "expires_on",
        "created_at",
        "history_panel",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "masked_card_no",
                    "chip_serial",
                    "holder",
                    "status",
                    "status_changed_at",
                    "status_reason_text",
                    "list_entries",
                    "replaces_link",
                    "replaced_by_link",
                    "region",
                    "issuing_point_name",
                    "application_link",
                ]
            },
        ),
        (_("Production and stock"), {"fields": ["stock_in", "stock_out", "issued_at", "created_at"]}),
        (_("Collection"), {"fields": ["collected_at", "expires_on"]}),
        (_("Case history"), {"fields": ["history_panel"]}),
    ]

    def has_add_permission(self, request):
        return False  # cards come from production plans and on-site issuance, never typed in

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if len(term) >= 15:
            # An ID number: exact, through the blind index (the card number is the holder's document number).
            return queryset.filter(card_index=blind_index(term, family="id_number")), False
        return queryset.filter(chip_serial=term.upper()) if term else queryset, False

    @admin.display(description=_("card number"))
    def masked_card_no(self, obj):
        return mask_id_number(obj.card_no)

    @admin.display(description=_("holder"))
    def holder(self, obj):
        return admin_link(obj.resident, f"{obj.resident.masked_name} {obj.resident.masked_document_number}")

    @admin.display(description=_("issuing point"))
    def issuing_point_name(self, obj):
        point = obj.issuing_point
        return point.name if point else "-"

    @admin.display(description=_("application"))
    def application_link(self, obj):
        return admin_link(obj.application, obj.application.number if obj.application_id else None)

    @admin.display(description=_("case history"))
    def history_panel(self, obj):
        return history_table(card_timeline(card=obj))

    @admin.display(description=_("status reason"))
    def status_reason_text(self, obj):
        labels = {**dict(CancellationReason.choices), **dict(ReplacementReason.choices)}
        return labels.get(obj.status_reason, obj.status_reason) or "-"

    @admin.display(description=_("blacklist / whitelist"))
    def list_entries(self, obj):
        black, white = card_blacklist_entry(obj), card_whitelist_entry(obj)
        parts = []
        if black is not None:
            parts.append(gettext("blacklisted (%(reason)s)") % {"reason": ListReason(black.reason).label})
        if white is not None:
            parts.append(gettext("whitelisted"))
        return "; ".join(parts) or "-"

    @admin.display(description=_("replaces card"))
    def replaces_link(self, obj):
        return admin_link(obj.replaces) if obj.replaces_id else "-"

    @admin.display(description=_("replaced by"))
    def replaced_by_link(self, obj):
        newer = list(obj.replacements.all())
        return format_html_join(", ", "{}", ((admin_link(card),) for card in newer)) if newer else "-"

    def detail_buttons(self, request, obj) -> list[tuple[str, str]]:
        can_change = request.user.has_perm("cards.change_card")
        holder_query = urlencode({"holder": obj.resident_id})
        items = []
        if obj.status == CardStatus.AWAITING_COLLECTION and can_change:
            items.append(
                (_("Collect (identity check)"), f"{reverse('admin:cards_card_collect')}?{holder_query}")
            )
        if obj.status == CardStatus.ISSUING and request.user.has_perms(
            ["cards.add_card", "cards.change_card"]
        ):
            items.append(
                (_("Continue on-site issuance"), f"{reverse('admin:cards_card_onsite')}?{holder_query}")
            )
        if obj.collected_at or obj.status == CardStatus.AWAITING_COLLECTION:
            items.append(
                (_("Print the collection receipt"), reverse("admin:cards_card_receipt", args=[obj.pk]))
            )
        return items + self.maintenance_buttons(request, obj)

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
            path("collect/", view(self.collect_view), name="cards_card_collect"),
            path("onsite/", view(self.onsite_view), name="cards_card_onsite"),
            path("<int:pk>/receipt/", view(self.receipt_view), name="cards_card_receipt"),
            *self.maintenance_urls(),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            "can_collect": request.user.has_perm("cards.change_card"),
            "can_issue_onsite": request.user.has_perms(["cards.add_card", "cards.change_card"]),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    # --- receipt --------------------------------------------------------------------------------------

    def receipt_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        card = self.object_or_404(request, pk)
        try:
            return collection_receipt_response(card)
        except DomainError as error:
            self.message_user(request, error.message_zh, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:cards_card_change", args=[card.pk]))

    # --- pages that find a holder first -----------------------------------------------------------------

    def _page(self, request, template: str, title, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                **context,
            },
        )

    def _holder(self, request) -> Resident | None:
        pk = request.GET.get("holder", "")
        if not pk.isdigit():
            return None
        holder = scope_queryset(Resident.objects.select_related("region"), request.user).filter(pk=pk).first()
        if holder is None:
            raise Http404
        return holder

    def _find(self, request, url_name: str):
        """POST of the find form: the document number travels in the body, never in a URL or a log."""
        form = FindHolderForm(request.POST)
        if form.is_valid():
            holder = holder_by_document(
                user=request.user,
                document_number=form.cleaned_data["document_number"],
                document_type=form.cleaned_data["document_type"],
            )
            if holder is not None:
                return HttpResponseRedirect(f"{reverse(url_name)}?{urlencode({'holder': holder.pk})}"), form
            form.add_error(
                "document_number",
                gettext("No holder with this document number in your region: register the holder first."),
            )
        return None, form

    def _back(self, url_name: str, holder_pk) -> HttpResponseRedirect:
        return HttpResponseRedirect(f"{reverse(url_name)}?{urlencode({'holder': holder_pk})}")

    def collect_view(self, request):
        """The collection desk: find the holder, check the document shown, hand the card over."""
        if not request.user.has_perm("cards.change_card"):
            raise PermissionDenied
        find_form = FindHolderForm()
        if request.method == "POST" and request.POST.get("step") == "find":
            redirect, find_form = self._find(request, "admin:cards_card_collect")
            if redirect:
                return redirect
        holder = self._holder(request)
        forms_by_card = {}
        if holder is not None:
            cards = list(cards_to_collect(user=request.user, resident=holder))
            for card in cards:
                forms_by_card[card.pk] = CollectForm(initial={"card": card.pk}, prefix=f"c{card.pk}")
            if request.method == "POST" and request.POST.get("step") == "collect":
                card_pk = request.POST.get("card_pk", "")
                card = next((c for c in cards if str(c.pk) == card_pk), None)
                if card is None:
                    raise Http404
                form = CollectForm(request.POST, prefix=f"c{card.pk}")
                forms_by_card[card.pk] = form
                if form.is_valid():
                    try:
                        actions.card_collect(
                            actor=Actor.from_request(request),
                            card=card,
                            identity_document_type=form.cleaned_data["identity_document_type"],
                            identity_document_number_seen=form.cleaned_data["identity_document_number_seen"],
                            collected_by_guardian=form.cleaned_data["collected_by_guardian"],
                            note=form.cleaned_data["note"],
                        )
                    except DomainError as error:
                        form.add_error(None, error.message_zh)
                    else:
                        self.message_user(
                            request,
                            gettext(
                                "Card %(card)s handed over and active. Print the collection receipt for signing."
                            )
                            % {"card": card},
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(reverse("admin:cards_card_change", args=[card.pk]))
            rows = [(card, forms_by_card[card.pk]) for card in cards]
        else:
            rows = []
        return self._page(
            request,
            "cards/cards/collect.html",
            _("Collect a card"),
            find_form=find_form,
            holder=holder,
            rows=rows,
            guardian_applications={
                card.pk: card.application.applicant_kind == ApplicantKind.GUARDIAN
                for card, _form in rows
                if card.application_id
            },
        )

    def onsite_view(self, request):
        """On-site instant issuance: find the holder, allocate a card for an approved application (or apply
        and allocate at once), write the chip at the terminal, enter its serial; or abort with a reason."""
        if not request.user.has_perms(["cards.add_card", "cards.change_card"]):
            raise PermissionDenied
        find_form = FindHolderForm()
        step = request.POST.get("step") if request.method == "POST" else None
        if step == "find":
            redirect, find_form = self._find(request, "admin:cards_card_onsite")
            if redirect:
                return redirect
        holder = self._holder(request)
        context = {"find_form": find_form, "holder": holder}
        if holder is not None:
            actor = Actor.from_request(request)
            candidates = onsite_candidates(user=request.user, resident=holder)
            issuing = list(candidates["issuing"])
            # One card at a time: while one is being written, no other is allocated.
            applications = [] if issuing else list(candidates["applications"])
            allocate_forms = {
                a.pk: OnsiteAllocateForm(
                    initial={
                        "application": a.pk,
                        "medical_institution": a.medical_institution_id,
                        "financial_institution": a.financial_institution_id,
                    },
                    prefix=f"a{a.pk}",
                    user=request.user,
                )
                for a in applications
            }
            complete_forms = {
                c.pk: OnsiteCompleteForm(initial={"card": c.pk}, prefix=f"k{c.pk}") for c in issuing
            }
            abort_forms = {c.pk: OnsiteAbortForm(initial={"card": c.pk}, prefix=f"x{c.pk}") for c in issuing}
            apply_form = OnsiteApplyForm(prefix="apply", user=request.user)
            done = None
            try:
                if step == "apply":
                    apply_form = OnsiteApplyForm(request.POST, prefix="apply", user=request.user)
                    if apply_form.is_valid():
                        data = apply_form.cleaned_data
                        application = actions.application_submit(
                            actor=actor,
                            resident=holder,
                            channel=ApplicationChannel.ONSITE,
                            applicant_kind=data["applicant_kind"],
                            guardian_name=data["guardian_name"],
                            guardian_document_type=data["guardian_document_type"],
                            guardian_document_number=data["guardian_document_number"],
                            guardian_relation=data["guardian_relation"],
                            institution=apply_form.point,
                        )
                        actions.card_issue_onsite_allocate(
                            actor=actor, application=application, institution=apply_form.point
                        )
                        done = gettext(
                            "Application %(number)s submitted and a card allocated: write the chip."
                        ) % {"number": application.number}
                elif step == "allocate":
                    application = self._pick(applications, request.POST.get("application_pk"))
                    form = OnsiteAllocateForm(request.POST, prefix=f"a{application.pk}", user=request.user)
                    allocate_forms[application.pk] = form
                    if form.is_valid():
                        actions.card_issue_onsite_allocate(
                            actor=actor, application=application, institution=form.point
                        )
                        done = gettext(
                            "Card allocated: write the chip at the terminal, then enter its serial."
                        )
                elif step == "complete":
                    card = self._pick(issuing, request.POST.get("card_pk"))
                    form = OnsiteCompleteForm(request.POST, prefix=f"k{card.pk}")
                    complete_forms[card.pk] = form
                    if form.is_valid():
                        card = actions.card_issue_onsite_complete(
                            actor=actor, card=card, chip_serial=form.cleaned_data["chip_serial"]
                        )
                        self.message_user(
                            request,
                            gettext("Card %(card)s is active and handed over.") % {"card": card},
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(reverse("admin:cards_card_change", args=[card.pk]))
                elif step == "abort":
                    card = self._pick(issuing, request.POST.get("card_pk"))
                    form = OnsiteAbortForm(request.POST, prefix=f"x{card.pk}")
                    abort_forms[card.pk] = form
                    if form.is_valid():
                        actions.card_issue_onsite_abort(
                            actor=actor, card=card, reason=form.cleaned_data["reason"]
                        )
                        done = gettext("The on-site issuance was aborted; the application stays approved.")
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            if done:
                self.message_user(request, done, messages.SUCCESS)
                return self._back("admin:cards_card_onsite", holder.pk)
            context.update(
                applications=[(a, allocate_forms[a.pk]) for a in applications],
                issuing=[(c, complete_forms[c.pk], abort_forms[c.pk]) for c in issuing],
                apply_form=apply_form,
                media=apply_form.media,
            )
        return self._page(request, "cards/cards/onsite.html", _("On-site issuance"), **context)

    @staticmethod
    def _pick(rows, pk):
        row = next((r for r in rows if str(r.pk) == str(pk)), None)
        if row is None:
            raise Http404
        return row
