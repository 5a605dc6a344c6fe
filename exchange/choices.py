"""Choices of the exchange app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    UP = "up", _("Up (to the parent)")
    DOWN = "down", _("Down (from the parent)")


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Admin button")
    COMMAND = "command", _("Command")
    FILE = "file", _("File")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    OK = "ok", _("Finished")
    FAILED = "failed", _("Failed")


class BundleStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    QUARANTINED = "quarantined", _("Quarantined")
    REFUSED = "refused", _("Refused (bad signature or body)")


class ConflictStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
