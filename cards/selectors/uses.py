"""Scoped reads of card use: the records, the daily aggregates (what statistics read), use frequency per card."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Min, QuerySet, Sum

from cards.filtersets.uses import CardUseDailyFilterSet, CardUseFilterSet, _day_start
from cards.models import Card, CardUse, CardUseDaily
from cards.models.uses import CardUseStatus
from registry.models.regions import region_prefix
from registry.scope import scope_queryset


def card_use_list(*, user, filters: dict | None = None) -> QuerySet[CardUse]:
    queryset = scope_queryset(CardUse.objects.select_related("institution", "region", "card", "batch"), user)
    return CardUseFilterSet(filters or {}, queryset=queryset).qs


def card_use_daily_list(*, user, filters: dict | None = None) -> QuerySet[CardUseDaily]:
    queryset = scope_queryset(CardUseDaily.objects.select_related("institution", "region"), user)
    return CardUseDailyFilterSet(filters or {}, queryset=queryset).qs


def card_use_counts(
    *,
    region_prefix_code: str,
    date_from: dt.date,
    date_to: dt.date,
    by: tuple[str, ...] = ("region", "scenario"),
) -> list[dict]:
    """Uses per (region, scenario), or any grouping of region / institution / scenario / day, from the daily
    aggregates only (for the statistics; never the raw records)."""
    columns = list(by)  # region: its code; institution: its id
    return list(
        CardUseDaily.objects.filter(
            region__code__startswith=region_prefix(region_prefix_code), day__gte=date_from, day__lte=date_to
        )
        .values(*columns)
        .annotate(count=Sum("count"))
        .order_by(*columns)
    )


def card_use_frequency(
    *, card: Card, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict:
    """How often one card was used: total, per scenario, first and last use (accepted records only)."""
    queryset = CardUse.objects.filter(card=card, status=CardUseStatus.ACCEPTED)
    if date_from:
        queryset = queryset.filter(used_at__gte=_day_start(date_from))
    if date_to:
        queryset = queryset.filter(used_at__lt=_day_start(date_to + dt.timedelta(days=1)))
    by_scenario = dict(
        queryset.order_by().values_list("scenario").annotate(n=Count("id")).values_list("scenario", "n")
    )
    span = queryset.aggregate(first=Min("used_at"), last=Max("used_at"))
    return {"total": sum(by_scenario.values()), "by_scenario": by_scenario, **span}
