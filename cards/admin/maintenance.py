"""Admin of card maintenance: the buttons on the card page (loss, unloss, replace, cancel, death correction,
manual blacklist entries) with their reason dialogs, the case-history export, and the death records with
their import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cards import actions
from cards.actions.lists import card_blacklist_entry
from cards.choices import CancellationReason, CardEventKind, CardStatus, DocumentType, ReplacementReason
from cards.importers import DEATH_IMPORT
from cards.models import Card, DeathRecord
from registry.actors import Actor
from registry.admin_base import ActionAdmin
from registry.admin_imports import ImportAdminMixin
from registry.admin_mixins import RegionTreeFilter
from registry.errors import DomainError
from registry.exports import Column, Sheet, export_response
from registry.protection import mask_id_number, mask_name

C = CardStatus

# The columns of a case-history export (card timeline, person timeline).
EVENT_COLUMNS = [
    Column(_("time"), lambda e: timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"), 20),
    Column(_("event"), "kind", 22),
    Column(_("card"), lambda e: str(e.card) if e.card_id else "", 30),
    Column(_("actor"), "actor_label", 14),
    Column(_("channel"), "channel", 10),
    Column(_("institution"), lambda e: e.institution_name or "", 26),
    Column(_("application"), lambda e: e.application.number if e.application_id else "", 24),
    Column(_("reason"), "reason", 30),
]


def timeline_response(events, *, title: str, fmt: str, user, subject: str):
    if fmt not in ("xlsx", "pdf"):
        raise Http404
    sheet = Sheet(
        title=title,
        columns=EVENT_COLUMNS,
        rows=list(events),
        filters=[(str(_("subject")), subject)],
        generated_by=user.get_username(),
    )
    return export_response(sheet, fmt)


# --- Forms ------------------------------------------------------------------------------------------------


class IdentityForm(forms.Form):
    document_type = forms.ChoiceField(
        label=_("document shown"), choices=DocumentType.choices, initial=DocumentType.ID_CARD
    )
    document_number = forms.CharField(
        label=_("number on the document shown"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_(
            "Compared with the holder's number; only the document type and a masked number are kept."
        ),
    )
    note = forms.CharField(label=_("note"), max_length=200, required=False)


class ReplaceForm(forms.Form):
    reason = forms.ChoiceField(label=_("replacement reason"), choices=ReplacementReason.choices)
    note = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=200)
    new_chip_serial = forms.CharField(
        label=_("chip serial of the new card"),
        max_length=40,
        required=False,
        help_text=_(
            "Only when the new card was written here at the terminal; leave empty to send a replacement "
            "application to production."
        ),
    )


class CancelForm(forms.Form):
    reason = forms.ChoiceField(label=_("cancellation reason"), choices=CancellationReason.choices)
    note = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=200)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=200)


@dataclass(frozen=True)
class Step:
    """One button of the card page: when it shows, who may use it, its dialog and the action it calls."""

    label: object
    title: object
    form: type[forms.Form]
    perform: Callable[..., object]
    done: object
    shown: Callable[[Card], bool]
    permission: str = "cards.change_card"


def _loss(actor, card, data):
    return actions.card_report_loss(actor=actor, card=card, **data)


def _unloss(actor, card, data):
    return actions.card_unreport_loss(actor=actor, card=card, **data)


def _replace(actor, card, data):
    return actions.card_replace(
        actor=actor,
        card=card,
        reason=data["reason"],
        note=data["note"],
        new_chip_serial=data["new_chip_serial"],
    )


def _cancel(actor, card, data):
    return actions.card_cancel(actor=actor, card=card, reason=data["reason"], note=data["note"])


def _correct(actor, card, data):
    return actions.death_record_correct(actor=actor, card=card, note=data["note"])


def _blacklist(actor, card, data):
    return actions.card_blacklist_add(actor=actor, card=card, note=data["note"])


def _unblacklist(actor, card, data):
    return actions.card_blacklist_remove(actor=actor, card=card, note=data["note"])


def _manual_entry(card) -> bool:
    entry = card_blacklist_entry(card)
    return entry is not None and entry.reason == "manual"


STEPS: dict[str, Step] = {
    "loss": Step(
        _("Report loss"),
        _("Report the card lost (挂失)"),
        IdentityForm,
        _loss,
        _("The card is on hold (lost) and blacklisted."),
        lambda c: c.status == C.ACTIVE,
    ),
    "unloss": Step(
        _("Revoke loss report"),
        _("Revoke the loss report (解挂)"),
        IdentityForm,
        _unloss,
        _("The card is active again."),
        lambda c: c.status == C.LOST,
    ),
    "replace": Step(
        _("Replace"),
        _("Replace the card (补换卡)"),
        ReplaceForm,
        _replace,
        _("The old card is replaced and permanently blacklisted."),
        lambda c: c.status in (C.ACTIVE, C.LOST),
    ),
    "cancel": Step(
        _("Cancel"),
        _("Cancel the card (注销)"),
        CancelForm,
        _cancel,
        _("The card is cancelled and permanently blacklisted."),
        lambda c: c.status in (C.ACTIVE, C.LOST, C.IN_STOCK, C.AWAITING_COLLECTION, C.ISSUING),
    ),
    "death-correct": Step(
        _("Correct a wrong death record"),
        _("Restore a card cancelled for a wrong death record"),
        NoteForm,
        _correct,
        _("The card is restored and active again."),
        lambda c: c.status == C.CANCELLED and c.status_reason == CancellationReason.DEATH,
        permission="cards.correct_deathrecord",
    ),
    "blacklist": Step(
        _("Blacklist"),
        _("Put the card on the blacklist by hand"),
        NoteForm,
        _blacklist,
        _("The card is on the blacklist."),
        lambda c: (
            bool(c.chip_serial)
            and c.status in (C.ACTIVE, C.IN_STOCK, C.AWAITING_COLLECTION)
            and card_blacklist_entry(c) is None
        ),
    ),
    "unblacklist": Step(
        _("Remove from the blacklist"),
        _("Take the card's manual entry off the blacklist"),
        NoteForm,
        _unblacklist,
        _("The manual entry is removed."),
        _manual_entry,
    ),
}


class CardMaintenanceMixin:
    """Mixed into CardAdmin: the maintenance buttons, their dialogs, and the case-history export."""

    def maintenance_buttons(self, request, obj) -> list[tuple[str, str]]:
        items = [
            (step.label, reverse("admin:cards_card_maintain", args=[obj.pk, name]))
            for name, step in STEPS.items()
            if request.user.has_perm(step.permission) and step.shown(obj)
        ]
        items.append((_("Export case history"), reverse("admin:cards_card_timeline", args=[obj.pk, "xlsx"])))
        return items

    def maintenance_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/maintain/<slug:step>/", view(self.maintain_view), name="cards_card_maintain"),
            path("<int:pk>/timeline.<str:fmt>", view(self.timeline_view), name="cards_card_timeline"),
        ]

    def timeline_view(self, request, pk: int, fmt: str):
        from cards.selectors.cards import card_timeline

        if not self.has_view_permission(request):
            raise PermissionDenied
        card = self.object_or_404(request, pk)
        return timeline_response(
            card_timeline(card=card),
            title=gettext("Case history of card %(card)s") % {"card": card},
            fmt=fmt,
            user=request.user,
            subject=str(card),
        )

    def maintain_view(self, request, pk: int, step: str):
        chosen = STEPS.get(step)
        if chosen is None:
            raise Http404
        if not request.user.has_perm(chosen.permission):
            raise PermissionDenied
        card = self.object_or_404(request, pk)
        form = chosen.form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = chosen.perform(Actor.from_request(request), card, form.cleaned_data)
            except DomainError as error:
                form.add_error(None, error.message_zh)
            else:
                self.message_user(request, str(chosen.done), messages.SUCCESS)
                target = result if isinstance(result, Card) else card
                return HttpResponseRedirect(reverse("admin:cards_card_change", args=[target.pk]))
        return TemplateResponse(
            request,
            "cards/applications/action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": card,
                "title": chosen.title,
                "form": form,
                "submit_label": chosen.label,
                "summary": [
                    (_("card number"), mask_id_number(card.card_no)),
                    (_("chip serial"), card.chip_serial or "-"),
                    (_("holder"), f"{card.resident.masked_name} {card.resident.masked_document_number}"),
                    (_("status"), card.get_status_display()),
                ],
            },
        )


# --- Death records ----------------------------------------------------------------------------------------


@admin.register(DeathRecord)
class DeathRecordAdmin(ImportAdminMixin, ActionAdmin):
    """Records of the death registry received here (file import or API) and what each did."""

    import_spec_name = DEATH_IMPORT
    list_display = ["registry", "record_id", "masked_name", "masked_id", "died_on", "status", "cards_cancelled",
                    "region", "received_at"]  # fmt: skip
    list_filter = ["status", RegionTreeFilter, "registry", "died_on", "received_at"]
    search_fields = ["record_id"]
    list_select_related = ["region"]
    show_full_result_count = False
    actions = None
    export_columns = [
        Column(_("death registry"), "registry", 18),
        Column(_("record id"), "record_id", 20),
        Column(_("name"), lambda r: mask_name(r.name), 10),
        Column(_("ID number"), lambda r: mask_id_number(r.id_number), 22),
        Column(_("date of death"), "died_on", 12),
        Column(_("status"), "status", 16),
        Column(_("cards cancelled"), "cards_cancelled", 8),
        Column(_("region"), "region.full_name", 20),
        Column(_("received at"), "received_at", 18),
        Column(_("correction"), "correction_note", 30),
    ]
    export_title = _("Death records")
    fields = ["registry", "record_id", "masked_name", "masked_id", "died_on", "status", "cards_cancelled",
              "holder_link", "region", "received_at", "corrected_at", "correction_note", "cancelled_cards"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # records come from the registry's files and the API

    def has_change_permission(self, request, obj=None):
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_import_permission(self, request):
        return request.user.has_perms(["cards.add_deathrecord", "cards.change_card"])

    @admin.display(description=_("name"))
    def masked_name(self, obj):
        return mask_name(obj.name)

    @admin.display(description=_("ID number"))
    def masked_id(self, obj):
        return mask_id_number(obj.id_number)

    @admin.display(description=_("holder"))
    def holder_link(self, obj):
        from cards.admin.cards import admin_link

        return admin_link(obj.resident) if obj.resident_id else "-"

    @admin.display(description=_("cards"))
    def cancelled_cards(self, obj):
        from django.utils.html import format_html_join

        from cards.admin.cards import admin_link

        if not obj.resident_id:
            return "-"
        cards = Card.objects.filter(
            events__kind=CardEventKind.CANCELLED,
            events__data__source__record_id=obj.record_id,
            resident_id=obj.resident_id,
        ).distinct()
        return format_html_join(", ", "{}", ((admin_link(card),) for card in cards)) or "-"


# --- The holder page: person entries and the person's timeline ---------------------------------------------


class PersonBlacklistForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=200,
        help_text=_("Why the person may not hold or use a card, and who decided it."),
    )
    valid_until = forms.DateField(
        label=_("until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: until removed."),
    )


class PersonUnblacklistForm(forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=200)


class HolderMaintenanceMixin:
    """Mixed into HolderAdmin: the person's blacklist entry (add / remove with reason) and the timeline export."""

    @admin.display(description=_("blacklist"))
    def person_blacklist(self, obj):
        from django.utils.html import format_html

        from cards.actions.lists import person_entry

        if obj is None or obj.pk is None:
            return "-"
        entry = person_entry(obj)
        export = format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:cards_resident_timeline", args=[obj.pk, "xlsx"]),
            _("Export case history"),
        )
        if entry is None:
            status = format_html(
                '{} <a class="button" href="{}">{}</a>',
                _("Not on the blacklist."),
                reverse("admin:cards_resident_blacklist", args=[obj.pk]),
                _("Put on the blacklist"),
            )
        else:
            until = getattr(entry, "valid_until", None)
            status = format_html(
                '{} <a class="button" href="{}">{}</a>',
                _("On the blacklist: %(note)s (until %(until)s).")
                % {"note": entry.note, "until": until or _("removed")},
                reverse("admin:cards_resident_unblacklist", args=[obj.pk]),
                _("Remove from the blacklist"),
            )
        return format_html("{}<br>{}", status, export)

    def maintenance_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/blacklist/", view(self.person_blacklist_view), name="cards_resident_blacklist"),
            path(
                "<int:pk>/unblacklist/", view(self.person_unblacklist_view), name="cards_resident_unblacklist"
            ),
            path(
                "<int:pk>/timeline.<str:fmt>", view(self.person_timeline_view), name="cards_resident_timeline"
            ),
        ]

    def _holder_or_404(self, request, pk):
        obj = self.get_queryset(request).filter(pk=pk).first()
        if obj is None:
            raise Http404
        return obj

    def person_timeline_view(self, request, pk: int, fmt: str):
        from cards.selectors.cards import person_timeline

        if not self.has_view_permission(request):
            raise PermissionDenied
        holder = self._holder_or_404(request, pk)
        return timeline_response(
            person_timeline(resident=holder),
            title=gettext("Case history of %(holder)s") % {"holder": holder},
            fmt=fmt,
            user=request.user,
            subject=str(holder),
        )

    def _person_step(self, request, pk, *, form_class, perform, title, submit, done):
        if not request.user.has_perm("cards.change_resident"):
            raise PermissionDenied
        holder = self._holder_or_404(request, pk)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                perform(Actor.from_request(request), holder, form.cleaned_data)
            except DomainError as error:
                form.add_error(None, error.message_zh)
            else:
                self.message_user(request, str(done), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:cards_resident_change", args=[holder.pk]))
        return TemplateResponse(
            request,
            "cards/applications/action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": holder,
                "title": title,
                "form": form,
                "submit_label": submit,
                "summary": [(_("holder"), f"{holder.masked_name} {holder.masked_document_number}")],
            },
        )

    def person_blacklist_view(self, request, pk: int):
        return self._person_step(
            request,
            pk,
            form_class=PersonBlacklistForm,
            perform=lambda actor, holder, data: actions.person_blacklist_add(
                actor=actor, resident=holder, reason=data["reason"], valid_until=data["valid_until"]
            ),
            title=_("Put the person on the blacklist"),
            submit=_("Put on the blacklist"),
            done=_("The person is on the blacklist: they cannot apply for or use a card."),
        )

    def person_unblacklist_view(self, request, pk: int):
        return self._person_step(
            request,
            pk,
            form_class=PersonUnblacklistForm,
            perform=lambda actor, holder, data: actions.person_blacklist_remove(
                actor=actor, resident=holder, reason=data["reason"]
            ),
            title=_("Take the person off the blacklist"),
            submit=_("Remove from the blacklist"),
            done=_("The person is off the blacklist."),
        )
