"""Stock-in (入库), stock-out (出库) to an issuing point, and the logistics (物流) of each delivery."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cards.choices import ShipmentStatus
from registry.lifecycle import Transitions


class StockIn(models.Model):
    REGION_SCOPE_FIELD = "region__code"

    batch_number = models.CharField(_("batch number"), max_length=40, unique=True)
    plan = models.ForeignKey(
        "cards.ProductionPlan",
        verbose_name=_("plan"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_ins",
    )
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(_("quantity"))
    responsible_unit = models.CharField(_("responsible unit"), max_length=100)
    responsible_person = models.CharField(_("responsible person"), max_length=50)
    at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("stock-in")
        verbose_name_plural = _("stock-ins")
        ordering = ["-at"]

    def __str__(self) -> str:
        return self.batch_number


class StockOut(models.Model):
    REGION_SCOPE_FIELD = "region__code"

    batch_number = models.CharField(_("batch number"), max_length=40, unique=True)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    medical_institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("issuing medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    financial_institution = models.ForeignKey(
        "institutions.FinancialInstitution",
        verbose_name=_("issuing bank branch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    responsible_unit = models.CharField(_("responsible unit"), max_length=100)
    responsible_person = models.CharField(_("responsible person"), max_length=50)
    at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("stock-out")
        verbose_name_plural = _("stock-outs")
        ordering = ["-at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(medical_institution__isnull=False, financial_institution__isnull=True)
                | Q(medical_institution__isnull=True, financial_institution__isnull=False),
                name="stock_out_one_issuing_point",
            )
        ]

    def __str__(self) -> str:
        return self.batch_number

    @property
    def issuing_point(self):
        return self.medical_institution or self.financial_institution


class Shipment(models.Model):
    TRANSITIONS = Transitions(
        {
            ShipmentStatus.PREPARING: [ShipmentStatus.SHIPPED],
            ShipmentStatus.SHIPPED: [
                ShipmentStatus.IN_TRANSIT,
                ShipmentStatus.DELIVERED,
                ShipmentStatus.RETURNED,
            ],
            ShipmentStatus.IN_TRANSIT: [ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED],
            ShipmentStatus.DELIVERED: [ShipmentStatus.SIGNED, ShipmentStatus.RETURNED],
            ShipmentStatus.SIGNED: [],
            ShipmentStatus.RETURNED: [],
        }
    )
    REGION_SCOPE_FIELD = "stock_out__region__code"

    stock_out = models.OneToOneField(
        StockOut, verbose_name=_("stock-out"), on_delete=models.PROTECT, related_name="shipment"
    )
    waybill = models.CharField(_("waybill number"), max_length=40, blank=True, db_index=True)
    courier = models.CharField(_("courier"), max_length=50, blank=True)
    responsible_person = models.CharField(_("responsible person"), max_length=50, blank=True)
    status = models.CharField(
        _("delivery status"),
        max_length=12,
        choices=ShipmentStatus.choices,
        default=ShipmentStatus.PREPARING,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    signed_by = models.CharField(_("signed for by"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.waybill or str(self.stock_out)
