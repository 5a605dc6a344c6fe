"""Card use records (刷卡记录) reported by hospitals in batches, and their daily aggregates for statistics."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CardUseScenario(models.TextChoices):
    REGISTRATION = "registration", _("Registration")
    CONSULTATION = "consultation", _("Consultation")
    PHARMACY = "pharmacy", _("Pharmacy")
    LAB = "lab", _("Lab and examination")
    SETTLEMENT = "settlement", _("Settlement")
    INPATIENT_ADMISSION = "inpatient_admission", _("Inpatient admission")
    RURAL_COOP_SETTLEMENT = "rural_coop_settlement", _("Rural co-operative settlement")


class CardUseStatus(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class CardUseRejection(models.TextChoices):
    """Why a reported use was not counted: kept with the row so the hospital can correct and resend it."""

    MISSING_CARD = "missing_card", _("The card number or chip serial is missing.")
    BAD_TIME = "bad_time", _("The time of use is missing or not a date and time.")
    FUTURE_TIME = "future_time", _("The time of use lies in the future.")
    BAD_SCENARIO = "bad_scenario", _("The scenario is not one of the known scenarios.")
    UNKNOWN_CARD = "unknown_card", _("No card with this card number and chip serial is known here.")


class CardUseBatch(models.Model):
    """One batch as a hospital sent it: (institution, the hospital's batch id) is taken once; the digest of its
    records tells a resend (same records: the first result again) from a conflict (other records: refused)."""

    REGION_SCOPE_FIELD = "region__code"

    institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        on_delete=models.PROTECT,
        related_name="card_use_batches",
    )
    batch_id = models.CharField(_("batch id"), max_length=64)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    digest = models.CharField(_("content digest"), max_length=64, editable=False)
    record_count = models.PositiveIntegerField(_("records"))
    accepted_count = models.PositiveIntegerField(_("accepted"))
    duplicate_count = models.PositiveIntegerField(_("duplicates"))
    rejected_count = models.PositiveIntegerField(_("rejected"))
    rejections = models.JSONField(_("rejected records"), default=list, blank=True)
    received_at = models.DateTimeField(_("received at"), db_index=True)
    resent_count = models.PositiveIntegerField(_("times resent"), default=0)

    class Meta:
        verbose_name = _("card use batch")
        verbose_name_plural = _("card use batches")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "batch_id"], name="card_use_batch_unique"),
        ]

    def __str__(self) -> str:
        return self.batch_id


class CardUse(models.Model):
    """One reported use of a card. A rejected row keeps the card's blind index and chip serial (never the card
    number in clear) and the reason; only accepted rows count."""

    REGION_SCOPE_FIELD = "region__code"

    # A batch writes up to a hundred thousand rows at once, so every per-row cost counts. The foreign keys' own
    # indexes are left out (the composite indexes below lead with them). Batch, institution and region are the
    # same for every row of a batch and come from rows the ingesting action has just written or locked, so
    # their constraints (checked row by row at commit) are left out too; the card keeps its constraint.
    batch = models.ForeignKey(
        CardUseBatch,
        verbose_name=_("batch"),
        on_delete=models.PROTECT,
        related_name="uses",
        db_index=False,
        db_constraint=False,
    )
    line = models.PositiveIntegerField(_("record number"))
    institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    region = models.ForeignKey(
        "registry.Region",
        verbose_name=_("region"),
        on_delete=models.PROTECT,
        help_text=_("The medical institution's region."),
        db_index=False,
        db_constraint=False,
    )
    used_at = models.DateTimeField(_("time of use"), null=True, blank=True, db_index=True)
    card = models.ForeignKey(
        "cards.Card",
        verbose_name=_("card"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="uses",
        db_index=False,
    )
    card_index = models.CharField(_("card blind index"), max_length=40, blank=True, editable=False)
    chip_serial = models.CharField(_("chip serial"), max_length=20, blank=True)
    scenario = models.CharField(_("scenario"), max_length=24, choices=CardUseScenario.choices, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CardUseStatus.choices)
    reason = models.CharField(_("reason"), max_length=16, choices=CardUseRejection.choices, blank=True)

    class Meta:
        verbose_name = _("card use")
        verbose_name_plural = _("card uses")
        ordering = ["-used_at", "-id"]
        indexes = [
            models.Index(fields=["region", "used_at"], name="card_use_region_time"),
            models.Index(fields=["institution", "used_at"], name="card_use_institution_time"),
            models.Index(fields=["batch", "line"], name="card_use_batch_line"),
        ]
        constraints = [
            # One use is one (card, place, time, scenario): a record sent again in another batch counts once.
            models.UniqueConstraint(
                fields=["card", "institution", "used_at", "scenario"],
                condition=Q(card__isnull=False),
                name="card_use_unique",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.used_at:%Y-%m-%d %H:%M} {self.get_scenario_display()}" if self.used_at else str(self.pk)
        )


class CardUseDaily(models.Model):
    """Uses per day, institution and scenario (with the institution's region), kept by the ingestion in its own
    transaction so statistics never read the raw records."""

    REGION_SCOPE_FIELD = "region__code"

    day = models.DateField(_("day"))
    institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    scenario = models.CharField(_("scenario"), max_length=24, choices=CardUseScenario.choices)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    count = models.PositiveIntegerField(_("uses"))
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("daily card uses")
        verbose_name_plural = _("daily card uses")
        ordering = ["-day", "institution_id", "scenario"]
        indexes = [models.Index(fields=["region", "day"], name="card_use_daily_region_day")]
        constraints = [
            models.UniqueConstraint(fields=["day", "institution", "scenario"], name="card_use_daily_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.get_scenario_display()}: {self.count}"
