"""Scoped reads of card maintenance: loss / replacement / cancellation counts per region and period, death
records, and the people on the blacklist."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDay, TruncMonth
from django.utils import timezone

from cards.choices import CardEventKind
from cards.models import CardEvent, DeathRecord
from registry.scope import scope_queryset

LIFECYCLE_KINDS = (CardEventKind.LOSS_REPORTED, CardEventKind.REPLACED, CardEventKind.CANCELLED)
PERIODS = {"month": (TruncMonth, "%Y-%m"), "day": (TruncDay, "%Y-%m-%d")}


def card_lifecycle_counts(
    *, region_prefix: str, date_from: dt.date, date_to: dt.date, period: str = "month"
) -> list[dict]:
    """Losses, replacements and cancellations per region (the event's region: where the card was issued) per
    period (local months or days, Asia/Shanghai), between two dates inclusive. Rows:
    {"region", "period", "kind", "count"}, ordered by region, period, kind. The caller scopes the prefix."""
    trunc, fmt = PERIODS[period]
    rows = (
        CardEvent.objects.filter(
            kind__in=LIFECYCLE_KINDS,
            region__code__startswith=region_prefix,
            at__date__gte=date_from,
            at__date__lte=date_to,
        )
        .annotate(period=trunc("at", tzinfo=timezone.get_current_timezone()))
        .values("region_id", "period", "kind")
        .annotate(count=Count("id"))
        .order_by("region_id", "period", "kind")
    )
    return [
        {
            "region": row["region_id"],
            "period": timezone.localtime(row["period"]).strftime(fmt)
            if timezone.is_aware(row["period"])
            else row["period"].strftime(fmt),
            "kind": row["kind"],
            "count": row["count"],
        }
        for row in rows
    ]


def death_record_list(*, user) -> QuerySet[DeathRecord]:
    return scope_queryset(DeathRecord.objects.select_related("region", "resident"), user)


def card_refusal(*, card) -> str | None:
    """Why a site must refuse this card now, as a stable code, or None when it may be used: the card's state
    (lost / cancelled / replaced / not yet in the holder's hand), a blacklist entry of the physical card, or
    the holder's person entry (a blacklisted person cannot use a card). For the hospital API's verification."""
    from cards.actions.lists import card_blacklist_entry, person_entry
    from cards.choices import CardStatus

    if card.status != CardStatus.ACTIVE:
        return (
            card.status
            if card.status in (CardStatus.LOST, CardStatus.CANCELLED, CardStatus.REPLACED)
            else "inactive"
        )
    if card_blacklist_entry(card) is not None:
        return "blacklisted"
    if person_entry(card.resident) is not None:
        return "person_blacklisted"
    return None
