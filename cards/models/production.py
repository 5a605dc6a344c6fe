"""Production plans (制卡计划) and their items: which approved applications a card maker personalises."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cards.choices import PlanItemStatus, PlanStatus
from registry.lifecycle import Transitions

P = PlanStatus


class ProductionPlan(models.Model):
    TRANSITIONS = Transitions(
        {
            P.DRAFT: [P.SUBMITTED, P.CLOSED],
            P.SUBMITTED: [P.IN_PRODUCTION, P.CLOSED],
            P.IN_PRODUCTION: [P.COMPLETED],
            P.COMPLETED: [P.CLOSED],
            P.CLOSED: [],
        }
    )
    REGION_SCOPE_FIELD = "region__code"

    number = models.CharField(_("plan number"), max_length=40, unique=True)
    card_maker = models.ForeignKey(
        "institutions.CardMaker", verbose_name=_("card maker"), on_delete=models.PROTECT, related_name="plans"
    )
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    status = models.CharField(
        _("status"), max_length=15, choices=PlanStatus.choices, default=P.DRAFT, db_index=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    size_cap = models.PositiveIntegerField(_("size cap"), default=5000)
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
    # Counts kept by the actions, so lists and figures never count items row by row.
    item_count = models.PositiveIntegerField(_("cards planned"), default=0)
    produced_count = models.PositiveIntegerField(_("cards produced"), default=0)
    failed_count = models.PositiveIntegerField(_("cards failed"), default=0)

    class Meta:
        verbose_name = _("production plan")
        verbose_name_plural = _("production plans")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number

    @property
    def success_rate(self) -> float | None:
        done = self.produced_count + self.failed_count
        return round(self.produced_count * 100 / done, 1) if done else None


class PlanItem(models.Model):
    plan = models.ForeignKey(
        ProductionPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="items"
    )
    application = models.ForeignKey(
        "cards.Application",
        verbose_name=_("application"),
        on_delete=models.PROTECT,
        related_name="plan_items",
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PlanItemStatus.choices,
        default=PlanItemStatus.PENDING,
        db_index=True,
    )
    # Indexed: every row of a maker's return file checks that its chip serial is not already used.
    chip_serial = models.CharField(_("chip serial"), max_length=20, blank=True, db_index=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["plan", "application"], name="plan_item_unique")]

    def __str__(self) -> str:
        return f"{self.plan} #{self.pk}"
