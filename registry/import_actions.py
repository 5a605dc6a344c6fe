"""The writes of an import job: upload (and its dry run), commit, and the runs the background tasks call.

The rows themselves are written by the spec's own action (`apply_batch`, e.g. institutions'
`organisation_import_batch`), one durable transaction per batch. The job's bookkeeping (status, rows_done)
is written outside those transactions, as export jobs do, so progress is visible while a job runs.
"""

from __future__ import annotations

import tempfile

from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import Channel
from registry.errors import DomainError
from registry.imports import ImportFileError, import_check, import_commit, import_spec
from registry.models import ImportJob, User
from registry.models.imports import ImportJobStatus

SYNC_CHECK_BYTES = (
    5 * 1024 * 1024
)  # smaller files are checked while the person waits; larger in the background


def import_job_create(*, user: User, spec_name: str, uploaded_file: UploadedFile) -> ImportJob:
    """Store an uploaded file as an import job and check it (a dry run: nothing is imported yet).

    A small file is checked at once, so the report is ready when the page returns; a large one is checked by
    a background task and the report page shows its progress.
    """
    from registry.tasks import import_job_check_task

    spec = import_spec(spec_name)
    size = uploaded_file.size or 0
    filename = (uploaded_file.name or "upload").rsplit("/", 1)[-1][:255]
    with transaction.atomic(durable=True):
        job = ImportJob(user=user, spec_name=spec.name, original_filename=filename, size=size)
        job.file.save(filename, uploaded_file, save=False)
        job.save()
        audit_record(
            actor=Actor.for_user(user),
            action="import.upload",
            target=job,
            changes={"spec": spec.name, "file": filename, "size": size},
        )
        if size >= SYNC_CHECK_BYTES:
            transaction.on_commit(lambda: import_job_check_task.delay(job.pk))
    if size < SYNC_CHECK_BYTES:
        import_job_run_check(job_id=job.pk)
        job.refresh_from_db()
    return job


def import_job_run_check(*, job_id: int) -> None:
    """The dry run of a job. Safe to repeat: a job already checked (or further) is left alone."""
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    if job.status not in (ImportJobStatus.PENDING, ImportJobStatus.CHECKING):
        return
    spec = import_spec(job.spec_name)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJobStatus.CHECKING, rows_done=0, error="")

    def progress(done: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(rows_done=done)

    try:
        with (
            job.file.open("rb") as handle,
            tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as rows,
        ):
            report = import_check(
                spec, handle, user=job.user, filename=job.original_filename, progress=progress, rows_out=rows
            )
            if report.rows_copied:
                rows.seek(0)
                job.rows_file.save(f"{job.pk}-rows.csv", File(rows.buffer), save=False)
    except ImportFileError as error:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJobStatus.FAILED, error=error.message_zh, finished_at=timezone.now()
        )
        return
    except Exception as exc:
        _failed(job, exc)
        raise
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJobStatus.CHECKED,
        rows_total=report.total,
        rows_done=report.total,
        rows_valid=report.valid,
        errors=[error.as_dict() for error in report.errors],
        errors_total=report.errors_total,
        sample=report.sample,
        ignored_columns=report.ignored,
        rows_file=job.rows_file.name or "",
        checked_at=timezone.now(),
    )


@transaction.atomic(durable=True)
def import_job_commit(*, job: ImportJob, actor: Actor, skip_invalid: bool = False) -> ImportJob:
    """Commit a checked import: refused while a row is bad unless `skip_invalid`; runs in the background."""
    from registry.tasks import import_job_commit_task

    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJobStatus.CHECKED:
        raise DomainError(
            _("Only a checked import can be committed; this one is “%(status)s”."),
            {"status": job.get_status_display()},
            code="import_state",
        )
    if not job.rows_valid:
        raise DomainError(_("The file has no valid rows to import."), code="import_empty")
    if job.errors_total and not skip_invalid:
        raise DomainError(
            _(
                "%(count)s rows have problems: correct them and check the file again, or commit skipping "
                "the bad rows."
            ),
            {"count": (job.rows_total or 0) - job.rows_valid},
            code="import_has_errors",
        )
    job.status = ImportJobStatus.RUNNING
    job.skip_invalid = skip_invalid
    job.rows_done = 0
    job.committed_by = actor.user
    job.committed_ip = actor.ip
    job.save(update_fields=["status", "skip_invalid", "rows_done", "committed_by", "committed_ip"])
    audit_record(
        actor=actor,
        action="import.commit",
        target=job,
        changes={"spec": job.spec_name, "rows": job.rows_valid, "skip_invalid": skip_invalid},
    )
    transaction.on_commit(lambda: import_job_commit_task.delay(job.pk))
    return job


def import_job_run_commit(*, job_id: int) -> None:
    """Apply a committed job's rows, batch by batch. Not one transaction: progress must be visible.

    Idempotent when a task is delivered again: a finished job is left alone, and a job interrupted half-way
    starts over from the first row, which rewrites nothing already applied (the spec upserts by key and
    writes nothing for an unchanged row).
    """
    job = ImportJob.objects.select_related("user", "committed_by").get(pk=job_id)
    if job.status != ImportJobStatus.RUNNING:
        return  # done already (a redelivered task), or never committed
    spec = import_spec(job.spec_name)
    committer = job.committed_by or job.user
    actor = Actor(user=committer, channel=Channel.WEB, ip=job.committed_ip, label=committer.get_username())

    def progress(done: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(rows_done=done)

    # The dry run's CSV copy of an XLSX file reads ten times faster than the workbook; same rows, same numbers.
    source, filename = (job.rows_file, "rows.csv") if job.rows_file else (job.file, job.original_filename)
    try:
        with source.open("rb") as handle:
            result = import_commit(
                spec,
                handle,
                actor=actor,
                user=job.user,
                filename=filename,
                skip_invalid=job.skip_invalid,
                precheck=False,  # checked already; import_job_commit decided on skip_invalid
                progress=progress,
            )
    except Exception as exc:
        _failed(job, exc)
        raise
    changes = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
    fields = {
        "status": ImportJobStatus.DONE,
        "rows_done": result.total,
        "rows_created": result.created,
        "rows_updated": result.updated,
        "finished_at": timezone.now(),
    }
    if result.errors_total != job.errors_total or result.valid != job.rows_valid:
        # The data changed since the check (e.g. a region left the person's scope): report what happened.
        fields.update(
            rows_total=result.total,
            rows_valid=result.valid,
            errors=[error.as_dict() for error in result.errors],
            errors_total=result.errors_total,
        )
        changes["problems"] = result.errors_total
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(**fields)
        audit_record(actor=actor, action="import.done", target=job, changes=changes)


def _failed(job: ImportJob, exc: Exception) -> None:
    message = exc.message_zh if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJobStatus.FAILED, error=message[:2000], finished_at=timezone.now()
    )
