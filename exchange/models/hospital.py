"""What the partner interfaces keep: idempotency records of signed writes and electronic health cards."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyState(models.TextChoices):
    PROCESSING = "processing", _("Processing")
    DONE = "done", _("Done")


class IdempotencyRecord(models.Model):
    """The first answer to a signed write with an Idempotency-Key: a retry gets it again, nothing runs twice.

    Bookkeeping, not a change anyone made (like ExportJob): written outside actions, no audit row.
    """

    institution_code = models.CharField(_("institution code"), max_length=18)
    key = models.CharField(_("idempotency key"), max_length=100)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=300)
    body_hash = models.CharField(_("body SHA-256"), max_length=64)
    state = models.CharField(_("state"), max_length=12, choices=IdempotencyState.choices)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    # JSON text, not a JSON column: an answer may quote what the client sent, NUL characters included, which
    # PostgreSQL's jsonb refuses (text keeps them escaped).
    response = models.TextField(_("response (JSON)"), blank=True)
    created_at = models.DateTimeField(_("created at"), db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["institution_code", "key"], name="idempotency_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.institution_code} {self.key}"


class EhcStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")


class ElectronicHealthCard(models.Model):
    """电子健康卡: one virtual card per holder across all institutions; its QR code carries a dynamic,
    node-signed code that expires in minutes (see exchange.hospital.ehc)."""

    REGION_SCOPE_FIELD = "region__code"

    ehc_id = models.CharField(_("e-card id"), max_length=32, unique=True)
    resident = models.OneToOneField(
        "cards.Resident", verbose_name=_("holder"), on_delete=models.PROTECT, related_name="ehc"
    )
    status = models.CharField(_("status"), max_length=10, choices=EhcStatus.choices, default=EhcStatus.ACTIVE)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    issued_at = models.DateTimeField(_("issued at"))

    class Meta:
        verbose_name = _("electronic health card")
        verbose_name_plural = _("electronic health cards")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.ehc_id
