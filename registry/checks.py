"""Deployment checks of a node (`manage.py check --deploy`): what a production node must not run without."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def node_deploy_checks(app_configs, **kwargs):
    problems = []
    if not settings.PRODUCTION:
        return problems
    if not settings.CACHE_URL:
        problems.append(
            Error(
                "CACHE_URL is not set: replay protection and rate limits need a cache shared by every web process.",
                hint="Set CACHE_URL=redis://host:6379/1",
                id="registry.E001",
            )
        )
    if not settings.CELERY_BROKER_URL:
        problems.append(
            Error(
                "CELERY_BROKER_URL is not set: production runs tasks on Celery workers, not inside web requests.",
                hint="Set CELERY_BROKER_URL=redis://host:6379/0",
                id="registry.E002",
            )
        )
    if not (settings.HC_DATA_KEYS or settings.HC_DATA_KEYS_FILE.exists()):
        problems.append(
            Error(
                "No personal-data keys: set HC_DATA_KEYS or HC_DATA_KEYS_FILE (kept outside the database).",
                id="registry.E003",
            )
        )
    return problems
