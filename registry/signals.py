"""Keeping derived registry state in step: role groups after migrate."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def sync_roles_after_migrate(sender, **kwargs) -> None:
    # Run once, after the last app migrated, when every permission exists.
    if getattr(sender, "name", "") != "terminals":
        return
    from registry.roles import roles_sync

    roles_sync()
