"""Choices of the registry: one class per concept, used by models, filtersets, forms and serializers."""

from django.db import models
from django.utils.translation import gettext_lazy as _

NATION_CODE = "100000"


class Tier(models.TextChoices):
    MINISTRY = "ministry", _("Ministry")
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")


class RegionLevel(models.TextChoices):
    NATION = "nation", _("Nation")
    PROVINCE = "province", _("Province")
    CITY = "city", _("Prefecture city")
    COUNTY = "county", _("County")


class CentreStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DEREGISTERED = "deregistered", _("Deregistered")


class Channel(models.TextChoices):
    """Where an action came from: recorded on every audit row."""

    WEB = "web", _("Web admin")
    API = "api", _("API")
    SYNC = "sync", _("Sync")
    COMMAND = "command", _("Command")
    SYSTEM = "system", _("System")


class JournalOp(models.TextChoices):
    UPSERT = "upsert", _("Create or update")
    EVENT = "event", _("Event")
    DELETE = "delete", _("Delete")


class ExportFormat(models.TextChoices):
    XLSX = "xlsx", _("Excel (XLSX)")
    PDF = "pdf", _("PDF")


class ExportJobStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
