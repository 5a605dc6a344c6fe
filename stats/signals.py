"""Keeping the daily counts in step with the case history, without cards importing stats."""

from django.db import transaction


def card_event_saved(sender, instance, created, **kwargs) -> None:
    if created:
        from stats.actions import stats_fold_soon

        transaction.on_commit(stats_fold_soon)
