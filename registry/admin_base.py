"""The base of every app's ModelAdmin: scope, export/print, writes through actions, reasons for dangerous ones."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from registry.actors import Actor
from registry.admin_mixins import ExportAdminMixin, ScopedAdminMixin
from registry.audit import audit_history
from registry.errors import DomainError


class ActionAdmin(ExportAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Writes go through actions.py, each in its own durable transaction, so the admin adds none around them."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            self.message_user(request, error.message_zh, messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request, obj=None):
        return False  # registers keep their history: deregister, never delete

    @admin.display(description=gettext_lazy("change history"))
    def change_history(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        rows = audit_history(obj).select_related("user")[:200]
        if not rows:
            return "-"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                    row.actor_label,
                    row.get_channel_display(),
                    row.action,
                    row.reason or "",
                )
                for row in rows
            ),
        )
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("time"),
            _("actor"),
            _("channel"),
            _("action"),
            _("reason"),
        )
        return format_html('<table class="hc-history">{}{}</table>', head, body)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=500
    )


def run_with_reason(
    model_admin: admin.ModelAdmin,
    request,
    queryset,
    *,
    title: str,
    perform: Callable[..., object],
    action_name: str,
):
    """An admin action that asks for a mandatory reason first, then calls `perform(actor=, obj=, reason=)` per row."""
    form = ReasonForm(request.POST if "apply_reason" in request.POST else None)
    if form.is_valid():
        actor = Actor.from_request(request)
        done, failed = 0, []
        for obj in queryset:
            try:
                perform(actor=actor, obj=obj, reason=form.cleaned_data["reason"])
                done += 1
            except DomainError as error:
                failed.append(f"{obj}: {error.message_zh}")
        if done:
            model_admin.message_user(request, _("%(count)s done.") % {"count": done}, messages.SUCCESS)
        for message in failed:
            model_admin.message_user(request, message, messages.ERROR)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "objects": queryset,
        "form": form,
        "action_name": action_name,
        "opts": model_admin.model._meta,
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, "registry/admin/reason_form.html", context)


class ReadOnlyPagesMixin:
    """Change pages that only show: every field read-only, no save buttons; writes are the list's actions."""

    def get_readonly_fields(self, request, obj=None):
        extra = list(super().get_readonly_fields(request, obj))
        return [*(f.name for f in self.model._meta.concrete_fields), *extra]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        return None  # nothing on these pages is edited directly


def run_with_form(
    model_admin: admin.ModelAdmin,
    request,
    queryset,
    *,
    form_class: type[forms.Form],
    title,
    action_name: str,
    perform: Callable[..., object],
    intro=None,
):
    """An admin action that asks for a form first, then calls `perform(actor=, obj=, data=)` per selected row."""
    form = form_class(request.POST if "apply_form" in request.POST else None)
    if form.is_valid():
        actor = Actor.from_request(request)
        done, failed = 0, []
        for obj in queryset:
            try:
                perform(actor=actor, obj=obj, data=form.cleaned_data)
                done += 1
            except DomainError as error:
                failed.append(f"{obj}: {error.message_zh}")
        if done:
            model_admin.message_user(request, _("%(count)s done.") % {"count": done}, messages.SUCCESS)
        for message in failed:
            model_admin.message_user(request, message, messages.ERROR)
        return None
    return TemplateResponse(
        request,
        "registry/admin/action_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "objects": queryset,
            "form": form,
            "action_name": action_name,
            "opts": model_admin.model._meta,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        },
    )


def form_page(model_admin: admin.ModelAdmin, request, *, form, title, intro=None):
    return TemplateResponse(
        request,
        "registry/admin/form_page.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "form": form,
            "opts": model_admin.model._meta,
            "changelist_url": reverse(
                f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist"
            ),
        },
    )
