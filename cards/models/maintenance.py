"""Card maintenance (卡应用维护): records of the death registry, each applied once, reversible by a correction."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from cards.choices import DeathRecordStatus
from registry.models import ListEntry
from registry.protection import BlindIndexField, EncryptedTextField


class DeathRecord(models.Model):
    """One record of a death registry (公安 / 民政 / 卫健 death data): who died when, and what it did here.

    Unique by (registry, record_id), so importing the same file twice, or receiving a record both as a file
    and through the API, cancels the cards once.
    """

    REGION_SCOPE_FIELD = "region__code"

    registry = models.CharField(_("death registry"), max_length=50)
    record_id = models.CharField(_("record id"), max_length=64)
    id_number = EncryptedTextField(_("ID number"))
    id_index = BlindIndexField(source="id_number", family="id_number")
    name = EncryptedTextField(_("name"), blank=True)
    died_on = models.DateField(_("date of death"))
    resident = models.ForeignKey(
        "cards.Resident",
        verbose_name=_("holder"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="death_records",
    )
    # The holder's region when matched, else the region of whoever received the record.
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    status = models.CharField(_("status"), max_length=10, choices=DeathRecordStatus.choices, db_index=True)
    cards_cancelled = models.PositiveIntegerField(_("cards cancelled"), default=0)
    received_at = models.DateTimeField(_("received at"), db_index=True)
    corrected_at = models.DateTimeField(_("corrected at"), null=True, blank=True)
    correction_note = models.CharField(_("correction"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("death record")
        verbose_name_plural = _("death records")
        ordering = ["-received_at", "-id"]
        permissions = [("correct_deathrecord", _("Can correct a wrong death record (restores the cards)"))]
        constraints = [
            models.UniqueConstraint(fields=["registry", "record_id"], name="death_record_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.registry} {self.record_id}"


class PersonBlacklistEntry(ListEntry):
    """The person entries of registry's blacklist, as the cards admin lists them (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("blacklisted person")
        verbose_name_plural = _("blacklisted persons")
