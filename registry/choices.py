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


class ListName(models.TextChoices):
    """The node's two numbered, signed lists (registry.lists)."""

    BLACKLIST = "blacklist", _("Blacklist")
    WHITELIST = "whitelist", _("Whitelist")


class EntryType(models.TextChoices):
    """What a list entry names: a physical card, a person, or a SAM."""

    CARD = "card", _("Card")
    PERSON = "person", _("Person")
    SAM = "sam", _("SAM card")


class ListReason(models.TextChoices):
    """Why a subject is on a list. The binary list format carries the code's position, so never reorder."""

    LOST = "lost", _("Reported lost (hold)")
    CANCELLED = "cancelled", _("Cancelled")
    REPLACED = "replaced", _("Replaced by a newer card")
    DEATH = "death", _("Holder deceased")
    INELIGIBLE = "ineligible", _("Person not eligible")
    SAM_FROZEN = "sam_frozen", _("SAM frozen")
    SAM_CANCELLED = "sam_cancelled", _("SAM cancelled")
    MANUAL = "manual", _("Added by hand")
    ACTIVE = "active", _("Active card")


# Reasons that never lapse by themselves: removing one is a correction (registry.lists.list_remove).
PERMANENT_LIST_REASONS = frozenset(
    {ListReason.CANCELLED, ListReason.REPLACED, ListReason.DEATH, ListReason.SAM_CANCELLED}
)
