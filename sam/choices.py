"""Choices of the sam app: one class per concept, used by models, filtersets, forms and serializers."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class SamApplicationStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved by the city")
    CUT = "cut", _("Approved with a reduced quantity")
    REJECTED = "rejected", _("Rejected")
    PLANNED = "planned", _("In the city's SAM plan")


class PlanLevel(models.TextChoices):
    """Which tier made the plan: a city's and a province's are reported up, the ministry's is produced."""

    CITY = "city", _("City plan")
    PROVINCE = "province", _("Province plan")
    MINISTRY = "ministry", _("Production plan")


class SamPlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REPORTED = "reported", _("Reported to the tier above")
    APPROVED = "approved", pgettext_lazy("sam plan", "Approved")
    CUT = "cut", _("Approved with a reduced quantity")
    REJECTED = "rejected", pgettext_lazy("sam plan", "Rejected")
    IN_PRODUCTION = "in_production", _("In production")
    COMPLETED = "completed", _("Completed")


class SamStatus(models.TextChoices):
    IN_STOCK = "in_stock", _("In stock")
    ISSUED = "issued", _("In use at an institution")
    FROZEN = "frozen", _("Frozen (temporarily stopped)")
    CANCELLED = "cancelled", _("Cancelled")


class TerminalType(models.TextChoices):
    COUNTER = "counter", _("Counter card reader")
    KIOSK = "kiosk", _("Self-service kiosk")
    POS = "pos", _("POS terminal")
    ISSUING = "issuing", _("Card issuing machine")
    MOBILE = "mobile", _("Mobile terminal")
    OTHER = "other", _("Other terminal")


class UseScenario(models.TextChoices):
    REGISTRATION = "registration", _("Registration")
    OUTPATIENT = "outpatient", _("Outpatient")
    INPATIENT = "inpatient", _("Inpatient")
    PHARMACY = "pharmacy", _("Pharmacy")
    PUBLIC_HEALTH = "public_health", _("Public health")
    ISSUANCE = "issuance", _("Card issuance")
    OTHER = "other", _("Other use")


class SamShipmentStatus(models.TextChoices):
    PREPARING = "preparing", _("Preparing")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    SIGNED = "signed", _("Signed for")
    RETURNED = "returned", _("Returned")


class SamEventKind(models.TextChoices):
    STOCKED_IN = "stocked_in", _("Stocked in")
    STOCKED_OUT = "stocked_out", _("Stocked out")
    BOUND = "bound", _("Bound to a terminal")
    UNBOUND = "unbound", _("Unbound from its terminal")
    FROZEN = "frozen", _("Frozen")
    UNFROZEN = "unfrozen", _("Unfrozen")
    CANCELLED = "cancelled", _("Cancelled")
