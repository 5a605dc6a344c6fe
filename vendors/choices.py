"""Choices of the vendors app: one class per concept (models, filtersets, forms, serializers)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ProductType(models.TextChoices):
    USER_CARD = "user_card", _("User card")
    SAM_CARD = "sam_card", _("SAM card")
    READER = "reader", _("Reader / terminal")
    KIOSK = "kiosk", _("Self-service kiosk")
    CHIP_OS = "chip_os", _("Card chip / COS")


# What a card maker must have a valid filing for to count as producing with a filed product.
CARD_PRODUCT_TYPES = (ProductType.USER_CARD, ProductType.SAM_CARD, ProductType.CHIP_OS)


class FilingStatus(models.TextChoices):
    """The status of a filing (备案): a manufacturer's or a product's. Revoked is final."""

    VALID = "valid", pgettext_lazy("filing status", "Valid")
    SUSPENDED = "suspended", pgettext_lazy("filing status", "Suspended")
    REVOKED = "revoked", pgettext_lazy("filing status", "Revoked")


class ActualUseStatus(models.TextChoices):
    IN_USE = "in_use", _("In use")
    RETIRED = "retired", _("Retired")


class ActualUseGrouping(models.TextChoices):
    """How actual-use figures are summed (selectors.actual_use_totals, the figures page and API)."""

    PRODUCT = "product", _("by product")
    PRODUCT_TYPE = "product_type", _("by product type")
    MANUFACTURER = "manufacturer", _("by manufacturer")
    PROVINCE = "province", _("by province")
    REGION = "region", _("by region")
    INSTITUTION = "institution", _("by institution")
