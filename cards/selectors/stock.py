"""Scoped reads of the cards app: stock-ins, stock-outs, shipments, and the cards in stock."""

from __future__ import annotations

from django.db.models import QuerySet

from cards.choices import CardStatus
from cards.filtersets.stock import ShipmentFilterSet, StockInFilterSet, StockOutFilterSet
from cards.models import Card, Shipment, StockIn, StockOut
from registry.scope import scope_queryset


def stock_in_list(*, user, filters: dict | None = None) -> QuerySet[StockIn]:
    queryset = scope_queryset(StockIn.objects.select_related("plan", "region"), user)
    return StockInFilterSet(filters or {}, queryset=queryset).qs


def stock_out_list(*, user, filters: dict | None = None) -> QuerySet[StockOut]:
    queryset = scope_queryset(
        StockOut.objects.select_related("region", "medical_institution", "financial_institution", "shipment"),
        user,
    )
    return StockOutFilterSet(filters or {}, queryset=queryset).qs


def shipment_list(*, user, filters: dict | None = None) -> QuerySet[Shipment]:
    queryset = scope_queryset(
        Shipment.objects.select_related(
            "stock_out",
            "stock_out__region",
            "stock_out__medical_institution",
            "stock_out__financial_institution",
        ),
        user,
    )
    return ShipmentFilterSet(filters or {}, queryset=queryset).qs


def cards_in_stock(*, user) -> QuerySet[Card]:
    return scope_queryset(Card.objects.filter(status=CardStatus.IN_STOCK), user)
