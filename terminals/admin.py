"""Admin of registered terminals, and the terminal page: the counter clerk's read/write/issue screen.

The page talks to the terminal agent on 127.0.0.1 (the reader is on the clerk's PC) and to these views
(the server's side: check-in, card state, issuance steps). Writes go through terminals.actions.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from cards.actions.issuance import ONSITE_CHANNELS
from cards.choices import ApplicationStatus, CardStatus
from cards.models import Application, Card
from registry.actors import Actor
from registry.admin_base import ActionAdmin, run_with_reason
from registry.admin_mixins import RegionTreeFilter
from registry.errors import DomainError
from registry.exports import Column
from registry.scope import scope_queryset
from terminals import actions
from terminals.chip.layout import CONDITION_FLAGS
from terminals.models import Terminal
from terminals.selectors import card_state

AGENT_URL = "http://127.0.0.1:8765"


class TerminalForm(forms.ModelForm):
    institution_code = forms.CharField(
        label=_("institution code"), max_length=18, required=False, help_text=_("Unified social credit code.")
    )

    class Meta:
        model = Terminal
        fields = ["kind", "serial", "sam_serial"]


@admin.register(Terminal)
class TerminalAdmin(ActionAdmin):
    form = TerminalForm
    list_display = [
        "serial",
        "kind",
        "institution_name",
        "region",
        "sam_serial",
        "terminal_number",
        "status",
        "last_seen_at",
    ]
    list_filter = [RegionTreeFilter, "status", "kind", "last_seen_at"]
    search_fields = ["serial", "sam_serial", "terminal_number"]
    list_select_related = ["region", "medical_institution", "financial_institution"]
    readonly_fields = [
        "region",
        "terminal_number",
        "status",
        "status_reason",
        "last_seen_at",
        "registered_at",
        "changed_at",
        "change_history",
    ]
    actions = ["suspend_selected", "reinstate_selected", "retire_selected"]
    export_columns = [
        Column(_("serial number"), "serial", 16),
        Column(_("type"), "kind", 10),
        Column(_("region"), "region.full_name", 22),
        Column(_("bound SAM serial"), "sam_serial", 14),
        Column(_("terminal number"), "terminal_number", 14),
        Column(_("status"), "status", 8),
        Column(_("last seen"), "last_seen_at", 18),
    ]
    export_title = _("Terminals")

    @admin.display(description=_("institution"))
    def institution_name(self, obj):
        return obj.institution or "-"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["kind", "serial", "institution_code", "sam_serial"]
        return ["kind", "serial", "sam_serial", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["kind", "serial", "sam_serial", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        from institutions.models import FinancialInstitution, MedicalInstitution

        code = form.cleaned_data.get("institution_code", "").strip()
        institution = (
            MedicalInstitution.objects.filter(code=code).first()
            or FinancialInstitution.objects.filter(code=code).first()
        )
        if institution is None:
            raise DomainError(
                _("No institution with code %(code)s."), {"code": code or "-"}, code="unknown_institution"
            )
        saved = actions.terminal_register(
            actor=Actor.from_request(request),
            kind=form.cleaned_data["kind"],
            serial=form.cleaned_data["serial"],
            institution=institution,
            sam_serial=form.cleaned_data.get("sam_serial", ""),
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def _status_action(self, request, queryset, *, title, name, perform):
        return run_with_reason(self, request, queryset, title=title, action_name=name, perform=perform)

    @admin.action(description=_("Suspend selected"), permissions=["change"])
    def suspend_selected(self, request, queryset):
        return self._status_action(
            request,
            queryset,
            title=_("Suspend"),
            name="suspend_selected",
            perform=lambda actor, obj, reason: actions.terminal_suspend(
                actor=actor, terminal=obj, reason=reason
            ),
        )

    @admin.action(description=_("Reinstate selected"), permissions=["change"])
    def reinstate_selected(self, request, queryset):
        return self._status_action(
            request,
            queryset,
            title=_("Reinstate"),
            name="reinstate_selected",
            perform=lambda actor, obj, reason: actions.terminal_reinstate(
                actor=actor, terminal=obj, reason=reason
            ),
        )

    @admin.action(description=_("Retire selected"), permissions=["change"])
    def retire_selected(self, request, queryset):
        return self._status_action(
            request,
            queryset,
            title=_("Retire"),
            name="retire_selected",
            perform=lambda actor, obj, reason: actions.terminal_retire(
                actor=actor, terminal=obj, reason=reason
            ),
        )

    # --- the terminal page ---------------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("console/", view(self.console_view), name="terminals_console"),
            path("console/check-in/", view(self.check_in_view), name="terminals_console_check_in"),
            path("console/card-state/", view(self.card_state_view), name="terminals_console_card_state"),
            path("console/issue/start/", view(self.issue_start_view), name="terminals_console_issue_start"),
            path(
                "console/issue/finish/", view(self.issue_finish_view), name="terminals_console_issue_finish"
            ),
            path("console/issue/abort/", view(self.issue_abort_view), name="terminals_console_issue_abort"),
            *super().get_urls(),
        ]

    def _check_use(self, request):
        if not request.user.has_perm("terminals.use_terminal"):
            raise PermissionDenied

    def console_view(self, request):
        self._check_use(request)
        applications = scope_queryset(
            Application.objects.filter(status=ApplicationStatus.APPROVED, channel__in=ONSITE_CHANNELS)
            .exclude(resident__cards__status__in=[CardStatus.ISSUING, CardStatus.ACTIVE, CardStatus.LOST])
            .select_related("resident")
            .order_by("-pk"),
            request.user,
        )[:50]
        return TemplateResponse(
            request,
            "terminals/console.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Terminal"),
                "agent_url": AGENT_URL,
                "applications": [(a.pk, f"{a.number} · {a.resident}") for a in applications],
                "condition_flags": CONDITION_FLAGS,
            },
        )

    def _json(self, request, work):
        self._check_use(request)
        if request.method != "POST":
            return JsonResponse({"error": "POST only"}, status=405)
        try:
            body = json.loads(request.body or b"{}")
            return JsonResponse(work(Actor.from_request(request), body))
        except DomainError as error:
            return JsonResponse(error.as_dict(), status=error.status)
        except (
            ValueError,
            KeyError,
            Card.DoesNotExist,
            Terminal.DoesNotExist,
            Application.DoesNotExist,
        ) as error:
            return JsonResponse(
                {"code": "bad_request", "message_zh": str(error), "message_en": str(error)}, status=400
            )

    def _terminal(self, request, body) -> Terminal:
        return scope_queryset(Terminal.objects.all(), request.user).get(pk=int(body["terminal"]))

    def check_in_view(self, request):
        def work(actor, body):
            t = actions.terminal_check_in(
                actor=actor,
                sam_serial=body.get("sam_serial", ""),
                terminal_number=body.get("terminal_number", ""),
            )
            return {"id": t.pk, "serial": t.serial, "institution": str(t.institution or "")}

        return self._json(request, work)

    def card_state_view(self, request):
        return self._json(request, lambda actor, body: {"card": card_state(card_no=body["card_no"])})

    def issue_start_view(self, request):
        def work(actor, body):
            application = scope_queryset(Application.objects.all(), request.user).get(
                pk=int(body["application"])
            )
            card, payload = actions.issuance_start(
                actor=actor, application=application, terminal=self._terminal(request, body)
            )
            return {"card": card.pk, "payload": payload}

        return self._json(request, work)

    def _card(self, request, body) -> Card:
        return scope_queryset(Card.objects.all(), request.user).get(pk=int(body["card"]))

    def issue_finish_view(self, request):
        def work(actor, body):
            card = actions.issuance_finish(
                actor=actor,
                card=self._card(request, body),
                chip_serial=body["chip_serial"],
                readback=body["readback"],
            )
            return {
                "card": card.pk,
                "status": card.status,
                "status_label": str(CardStatus(card.status).label),
            }

        return self._json(request, work)

    def issue_abort_view(self, request):
        def work(actor, body):
            card = actions.issuance_abort(
                actor=actor, card=self._card(request, body), reason=body.get("reason", "")
            )
            return {"card": card.pk, "status": card.status}

        return self._json(request, work)
