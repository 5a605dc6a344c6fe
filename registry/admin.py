"""The registry's admin: regions (for pickers), centres, users and their scope, the journal, the audit trail, exports."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from registry import actions
from registry.actors import Actor
from registry.admin_base import ActionAdmin, run_with_reason
from registry.admin_mixins import RegionTreeFilter
from registry.audit import audit_record
from registry.choices import Tier
from registry.exports import Column
from registry.models import AuditEntry, ExportJob, JournalEntry, Region, RegistrationCentre, User
from registry.protection import mask_id_number, mask_name, mask_phone
from registry.scope import scope_queryset


def _site_header() -> str:
    return _("Resident Health Card Registration Management — %(tier)s node %(region)s") % {
        "tier": Tier(settings.HC_TIER).label,
        "region": settings.HC_REGION,
    }


class HealthCardAdminSite(admin.AdminSite):
    site_title = _("Resident Health Card")
    index_title = _("Registration management")

    @property
    def site_header(self):  # the node is configuration, read when shown
        return _site_header()


admin.site.__class__ = HealthCardAdminSite


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    """Read-only: the tree is loaded from GB/T 2260 data. Its search feeds every region autocomplete."""

    list_display = ["code", "full_name", "level"]
    list_filter = ["level"]
    search_fields = ["code", "full_name"]
    ordering = ["code"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        # Codes are prefixes: "6101" finds Xi'an and its counties; names match anywhere in the full name.
        if search_term.isdigit():
            return queryset.filter(code__startswith=search_term), False
        return super().get_search_results(request, queryset, search_term)


CENTRE_COLUMNS = [
    Column(_("region code"), "region_id", 10),
    Column(_("region"), "region.full_name", 22),
    Column(_("tier"), "tier", 8),
    Column(_("name"), "name", 30),
    Column(_("head"), "head", 10),
    Column(_("contact person"), "contact_person", 10),
    Column(_("phone"), "phone", 14),
    Column(_("address"), "address", 30),
    Column(_("status"), "status", 8),
    Column(_("registered at"), "registered_at", 18),
    Column(_("changed at"), "changed_at", 18),
]


@admin.register(RegistrationCentre)
class RegistrationCentreAdmin(ActionAdmin):
    list_display = ["name", "region", "tier", "head", "contact_person", "phone", "status", "registered_at"]
    list_filter = [RegionTreeFilter, "tier", "status", "registered_at"]
    search_fields = ["name", "region__full_name", "region__code"]
    autocomplete_fields = ["region"]
    list_select_related = ["region"]
    date_hierarchy = "registered_at"
    export_columns = CENTRE_COLUMNS
    export_title = _("Registration centres")
    actions = ["deregister_selected", "reinstate_selected"]
    readonly_fields = [
        "tier",
        "status",
        "status_reason",
        "registered_at",
        "changed_at",
        "key_fingerprint",
        "change_history",
    ]
    fieldsets = [
        (None, {"fields": ["region", "name", "tier", "status", "status_reason"]}),
        (_("Contacts"), {"fields": ["head", "contact_person", "phone", "address"]}),
        (_("Node"), {"fields": ["base_url", "public_key", "key_fingerprint"]}),
        (_("History"), {"fields": ["registered_at", "changed_at", "change_history"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "region"] if obj else fields

    @admin.display(description=_("key fingerprint"))
    def key_fingerprint(self, obj):
        return obj.key_fingerprint or "-"

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        values = {
            field: form.cleaned_data[field] for field in actions.CENTRE_FIELDS if field in form.cleaned_data
        }
        if change:
            saved = actions.centre_update(actor=actor, centre=obj, **values)
        else:
            saved = actions.centre_register(actor=actor, region=form.cleaned_data["region"], **values)
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.action(description=_("Deregister selected centres"), permissions=["deregister"])
    def deregister_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Deregister registration centres"),
            action_name="deregister_selected",
            perform=lambda actor, obj, reason: actions.centre_deregister(
                actor=actor, centre=obj, reason=reason
            ),
        )

    @admin.action(description=_("Reinstate selected centres"), permissions=["deregister"])
    def reinstate_selected(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Reinstate registration centres"),
            action_name="reinstate_selected",
            perform=lambda actor, obj, reason: actions.centre_reinstate(
                actor=actor, centre=obj, reason=reason
            ),
        )

    def has_deregister_permission(self, request):
        return request.user.has_perm("registry.deregister_registrationcentre")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Staff users: roles are groups; the scope region bounds what they see. Personal data shows masked."""

    list_display = ["username", "masked_real_name", "scope_region", "role_names", "is_active", "last_login"]
    list_filter = ["is_active", "is_superuser", "groups"]
    search_fields = ["username"]
    autocomplete_fields = ["scope_region"]
    readonly_fields = ["masked_real_name", "masked_id_number", "masked_phone", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Personal data (masked)"), {"fields": ["masked_real_name", "masked_id_number", "masked_phone"]}),
        (
            _("Scope and roles"),
            {"fields": ["scope_region", "is_active", "is_staff", "is_superuser", "groups"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]

    readonly_fields = [*readonly_fields, "reveal_link"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        masked = (
            _("Personal data (masked)"),
            {"fields": ["masked_real_name", "masked_id_number", "masked_phone", "reveal_link"]},
        )
        return [
            masked if title == _("Personal data (masked)") else (title, opts) for title, opts in fieldsets
        ]

    @admin.display(description=_("unmasked view"))
    def reveal_link(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:registry_user_reveal", args=[obj.pk]),
            _("Show unmasked (audited)"),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/reveal/", self.admin_site.admin_view(self.reveal_view), name="registry_user_reveal"
            ),
            *super().get_urls(),
        ]

    def reveal_view(self, request, pk: int):
        """The unmasked values, for someone with the permission; each view leaves an audit row."""
        from django.template.response import TemplateResponse

        from registry.errors import PermissionDeniedError

        target = self.get_queryset(request).filter(pk=pk).first()
        if target is None:
            raise Http404
        try:
            values = actions.personal_data_reveal(
                actor=Actor.from_request(request),
                target=target,
                fields=["real_name", "id_number", "phone"],
                reason=request.GET.get("reason", ""),
            )
        except PermissionDeniedError as error:
            raise PermissionDenied(error.message_zh) from error
        labels = {name: User._meta.get_field(name).verbose_name for name in values}
        context = {
            **self.admin_site.each_context(request),
            "title": _("Unmasked personal data of %(user)s") % {"user": target.get_username()},
            "rows": [(labels[name], value) for name, value in values.items()],
            "opts": self.opts,
            "original": target,
        }
        return TemplateResponse(request, "registry/admin/reveal.html", context)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("scope_region").prefetch_related("groups")
        if request.user.is_superuser:
            return queryset
        return scope_queryset(queryset, request.user, field="scope_region__code")

    @admin.display(description=_("real name"))
    def masked_real_name(self, obj):
        return mask_name(obj.real_name)

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj):
        return mask_id_number(obj.id_number)

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone)

    @admin.display(description=_("roles"))
    def role_names(self, obj):
        return "、".join(group.name for group in obj.groups.all())

    def save_model(self, request, obj, form, change):
        # Django's own user form writes the row; the audit row goes in the same transaction.
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=Actor.from_request(request),
                action="user.update" if change else "user.create",
                target=obj,
                region_code=obj.scope_region_id or "",
                changes={"fields": sorted(set(form.changed_data) - {"password"})},
            )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    """The outbox, for operators: what this node will send (or has applied), in order."""

    list_display = ["seq", "kind", "key", "op", "origin_node", "origin_seq", "created_at"]
    list_filter = ["kind", "op", "origin_node"]
    search_fields = ["key"]
    show_full_result_count = False

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            if request.user.is_superuser
            else super().get_queryset(request).none()
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "actor_label",
        "channel",
        "action",
        "object_type",
        "object_repr",
        "region_code",
        "reason",
    ]
    list_filter = ["channel", "action", "object_type"]
    search_fields = ["actor_label", "object_key", "object_repr"]
    date_hierarchy = "at"
    show_full_result_count = False

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user)


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "source", "format", "status", "progress", "download"]
    list_filter = ["status", "format"]
    readonly_fields = [
        "source",
        "params",
        "format",
        "status",
        "progress",
        "download",
        "error",
        "created_at",
        "finished_at",
    ]
    fields = readonly_fields

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    @admin.display(description=_("progress"))
    def progress(self, obj):
        return format_html(
            '<progress max="100" value="{}"></progress> {}% ({} / {})',
            obj.progress_percent,
            obj.progress_percent,
            obj.rows_done,
            obj.rows_total or "?",
        )

    @admin.display(description=_("file"))
    def download(self, obj):
        if not obj.file:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:registry_exportjob_download", args=[obj.pk]), _("Download")
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="registry_exportjob_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, pk: int):
        # Exports hold personal data: only the person who asked (or a superuser) gets the file, never a public URL.
        job = self.get_queryset(request).filter(pk=pk, status="done").first()
        if job is None or not job.file:
            raise Http404
        return FileResponse(
            job.file.open("rb"), as_attachment=True, filename=job.file.name.rsplit("/", 1)[-1]
        )


# import jobs and the ImportAdminMixin pages; the blacklist and whitelist
from registry import admin_imports, admin_lists  # noqa: E402, F401
