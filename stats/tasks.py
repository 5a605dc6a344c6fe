"""Celery tasks of the stats app: thin wrappers that call one action."""

from celery import shared_task

from stats import actions


@shared_task(acks_late=True)
def stats_fold_task() -> int:
    return actions.stats_fold()
