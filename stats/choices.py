"""Choices of the stats app: how a figure groups its rows, and what an assessment target measures."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Grouping(models.TextChoices):
    REGION = "region", _("Region (one level down)")
    INSTITUTION = "institution", _("Institution")
    CARD_MAKER = "card_maker", _("Card maker")
    CATEGORY = "category", _("Institution category")
    DAY = "day", _("Day")
    MONTH = "month", _("Month")


class TargetMeasure(models.TextChoices):
    """What a centre sets a yearly target for in the assessment scorecard."""

    CARDS_ISSUED = "cards_issued", _("Cards issued (collected by holders)")
    APPLICATIONS = "applications", _("Applications received")
    COLLECTION_RATE = "collection_rate", _("Collection rate (%)")
