"""SAM applications, plans up the tiers, stock-in/out with logistics, the SAMs themselves and their events."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.lifecycle import Transitions
from sam.choices import (
    PlanLevel,
    SamApplicationStatus,
    SamEventKind,
    SamPlanStatus,
    SamShipmentStatus,
    SamStatus,
    TerminalType,
    UseScenario,
)

A, P, S, SH = SamApplicationStatus, SamPlanStatus, SamStatus, SamShipmentStatus


class SamApplication(models.Model):
    """An institution's request (申领登记), entered through its city centre, for N SAMs for its terminals."""

    TRANSITIONS = Transitions(
        {
            A.SUBMITTED: [A.APPROVED, A.CUT, A.REJECTED],
            A.APPROVED: [A.PLANNED],
            A.CUT: [A.PLANNED],
            A.REJECTED: [],
            A.PLANNED: [],
        }
    )
    REGION_SCOPE_FIELD = "region__code"

    number = models.CharField(_("application number"), max_length=40, unique=True)
    institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        on_delete=models.PROTECT,
        related_name="sam_applications",
    )
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(_("quantity applied for"))
    approved_quantity = models.PositiveIntegerField(_("approved quantity"), null=True, blank=True)
    terminal_type = models.CharField(_("terminal type"), max_length=12, choices=TerminalType.choices)
    scenario = models.CharField(_("use scenario"), max_length=16, choices=UseScenario.choices)
    purpose = models.CharField(_("purpose"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=SamApplicationStatus.choices, default=A.SUBMITTED, db_index=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    plan = models.ForeignKey(
        "sam.SamPlan",
        verbose_name=_("city plan"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    submitted_at = models.DateTimeField(_("submitted at"), db_index=True)
    submitted_by = models.CharField(_("submitted by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("SAM application")
        verbose_name_plural = _("SAM applications")
        ordering = ["-submitted_at"]
        permissions = [("review_samapplication", _("Can review SAM application"))]

    def __str__(self) -> str:
        return self.number

    @property
    def granted(self) -> int:
        return self.quantity if self.approved_quantity is None else self.approved_quantity


class SamPlan(models.Model):
    """A tier's plan (计划): a city's aggregates its institutions' applications, a province's its cities'
    reported plans, the ministry's its provinces' and goes to a card maker for production."""

    TRANSITIONS = Transitions(
        {
            P.DRAFT: [P.REPORTED, P.IN_PRODUCTION],
            P.REPORTED: [P.APPROVED, P.CUT, P.REJECTED],
            P.APPROVED: [],
            P.CUT: [],
            P.REJECTED: [],
            P.IN_PRODUCTION: [P.COMPLETED],
            P.COMPLETED: [],
        }
    )
    REGION_SCOPE_FIELD = "region__code"

    number = models.CharField(_("plan number"), max_length=40, unique=True)
    level = models.CharField(_("level"), max_length=10, choices=PlanLevel.choices, db_index=True)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("aggregated into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    card_maker = models.ForeignKey(
        "institutions.CardMaker",
        verbose_name=_("card maker"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sam_plans",
    )
    quantity = models.PositiveIntegerField(_("quantity requested"))
    approved_quantity = models.PositiveIntegerField(_("approved quantity"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=15, choices=SamPlanStatus.choices, default=P.DRAFT, db_index=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    produced_count = models.PositiveIntegerField(_("SAMs produced"), default=0)
    failed_count = models.PositiveIntegerField(_("SAMs failed"), default=0)
    created_at = models.DateTimeField(_("created at"), db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("SAM plan")
        verbose_name_plural = _("SAM plans")
        ordering = ["-created_at"]
        permissions = [("review_samplan", _("Can review SAM plan"))]

    def __str__(self) -> str:
        return self.number

    @property
    def granted(self) -> int:
        return self.quantity if self.approved_quantity is None else self.approved_quantity

    @property
    def success_rate(self) -> float | None:
        done = self.produced_count + self.failed_count
        return round(self.produced_count * 100 / done, 1) if done else None


class SamStockIn(models.Model):
    REGION_SCOPE_FIELD = "region__code"

    batch_number = models.CharField(_("batch number"), max_length=40, unique=True)
    plan = models.ForeignKey(
        SamPlan,
        verbose_name=_("production plan"),
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
        verbose_name = _("SAM stock-in")
        verbose_name_plural = _("SAM stock-ins")
        ordering = ["-at"]

    def __str__(self) -> str:
        return self.batch_number


class SamStockOut(models.Model):
    """SAMs sent one tier down (ministry -> province -> city) or from the city to the institution using them."""

    REGION_SCOPE_FIELD = "region__code"

    batch_number = models.CharField(_("batch number"), max_length=40, unique=True)
    from_region = models.ForeignKey(
        "registry.Region", verbose_name=_("from region"), on_delete=models.PROTECT, related_name="+"
    )
    region = models.ForeignKey(
        "registry.Region", verbose_name=_("to region"), on_delete=models.PROTECT, related_name="+"
    )
    institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sam_stock_outs",
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    responsible_unit = models.CharField(_("responsible unit"), max_length=100)
    responsible_person = models.CharField(_("responsible person"), max_length=50)
    at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("SAM stock-out")
        verbose_name_plural = _("SAM stock-outs")
        ordering = ["-at"]

    def __str__(self) -> str:
        return self.batch_number

    @property
    def destination(self):
        return self.institution or self.region


class SamShipment(models.Model):
    """The logistics of one stock-out: waybill, courier, delivery status up to signed for."""

    TRANSITIONS = Transitions(
        {
            SH.PREPARING: [SH.SHIPPED],
            SH.SHIPPED: [SH.DELIVERED, SH.RETURNED],
            SH.DELIVERED: [SH.SIGNED, SH.RETURNED],
            SH.SIGNED: [],
            SH.RETURNED: [],
        }
    )
    # Both ends see a shipment: the sender by from_region, the receiver by region (selectors use either).
    REGION_SCOPE_FIELD = "stock_out__region__code"

    stock_out = models.OneToOneField(
        SamStockOut, verbose_name=_("stock-out"), on_delete=models.PROTECT, related_name="shipment"
    )
    waybill = models.CharField(_("waybill number"), max_length=40, blank=True, db_index=True)
    courier = models.CharField(_("courier"), max_length=50, blank=True)
    status = models.CharField(
        _("delivery status"), max_length=12, choices=SamShipmentStatus.choices, default=SH.PREPARING
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    signed_by = models.CharField(_("signed for by"), max_length=50, blank=True)
    signed_at = models.DateTimeField(_("signed for at"), null=True, blank=True)

    class Meta:
        verbose_name = _("SAM shipment")
        verbose_name_plural = _("SAM shipments")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.waybill or str(self.stock_out)


class Sam(models.Model):
    """One physical SAM (PSAM): where it is, which institution uses it, which terminal it sits in."""

    TRANSITIONS = Transitions(
        {
            S.IN_STOCK: [S.ISSUED, S.CANCELLED],
            S.ISSUED: [S.FROZEN, S.CANCELLED],
            S.FROZEN: [S.ISSUED, S.CANCELLED],
            S.CANCELLED: [],
        }
    )
    REGION_SCOPE_FIELD = "region__code"

    serial = models.CharField(_("SAM serial number"), max_length=32, unique=True)
    status = models.CharField(
        _("status"), max_length=12, choices=SamStatus.choices, default=S.IN_STOCK, db_index=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    plan = models.ForeignKey(
        SamPlan, verbose_name=_("production plan"), null=True, blank=True, on_delete=models.PROTECT
    )
    stock_in = models.ForeignKey(
        SamStockIn, verbose_name=_("stock-in"), on_delete=models.PROTECT, related_name="sams"
    )
    stock_out = models.ForeignKey(
        SamStockOut,
        verbose_name=_("last stock-out"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sams",
    )
    institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sams",
    )
    # The terminal it is bound to, by type and number (terminals match their own register by the number).
    terminal_type = models.CharField(
        _("terminal type"), max_length=12, choices=TerminalType.choices, blank=True
    )
    terminal_number = models.CharField(_("terminal number"), max_length=40, blank=True, db_index=True)
    scenario = models.CharField(_("use scenario"), max_length=16, choices=UseScenario.choices, blank=True)
    bound_at = models.DateTimeField(_("bound at"), null=True, blank=True)
    use_count = models.PositiveIntegerField(_("uses"), default=0)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("SAM card")
        verbose_name_plural = _("SAM cards")
        ordering = ["serial"]
        permissions = [("freeze_sam", _("Can freeze, unfreeze and cancel SAM card"))]

    def __str__(self) -> str:
        return self.serial


class SamEvent(models.Model):
    """One line of a SAM's history; the freeze/unfreeze/cancel counts of supervision read these."""

    REGION_SCOPE_FIELD = "region__code"

    sam = models.ForeignKey(Sam, verbose_name=_("SAM card"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=12, choices=SamEventKind.choices, db_index=True)
    at = models.DateTimeField(_("time"), db_index=True)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    scenario = models.CharField(_("use scenario"), max_length=16, choices=UseScenario.choices, blank=True)
    actor_label = models.CharField(_("actor"), max_length=150)
    channel = models.CharField(_("channel"), max_length=10)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("SAM event")
        verbose_name_plural = _("SAM events")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.sam} {self.get_kind_display()}"
