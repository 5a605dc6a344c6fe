"""Thin Celery wrappers around the sync runs (beat schedule in config/settings.py)."""

from celery import shared_task
from django.conf import settings

from exchange.choices import RunTrigger


def _has_parent() -> bool:
    return settings.HC_TIER != "ministry" and bool(settings.HC_PARENT_URL)


@shared_task
def sync_push_task(trigger: str = RunTrigger.SCHEDULE) -> int | None:
    if trigger == RunTrigger.SCHEDULE and not _has_parent():
        return None  # the ministry (or a node not yet connected) has nowhere to push
    from exchange.sync.runner import sync_push

    return sync_push(trigger=trigger).pk


@shared_task
def sync_pull_task(trigger: str = RunTrigger.SCHEDULE) -> int | None:
    if trigger == RunTrigger.SCHEDULE and not _has_parent():
        return None
    from exchange.sync.runner import sync_pull

    return sync_pull(trigger=trigger).pk


@shared_task
def sync_full_task() -> list[int]:
    """The nightly run: everything up, then everything down, then retry what waits in quarantine."""
    from exchange.sync.apply import quarantine_retry_due
    from exchange.sync.runner import sync_pull, sync_push

    quarantine_retry_due()
    if not _has_parent():
        return []
    return [sync_push(trigger=RunTrigger.SCHEDULE).pk, sync_pull(trigger=RunTrigger.SCHEDULE).pk]


@shared_task
def quarantine_retry_task() -> int:
    from exchange.sync.apply import quarantine_retry_due

    return quarantine_retry_due()


@shared_task
def sync_reconcile_task() -> int | None:
    if not _has_parent():
        return None
    from exchange.sync.runner import sync_reconcile

    return sync_reconcile().pk
