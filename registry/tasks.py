"""Celery tasks of the registry: thin wrappers that call one action."""

from celery import shared_task

from registry import actions


@shared_task(acks_late=True)
def export_job_run_task(job_id: int) -> None:
    actions.export_job_run(job_id=job_id)


@shared_task(acks_late=True)
def import_job_check_task(job_id: int) -> None:
    from registry.import_actions import import_job_run_check

    import_job_run_check(job_id=job_id)


@shared_task(acks_late=True)
def import_job_commit_task(job_id: int) -> None:
    from registry.import_actions import import_job_run_commit

    import_job_run_commit(job_id=job_id)


@shared_task(acks_late=True)
def list_expire_due_task() -> int:
    """Daily: entries whose period ended (a person's ineligibility until a date) come off the list."""
    from registry.actors import Actor
    from registry.choices import Channel
    from registry.lists import list_expire_due

    return list_expire_due(actor=Actor.system(channel=Channel.SYSTEM, label="list expiry"))
