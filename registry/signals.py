"""Keeping derived registry state in step after migrate (and after a test flush): regions and role groups."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def refresh_after_migrate(sender, using="default", **kwargs) -> None:
    name = getattr(sender, "name", "")
    if name == "registry":
        # Migration 0002 loads the tree; this reloads it when a table flush emptied it (test isolation).
        from registry.actions import regions_load
        from registry.models import Region

        if not Region.objects.using(using).exists():
            regions_load()
    elif name == "terminals":
        # Run once, after the last app migrated, when every permission exists.
        from registry.roles import roles_sync

        roles_sync()
