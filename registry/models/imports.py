"""Import jobs: an uploaded file, its dry-run report, then its commit in the background with progress."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJobStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CHECKING = "checking", _("Checking")
    CHECKED = "checked", _("Checked")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """One uploaded file of one import spec. The file stays private (served to its owner only)."""

    IN_PROGRESS = (ImportJobStatus.PENDING, ImportJobStatus.CHECKING, ImportJobStatus.RUNNING)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE)
    spec_name = models.CharField(_("import"), max_length=80, db_index=True)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_filename = models.CharField(_("file name"), max_length=255)
    # The rows of an XLSX file as CSV, written by the dry run so the commit need not parse the workbook again.
    rows_file = models.FileField(_("rows (CSV copy)"), upload_to="imports/%Y/%m/", blank=True)
    size = models.BigIntegerField(_("size (bytes)"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportJobStatus.choices, default=ImportJobStatus.PENDING
    )
    skip_invalid = models.BooleanField(_("skip bad rows"), default=False)
    rows_total = models.BigIntegerField(_("rows in total"), null=True, blank=True)
    rows_done = models.BigIntegerField(_("rows done"), default=0)
    rows_valid = models.BigIntegerField(_("valid rows"), null=True, blank=True)
    rows_created = models.BigIntegerField(_("created"), default=0)
    rows_updated = models.BigIntegerField(_("updated"), default=0)
    # The first MAX_ERRORS problems ({row, column, header, value, message_zh, message_en}); the count is whole.
    errors = models.JSONField(_("problems"), default=list, blank=True)
    errors_total = models.BigIntegerField(_("problems in total"), default=0)
    sample = models.JSONField(_("sample of valid rows"), default=list, blank=True)
    ignored_columns = models.JSONField(_("ignored columns"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)  # why the file could not be read or the job failed
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("committed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    committed_ip = models.GenericIPAddressField(_("committed from"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.get_status_display()})"

    @property
    def in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS

    @property
    def rows_unchanged(self) -> int:
        return max(0, (self.rows_valid or 0) - self.rows_created - self.rows_updated)

    @property
    def progress_percent(self) -> int:
        if self.status in (ImportJobStatus.CHECKED, ImportJobStatus.DONE):
            return 100
        if not self.rows_total:
            return 0
        return min(100, int(self.rows_done * 100 / self.rows_total))
