"""Filed manufacturers and products (entered at the ministry, a read-only copy below) and actual use."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from institutions.models import CardMaker
from registry.lifecycle import Transitions
from vendors.choices import ActualUseStatus, FilingStatus, ProductType

FILING_TRANSITIONS = Transitions(
    {
        FilingStatus.VALID: [FilingStatus.SUSPENDED, FilingStatus.REVOKED],
        FilingStatus.SUSPENDED: [FilingStatus.VALID, FilingStatus.REVOKED],
        FilingStatus.REVOKED: [],
    }
)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


class Manufacturer(models.Model):
    """A filed manufacturer (生产单位). National data: every node holds the ministry's list, unscoped."""

    TRANSITIONS = FILING_TRANSITIONS

    name = models.CharField(_("name"), max_length=100, db_index=True)
    # 统一社会信用代码: the natural key across nodes, and what card makers are matched on.
    code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_person = models.CharField(_("contact person"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=FilingStatus.choices, default=FilingStatus.VALID, db_index=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    changed_at = models.DateTimeField(_("changed at"))

    JOURNAL_FIELDS = ("name", "code", "address", "contact_person", "phone", "status", "status_reason")

    class Meta:
        verbose_name = _("manufacturer")
        verbose_name_plural = _("manufacturers")
        ordering = ["name"]
        permissions = [("revoke_manufacturer", _("Can suspend, revoke or reinstate manufacturer"))]

    def __str__(self) -> str:
        return self.name

    def journal_payload(self) -> dict:
        payload = {field: getattr(self, field) for field in self.JOURNAL_FIELDS}
        payload.update(
            region=self.region_id,
            status_changed_at=_iso(self.status_changed_at),
            registered_at=_iso(self.registered_at),
            changed_at=_iso(self.changed_at),
        )
        return payload


class FiledProductQuerySet(models.QuerySet):
    def valid(self, on: dt.date | None = None) -> FiledProductQuerySet:
        """Products that count as validly filed on `on` (today): valid, in their validity period, and
        from a manufacturer whose own filing is valid."""
        on = on or timezone.localdate()
        return self.filter(
            status=FilingStatus.VALID,
            filing_date__lte=on,
            valid_until__gte=on,
            manufacturer__status=FilingStatus.VALID,
        )


class FiledProduct(models.Model):
    """A filed product (备案产品): a card, SAM, reader/terminal, kiosk or chip/COS with its filing number."""

    TRANSITIONS = FILING_TRANSITIONS

    manufacturer = models.ForeignKey(
        Manufacturer, verbose_name=_("manufacturer"), on_delete=models.PROTECT, related_name="products"
    )
    product_type = models.CharField(
        _("product type"), max_length=12, choices=ProductType.choices, db_index=True
    )
    name = models.CharField(_("product name"), max_length=100)
    model = models.CharField(_("model"), max_length=60)
    filing_number = models.CharField(_("filing number"), max_length=40, unique=True)
    filing_date = models.DateField(_("filing date"), db_index=True)
    valid_until = models.DateField(_("valid until"), db_index=True)
    test_report = models.CharField(
        _("test report"), max_length=100, blank=True, help_text=_("Number of the test report (检测报告编号).")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=FilingStatus.choices, default=FilingStatus.VALID, db_index=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    changed_at = models.DateTimeField(_("changed at"))

    objects = FiledProductQuerySet.as_manager()

    JOURNAL_FIELDS = (
        "product_type",
        "name",
        "model",
        "filing_number",
        "test_report",
        "status",
        "status_reason",
    )

    class Meta:
        verbose_name = _("filed product")
        verbose_name_plural = _("filed products")
        ordering = ["-filing_date", "filing_number"]
        permissions = [("revoke_filedproduct", _("Can suspend, revoke or reinstate filed product"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gte=models.F("filing_date")), name="filedproduct_validity_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.model} ({self.filing_number})"

    def is_valid_on(self, on: dt.date | None = None) -> bool:
        on = on or timezone.localdate()
        return (
            self.status == FilingStatus.VALID
            and self.filing_date <= on <= self.valid_until
            and self.manufacturer.status == FilingStatus.VALID
        )

    def journal_payload(self) -> dict:
        payload = {field: getattr(self, field) for field in self.JOURNAL_FIELDS}
        payload.update(
            manufacturer=self.manufacturer.code,
            filing_date=_iso(self.filing_date),
            valid_until=_iso(self.valid_until),
            status_changed_at=_iso(self.status_changed_at),
            registered_at=_iso(self.registered_at),
            changed_at=_iso(self.changed_at),
        )
        return payload


class ActualUse(models.Model):
    """Actual use (实际应用): how many of one filed product are in use at one institution, since when.

    Registered at a city or province and reported upward; the ministry sums what arrives.
    """

    TRANSITIONS = Transitions(
        {ActualUseStatus.IN_USE: [ActualUseStatus.RETIRED], ActualUseStatus.RETIRED: []}
    )
    REGION_SCOPE_FIELD = "region__code"

    # Stable across nodes: the journal key, so the parent's copy is updated, never duplicated.
    uid = models.UUIDField(_("identifier"), default=uuid.uuid4, unique=True, editable=False)
    medical_institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="actual_uses",
    )
    financial_institution = models.ForeignKey(
        "institutions.FinancialInstitution",
        verbose_name=_("financial institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="actual_uses",
    )
    # Denormalised from the institution so scope is a local prefix filter.
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    product = models.ForeignKey(
        FiledProduct, verbose_name=_("filed product"), on_delete=models.PROTECT, related_name="uses"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    since = models.DateField(_("in use since"), db_index=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ActualUseStatus.choices,
        default=ActualUseStatus.IN_USE,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("actual use")
        verbose_name_plural = _("actual uses")
        ordering = ["region_id", "-since"]
        indexes = [models.Index(fields=["region", "status"], name="actualuse_region_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(medical_institution__isnull=False, financial_institution__isnull=True)
                | Q(medical_institution__isnull=True, financial_institution__isnull=False),
                name="actualuse_one_institution",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="actualuse_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.institution} · {self.product.name} {self.product.model} × {self.quantity}"

    @property
    def institution(self):
        return self.medical_institution or self.financial_institution

    @property
    def institution_kind(self) -> str:
        return "medical" if self.medical_institution_id else "financial"

    def journal_payload(self) -> dict:
        return {
            "uid": str(self.uid),
            "institution_kind": self.institution_kind,
            "institution": self.institution.code,
            "region": self.region_id,
            "product": self.product.filing_number,
            "quantity": self.quantity,
            "since": _iso(self.since),
            "note": self.note,
            "status": self.status,
            "status_reason": self.status_reason,
            "status_changed_at": _iso(self.status_changed_at),
            "registered_at": _iso(self.registered_at),
            "changed_at": _iso(self.changed_at),
        }


class CardMakerFiling(CardMaker):
    """Card makers compared with filings: a proxy of the card maker register, so the report is an admin list
    of its own (filter, export, print) in this app, while institutions never imports vendors."""

    class Meta:
        proxy = True
        verbose_name = _("card maker filing check")
        verbose_name_plural = _("card maker filing checks")
