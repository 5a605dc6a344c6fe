"""Admin of the tier sync: runs (with "sync now" and the bundle-file page), received bundles (quarantine and
re-apply), checkpoints, reconciliation reports and national-uniqueness conflicts. Read-only registers: the sync
writes them; people act through the buttons, which call exchange.actions."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exchange import actions
from exchange.choices import BundleStatus
from exchange.models import InboundBundle, ReconcileReport, SyncCheckpoint, SyncRun, UniquenessConflict
from registry.actors import Actor
from registry.admin_base import run_with_reason
from registry.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name not in self.exclude_fields]

    exclude_fields: tuple[str, ...] = ()


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "direction",
        "peer",
        "trigger",
        "status",
        "bundles",
        "rows",
        "bytes",
        "errors",
        "finished_at",
    )
    list_filter = ("direction", "status", "trigger")
    show_full_result_count = False
    change_list_template = "exchange/admin/syncrun_change_list.html"

    def get_urls(self):
        return [
            path(
                "sync-now/", self.admin_site.admin_view(self.sync_now_view), name="exchange_syncrun_sync_now"
            ),
            path("files/", self.admin_site.admin_view(self.files_view), name="exchange_syncrun_files"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_run_sync": request.user.has_perm("exchange.run_sync"),
            "can_transfer_files": request.user.has_perm("exchange.transfer_bundle_files"),
        }
        return super().changelist_view(request, extra_context)

    def sync_now_view(self, request):
        if request.method != "POST" or not request.user.has_perm("exchange.run_sync"):
            raise PermissionDenied
        actions.sync_run_now(actor=Actor.from_request(request))
        self.message_user(request, _("The sync has started; its runs appear below."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:exchange_syncrun_changelist"))

    def files_view(self, request):
        if not request.user.has_perm("exchange.transfer_bundle_files"):
            raise PermissionDenied
        actor = Actor.from_request(request)
        if request.method == "POST":
            try:
                response = self._files_post(request, actor)
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
                response = None
            if response is not None:
                return response
            return HttpResponseRedirect(request.get_full_path())
        from exchange.sync.nodes import parent_region_of
        from exchange.sync.runner import sync_status
        from registry.models import RegistrationCentre

        status = sync_status()
        children = [
            centre
            for centre in RegistrationCentre.objects.exclude(public_key="")
            if parent_region_of(centre.region_id) == settings.HC_REGION
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Sync bundle files"),
            "opts": self.model._meta,
            "has_parent": bool(status["parent"]),
            "parent": status["parent"],
            "up_checkpoint": status["up_checkpoint"],
            "up_waiting": status["up_waiting"],
            "children": children,
        }
        return TemplateResponse(request, "exchange/admin/files.html", context)

    def _files_post(self, request, actor):
        what = request.POST.get("do")
        if what == "download_up":
            return _attachment(*actions.bundle_file_up(actor=actor))
        if what == "download_down":
            after = int(request.POST.get("after") or 0)
            return _attachment(
                *actions.bundle_file_down(actor=actor, child=request.POST.get("child", ""), after=after)
            )
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError(gettext_lazy("Choose a file first."), code="file_required")
        if what == "upload_ack":
            position = actions.ack_file_upload(actor=actor, data=upload.read())
            self.message_user(request, _("The parent acknowledged up to number %(n)s.") % {"n": position})
            return None
        record, ack = actions.bundle_file_upload(actor=actor, data=upload.read())
        level = messages.SUCCESS if record.status == BundleStatus.APPLIED else messages.ERROR
        self.message_user(
            request,
            _(
                "Bundle from %(sender)s: %(status)s, %(applied)s rows applied, %(dups)s already here. %(reason)s"
            )
            % {
                "sender": record.sender,
                "status": record.get_status_display(),
                "applied": record.applied_rows,
                "dups": record.duplicate_rows,
                "reason": record.reason,
            },
            level,
        )
        if ack is not None:
            return _attachment(f"hc-ack-{settings.HC_REGION}-to-{record.sender}-{record.last_seq}.json", ack)
        return None


def _attachment(name: str, data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.register(InboundBundle)
class InboundBundleAdmin(ReadOnlyAdmin):
    list_display = (
        "received_at",
        "sender",
        "direction",
        "first_seq",
        "last_seq",
        "count",
        "applied_rows",
        "duplicate_rows",
        "status",
        "attempts",
        "short_reason",
    )
    list_filter = ("status", "direction", "sender")
    exclude = ("data",)
    exclude_fields = ("data",)
    show_full_result_count = False
    actions = ["reapply"]

    @admin.display(description=gettext_lazy("reason"))
    def short_reason(self, obj):
        return obj.reason[:120]

    @admin.action(description=gettext_lazy("Re-apply the selected quarantined bundles"), permissions=["view"])
    def reapply(self, request, queryset):
        if not request.user.has_perm("exchange.run_sync"):
            raise PermissionDenied
        actor = Actor.from_request(request)
        for bundle in queryset:
            try:
                bundle = actions.bundle_reapply_by(actor=actor, bundle=bundle)
            except DomainError as error:
                self.message_user(request, f"{bundle}: {error.message_zh}", messages.ERROR)
                continue
            level = messages.SUCCESS if bundle.status == BundleStatus.APPLIED else messages.WARNING
            self.message_user(request, f"{bundle}: {bundle.get_status_display()} {bundle.reason}", level)


@admin.register(SyncCheckpoint)
class SyncCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("peer", "direction", "position", "updated_at")


@admin.register(ReconcileReport)
class ReconcileReportAdmin(ReadOnlyAdmin):
    list_display = ("at", "peer", "in_step", "drift")

    @admin.display(description=gettext_lazy("in step"), boolean=True)
    def in_step(self, obj):
        return obj.in_step


@admin.register(UniquenessConflict)
class UniquenessConflictAdmin(ReadOnlyAdmin):
    list_display = ("detected_at", "origins", "records", "status", "resolution")
    list_filter = ("status",)
    actions = ["resolve"]

    @admin.action(description=gettext_lazy("Mark resolved"), permissions=["view"])
    def resolve(self, request, queryset):
        if not request.user.has_perm("exchange.run_sync"):
            raise PermissionDenied
        return run_with_reason(
            self,
            request,
            queryset,
            title=_("Resolve national-uniqueness conflicts"),
            perform=lambda *, actor, obj, reason: actions.conflict_resolve(
                actor=actor, conflict=obj, reason=reason
            ),
            action_name="resolve",
        )
