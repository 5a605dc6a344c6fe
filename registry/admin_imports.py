"""Import in the admin: an Import button on a changelist, upload + dry-run report + commit, and the job list.

A ModelAdmin gets it by mixing in `ImportAdminMixin` (before `ActionAdmin`) and naming its spec:

    class MedicalInstitutionAdmin(ImportAdminMixin, OrganisationAdmin):
        import_spec_name = "institutions.medical"
"""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from registry.actors import Actor
from registry.errors import DomainError
from registry.exports import export_response
from registry.imports import FORMATS, RowError, allowed_text, error_sheet, import_spec, template_response
from registry.models import ImportJob

UPLOAD_SUFFIXES = (".xlsx", ".csv", ".txt", ".json", ".jsonl", ".ndjson")
MAX_UPLOAD_BYTES = 500 * 1024 * 1024
REFRESH_SECONDS = 2


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("file"),
        help_text=_("XLSX, CSV (UTF-8 or GB18030) or JSON, with the columns of the template."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name or "").suffix.lower() not in UPLOAD_SUFFIXES:
            raise forms.ValidationError(
                _("Upload an .xlsx, .csv or .json file (old .xls files: save them as .xlsx first).")
            )
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s MB: split it into smaller files.")
                % {"size": MAX_UPLOAD_BYTES // (1024 * 1024)}
            )
        return upload


def _own_jobs(request: HttpRequest):
    jobs = ImportJob.objects.all()
    return jobs if request.user.is_superuser else jobs.filter(user=request.user)


class ImportAdminMixin:
    """Adds the import pages to a ModelAdmin: `import/`, `import/template.<fmt>`, `import/<job>/` (report)."""

    import_spec_name: str = ""
    change_list_template = "registry/admin/change_list_import_export.html"

    def get_urls(self):
        app_label, model_name = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name=f"{app_label}_{model_name}_import"),
            path(
                "import/template.<str:fmt>",
                view(self.import_template_view),
                name=f"{app_label}_{model_name}_import_template",
            ),
            path(
                "import/<int:job_id>/",
                view(self.import_job_view),
                name=f"{app_label}_{model_name}_import_job",
            ),
            path(
                "import/<int:job_id>/problems.xlsx",
                view(self.import_errors_view),
                name=f"{app_label}_{model_name}_import_errors",
            ),
            *super().get_urls(),
        ]

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            "has_import_permission": self.has_import_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    def _url(self, name: str, *args) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def _context(self, request, **extra):
        spec = import_spec(self.import_spec_name)
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "spec": spec,
            "title": gettext("Import: %(title)s") % {"title": spec.title},
            "import_url": self._url("import"),
            "template_links": [(fmt.upper(), self._url("import_template", fmt)) for fmt in FORMATS],
            "column_rows": [
                (column.header, column.required, column.help, allowed_text(column)) for column in spec.columns
            ],
            **extra,
        }

    def import_view(self, request: HttpRequest):
        from registry.import_actions import import_job_create

        if not self.has_import_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = import_job_create(
                    user=request.user,
                    spec_name=self.import_spec_name,
                    uploaded_file=form.cleaned_data["file"],
                )
            except DomainError as error:
                self.message_user(request, error.message_zh, messages.ERROR)
            else:
                return HttpResponseRedirect(self._url("import_job", job.pk))
        recent = _own_jobs(request).filter(spec_name=self.import_spec_name).select_related("user")[:10]
        return TemplateResponse(
            request,
            "registry/admin/import_form.html",
            self._context(
                request, form=form, recent=[(job, self._url("import_job", job.pk)) for job in recent]
            ),
        )

    def import_template_view(self, request: HttpRequest, fmt: str):
        if fmt not in FORMATS:
            raise Http404
        if not self.has_import_permission(request):
            raise PermissionDenied
        return template_response(import_spec(self.import_spec_name), fmt)

    def _job(self, request: HttpRequest, job_id: int) -> ImportJob:
        if not self.has_import_permission(request):
            raise PermissionDenied
        job = _own_jobs(request).filter(pk=job_id, spec_name=self.import_spec_name).first()
        if job is None:
            raise Http404
        return job

    def import_job_view(self, request: HttpRequest, job_id: int):
        """The dry-run report, the commit buttons, and while it runs a progress bar that refreshes itself."""
        from registry.import_actions import import_job_commit

        job = self._job(request, job_id)
        if request.method == "POST":
            skip = "commit_skipping" in request.POST
            if skip or "commit" in request.POST:
                try:
                    import_job_commit(job=job, actor=Actor.from_request(request), skip_invalid=skip)
                except DomainError as error:
                    self.message_user(request, error.message_zh, messages.ERROR)
            return HttpResponseRedirect(self._url("import_job", job.pk))
        spec = import_spec(job.spec_name)
        columns = [column for column in spec.columns if any(column.key in row for row in job.sample)]
        context = self._context(
            request,
            job=job,
            title=gettext("Import: %(title)s — %(file)s")
            % {"title": spec.title, "file": job.original_filename},
            errors=[RowError.from_dict(error) for error in job.errors],
            errors_shown=len(job.errors),
            invalid_rows=(job.rows_total or 0) - (job.rows_valid or 0),
            errors_url=self._url("import_errors", job.pk),
            sample_headers=[column.header for column in columns],
            sample_rows=[
                (row.get("row"), [row.get(column.key, "") for column in columns]) for row in job.sample
            ],
            refresh_seconds=REFRESH_SECONDS if job.in_progress else None,
            changelist_url=reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
        )
        return TemplateResponse(request, "registry/admin/import_report.html", context)

    def import_errors_view(self, request: HttpRequest, job_id: int):
        """The problems of a check as XLSX, written by the export machinery."""
        job = self._job(request, job_id)
        sheet = error_sheet(
            import_spec(job.spec_name),
            [RowError.from_dict(error) for error in job.errors],
            errors_total=job.errors_total,
            filename=job.original_filename,
            generated_by=request.user.get_username(),
        )
        return export_response(sheet, "xlsx")


def job_report_url(job: ImportJob, site: admin.AdminSite = admin.site) -> str | None:
    """The report page of a job: on the admin of the model whose import it is."""
    for model, model_admin in site._registry.items():
        if getattr(model_admin, "import_spec_name", None) == job.spec_name:
            try:
                return reverse(
                    f"admin:{model._meta.app_label}_{model._meta.model_name}_import_job", args=[job.pk]
                )
            except NoReverseMatch:
                return None
    return None


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Read-only: the person's own import jobs (a superuser sees all), each linking to its report."""

    list_display = [
        "created_at",
        "spec_title",
        "original_filename",
        "user",
        "status",
        "progress",
        "rows_total",
        "rows_valid",
        "errors_total",
        "rows_created",
        "rows_updated",
        "report_link",
    ]
    list_filter = ["status", "spec_name"]
    list_select_related = ["user"]
    search_fields = ["original_filename"]
    readonly_fields = [
        "spec_title",
        "original_filename",
        "size",
        "user",
        "status",
        "progress",
        "rows_total",
        "rows_valid",
        "errors_total",
        "rows_created",
        "rows_updated",
        "skip_invalid",
        "committed_by",
        "error",
        "created_at",
        "checked_at",
        "finished_at",
        "report_link",
    ]
    fields = readonly_fields

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return _own_jobs(request).select_related("user", "committed_by")

    @admin.display(description=_("import"))
    def spec_title(self, obj):
        try:
            return import_spec(obj.spec_name).title
        except DomainError:
            return obj.spec_name

    @admin.display(description=_("progress"))
    def progress(self, obj):
        return format_html(
            '<progress max="100" value="{}"></progress> {}% ({} / {})',
            obj.progress_percent,
            obj.progress_percent,
            obj.rows_done,
            obj.rows_total if obj.rows_total is not None else "?",
        )

    @admin.display(description=_("report"))
    def report_link(self, obj):
        url = job_report_url(obj, self.admin_site)
        return format_html('<a href="{}">{}</a>', url, _("Open the report")) if url else "-"
