"""Celery tasks of the registry: thin wrappers that call one action."""

from celery import shared_task

from registry import actions


@shared_task(acks_late=True)
def export_job_run_task(job_id: int) -> None:
    actions.export_job_run(job_id=job_id)
