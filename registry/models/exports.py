"""Background export jobs: a large list exported to XLSX/PDF with progress."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.choices import ExportFormat, ExportJobStatus


class ExportJob(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE)
    # Where the rows come from: "admin:<app_label>.<model>" or "spec:<export spec name>".
    source = models.CharField(_("source"), max_length=120)
    params = models.JSONField(_("filters"), default=dict, blank=True)
    format = models.CharField(_("format"), max_length=5, choices=ExportFormat.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ExportJobStatus.choices, default=ExportJobStatus.PENDING
    )
    rows_total = models.BigIntegerField(_("rows in total"), null=True, blank=True)
    rows_done = models.BigIntegerField(_("rows done"), default=0)
    file = models.FileField(_("file"), upload_to="exports/%Y/%m/", blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.source} ({self.get_format_display()})"

    @property
    def progress_percent(self) -> int:
        if not self.rows_total:
            return 100 if self.status == ExportJobStatus.DONE else 0
        return min(100, int(self.rows_done * 100 / self.rows_total))
