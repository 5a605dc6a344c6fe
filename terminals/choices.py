"""Choices of the terminals app: one class per concept (models, filtersets, forms, serializers)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TerminalKind(models.TextChoices):
    COUNTER = "counter", _("Counter reader/writer")
    KIOSK = "kiosk", _("Self-service kiosk")
    HOSPITAL = "hospital", _("Hospital reader")
    MOBILE = "mobile", _("Mobile terminal")


class TerminalStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    RETIRED = "retired", _("Retired")
