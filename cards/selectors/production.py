"""Scoped reads of the cards app: production plans, their items, a card maker's production figures."""

from __future__ import annotations

from django.db.models import Q, QuerySet, Sum

from cards.choices import PlanStatus
from cards.filtersets.production import PlanItemFilterSet, ProductionPlanFilterSet
from cards.models import Card, PlanItem, ProductionPlan
from institutions.selectors import PRODUCTION_SOURCE
from registry.scope import scope_queryset


def plan_list(*, user, filters: dict | None = None) -> QuerySet[ProductionPlan]:
    queryset = scope_queryset(ProductionPlan.objects.select_related("card_maker", "region"), user)
    return ProductionPlanFilterSet(filters or {}, queryset=queryset).qs


def plan_get(*, user, pk) -> ProductionPlan | None:
    return plan_list(user=user).filter(pk=pk).first()


def plan_item_list(*, user, filters: dict | None = None) -> QuerySet[PlanItem]:
    queryset = scope_queryset(
        PlanItem.objects.select_related("plan", "application", "application__resident"),
        user,
        field="plan__region__code",
    )
    return PlanItemFilterSet(filters or {}, queryset=queryset).qs


def plan_reconciliation(plan: ProductionPlan) -> dict:
    """The plan against its stock-ins: planned, produced, failed, pending, stocked in, success rate."""
    stocked = Card.objects.filter(plan_item__plan=plan).count()
    pending = plan.item_count - plan.produced_count - plan.failed_count
    return {
        "planned": plan.item_count,
        "produced": plan.produced_count,
        "failed": plan.failed_count,
        "pending": pending,
        "stocked_in": stocked,
        "awaiting_stock_in": plan.produced_count - stocked,
        "success_rate": plan.success_rate,
    }


def card_maker_figures(maker) -> dict:
    """A card maker's production figures for its admin page (institutions' PRODUCTION_SOURCE hook): cards
    planned in plans that reached the maker, produced and failed."""
    totals = ProductionPlan.objects.filter(card_maker=maker).aggregate(
        planned=Sum(
            "item_count",
            filter=Q(status__in=[PlanStatus.SUBMITTED, PlanStatus.IN_PRODUCTION, PlanStatus.COMPLETED])
            | Q(status=PlanStatus.CLOSED, produced_count__gt=0)
            | Q(status=PlanStatus.CLOSED, failed_count__gt=0),
        ),
        produced=Sum("produced_count"),
        failed=Sum("failed_count"),
    )
    return {key: totals[key] or 0 for key in ("planned", "produced", "failed")}


PRODUCTION_SOURCE["figures"] = card_maker_figures
