"""Choices of the institutions app: one class per concept (models, filtersets, forms, serializers, imports)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganisationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DEREGISTERED = "deregistered", _("Deregistered")


class InstitutionNature(models.TextChoices):
    """Ownership (经济类型/所有制) as health statistics record it."""

    PUBLIC = "public", _("Public")
    COLLECTIVE = "collective", _("Collective")
    PRIVATE = "private", _("Private")
    JOINT = "joint", _("Joint venture")
    FOREIGN = "foreign", _("Foreign-funded")
    OTHER = "other", _("Other")


class InstitutionCategory(models.TextChoices):
    GENERAL_HOSPITAL = "general_hospital", _("General hospital")
    TCM_HOSPITAL = "tcm_hospital", _("Traditional Chinese medicine hospital")
    INTEGRATED_HOSPITAL = "integrated_hospital", _("Integrated Chinese and Western medicine hospital")
    ETHNIC_HOSPITAL = "ethnic_hospital", _("Ethnic medicine hospital")
    SPECIALIST_HOSPITAL = "specialist_hospital", _("Specialist hospital")
    MATERNAL_CHILD = "maternal_child", _("Maternal and child health centre")
    COMMUNITY_CENTRE = "community_centre", _("Community health service centre")
    COMMUNITY_STATION = "community_station", _("Community health service station")
    TOWNSHIP_CENTRE = "township_centre", _("Township health centre")
    VILLAGE_CLINIC = "village_clinic", _("Village clinic")
    OUTPATIENT = "outpatient", _("Outpatient department or clinic")
    CDC = "cdc", _("Centre for disease control")
    EMERGENCY = "emergency", _("Emergency centre")
    BLOOD = "blood", _("Blood station")
    OTHER = "other", _("Other")


class InstitutionGrade(models.TextChoices):
    """Hospital grade (医院等级): level 1-3, class A/B/C; unrated for the rest."""

    G3A = "3a", _("Grade III Class A")
    G3B = "3b", _("Grade III Class B")
    G3C = "3c", _("Grade III Class C")
    G2A = "2a", _("Grade II Class A")
    G2B = "2b", _("Grade II Class B")
    G2C = "2c", _("Grade II Class C")
    G1A = "1a", _("Grade I Class A")
    G1B = "1b", _("Grade I Class B")
    G1C = "1c", _("Grade I Class C")
    UNRATED = "unrated", _("Unrated")


class FinancialKind(models.TextChoices):
    BANK = "bank", _("Bank")
    RURAL_CREDIT = "rural_credit", _("Rural credit cooperative")
    OTHER = "other", _("Other financial institution")


class CredentialStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")
