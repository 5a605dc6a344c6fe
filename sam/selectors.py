"""Scoped reads of the sam app: lists at every tier, the institution page's SAM panel, and the supervision
figures of §4.3.5 (each a list of plain rows, so the report page, its export and stats read the same)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from institutions.selectors import EQUIPMENT_SOURCES
from registry.scope import scope_queryset
from sam.choices import PlanLevel, SamEventKind, SamPlanStatus, SamShipmentStatus, SamStatus, UseScenario
from sam.filtersets import (
    SamApplicationFilterSet,
    SamFilterSet,
    SamPlanFilterSet,
    SamShipmentFilterSet,
    SamStockInFilterSet,
    SamStockOutFilterSet,
)
from sam.models import Sam, SamApplication, SamEvent, SamPlan, SamShipment, SamStockIn, SamStockOut


def sam_application_list(*, user, filters: dict | None = None) -> QuerySet[SamApplication]:
    queryset = scope_queryset(SamApplication.objects.select_related("institution", "region", "plan"), user)
    return SamApplicationFilterSet(filters or {}, queryset=queryset).qs


def sam_plan_list(*, user, filters: dict | None = None) -> QuerySet[SamPlan]:
    """A tier's own plans and those reported to it from below (its region and everything under it)."""
    queryset = scope_queryset(SamPlan.objects.select_related("region", "parent", "card_maker"), user)
    return SamPlanFilterSet(filters or {}, queryset=queryset).qs


def sam_list(*, user, filters: dict | None = None) -> QuerySet[Sam]:
    queryset = scope_queryset(Sam.objects.select_related("region", "institution"), user)
    return SamFilterSet(filters or {}, queryset=queryset).qs


def sam_stock_in_list(*, user, filters: dict | None = None) -> QuerySet[SamStockIn]:
    queryset = scope_queryset(SamStockIn.objects.select_related("region", "plan"), user)
    return SamStockInFilterSet(filters or {}, queryset=queryset).qs


def sam_stock_out_list(*, user, filters: dict | None = None) -> QuerySet[SamStockOut]:
    queryset = scope_queryset(
        SamStockOut.objects.select_related("region", "from_region", "institution", "shipment"), user
    )
    return SamStockOutFilterSet(filters or {}, queryset=queryset).qs


def sam_shipment_list(*, user, filters: dict | None = None) -> QuerySet[SamShipment]:
    queryset = scope_queryset(SamShipment.objects.select_related("stock_out", "stock_out__institution"), user)
    return SamShipmentFilterSet(filters or {}, queryset=queryset).qs


def sam_history(*, sam: Sam) -> QuerySet[SamEvent]:
    return sam.events.select_related("institution").order_by("at", "id")


def institution_sams(institution) -> dict:
    """The SAM panel of an institution's page (institutions' EQUIPMENT_SOURCES hook)."""
    sams = Sam.objects.filter(institution=institution).exclude(status=SamStatus.CANCELLED)
    rows = list(
        sams.order_by("serial").values("serial", "status", "terminal_type", "terminal_number", "scenario")[
            :50
        ]
    )
    return {"count": sams.count(), "rows": rows}


EQUIPMENT_SOURCES["sam_cards"] = institution_sams


# --- supervision (§4.3.5) ----------------------------------------------------------------------------------


def _between(queryset: QuerySet, field: str, date_from=None, date_to=None) -> QuerySet:
    if date_from:
        queryset = queryset.filter(**{f"{field}__date__gte": date_from})
    if date_to:
        queryset = queryset.filter(**{f"{field}__date__lte": date_to})
    return queryset


def _rate(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def supervision_applications(*, user, date_from=None, date_to=None) -> list[dict]:
    """Applications by date and region: how many, SAMs asked for, granted, rejected."""
    queryset = _between(
        scope_queryset(SamApplication.objects.all(), user), "submitted_at", date_from, date_to
    )
    rows = (
        queryset.annotate(day=TruncDate("submitted_at"))
        .values("day", "region_id", "region__full_name")
        .annotate(
            applications=Count("id"),
            applied=Sum("quantity"),
            granted=Sum("approved_quantity"),
            rejected=Count("id", filter=Q(status="rejected")),
            pending=Count("id", filter=Q(status="submitted")),
        )
        .order_by("day", "region_id")
    )
    return [
        {
            "day": row["day"],
            "region": row["region__full_name"],
            "applications": row["applications"],
            "applied": row["applied"] or 0,
            "granted": row["granted"] or 0,
            "rejected": row["rejected"],
            "pending": row["pending"],
        }
        for row in rows
    ]


def supervision_production(*, user, date_from=None, date_to=None) -> list[dict]:
    """The ministry's production plans by date and card maker: planned, produced, failed, progress, success."""
    queryset = _between(
        scope_queryset(SamPlan.objects.filter(level=PlanLevel.MINISTRY), user),
        "created_at",
        date_from,
        date_to,
    ).exclude(status=SamPlanStatus.DRAFT)
    rows = (
        queryset.annotate(day=TruncDate("created_at"))
        .values("day", "card_maker__name")
        .annotate(
            plans=Count("id"),
            planned=Sum("quantity"),
            produced=Sum("produced_count"),
            failed=Sum("failed_count"),
            completed=Count("id", filter=Q(status=SamPlanStatus.COMPLETED)),
        )
        .order_by("day", "card_maker__name")
    )
    return [
        {
            "day": row["day"],
            "card_maker": row["card_maker__name"],
            "plans": row["plans"],
            "completed": row["completed"],
            "planned": row["planned"] or 0,
            "produced": row["produced"] or 0,
            "failed": row["failed"] or 0,
            "progress": _rate(row["produced"] or 0, row["planned"] or 0),
            "success_rate": _rate(row["produced"] or 0, (row["produced"] or 0) + (row["failed"] or 0)),
        }
        for row in rows
    ]


ISSUANCE_GROUPS = {
    "date": ("day", None),
    "region": ("region_id", "region__full_name"),
    "institution": ("institution__code", "institution__name"),
}


def supervision_issuance(*, user, by: str = "date", date_from=None, date_to=None) -> list[dict]:
    """SAMs sent out (issued), signed for and not yet signed for, by date, region or institution."""
    key, label = ISSUANCE_GROUPS[by]
    queryset = _between(scope_queryset(SamStockOut.objects.all(), user), "at", date_from, date_to)
    if by == "date":
        queryset = queryset.annotate(day=TruncDate("at"))
    if by == "institution":
        queryset = queryset.filter(institution__isnull=False)
    signed = Q(shipment__status=SamShipmentStatus.SIGNED)
    rows = (
        queryset.values(*[f for f in (key, label) if f])
        .annotate(
            batches=Count("id"),
            issued=Sum("quantity"),
            signed=Sum("quantity", filter=signed),
        )
        .order_by(key)
    )
    return [
        {
            "group": row[label] if label else row[key],
            "batches": row["batches"],
            "issued": row["issued"] or 0,
            "signed": row["signed"] or 0,
            "not_signed": (row["issued"] or 0) - (row["signed"] or 0),
        }
        for row in rows
    ]


def supervision_maintenance(*, user, date_from=None, date_to=None) -> list[dict]:
    """Freeze, unfreeze and cancel counts and use frequency, by institution and use scenario."""
    events = _between(scope_queryset(SamEvent.objects.all(), user), "at", date_from, date_to)
    counted = {
        (row["institution__name"], row["scenario"]): row
        for row in events.filter(
            kind__in=[SamEventKind.FROZEN, SamEventKind.UNFROZEN, SamEventKind.CANCELLED],
            institution__isnull=False,
        )
        .values("institution__name", "scenario")
        .annotate(
            frozen=Count("id", filter=Q(kind=SamEventKind.FROZEN)),
            unfrozen=Count("id", filter=Q(kind=SamEventKind.UNFROZEN)),
            cancelled=Count("id", filter=Q(kind=SamEventKind.CANCELLED)),
        )
    }
    used = {
        (row["institution__name"], row["scenario"]): row
        for row in scope_queryset(Sam.objects.filter(institution__isnull=False), user)
        .values("institution__name", "scenario")
        .annotate(sams=Count("id"), uses=Sum("use_count"))
    }
    labels = dict(UseScenario.choices)
    rows = []
    for key in sorted(set(counted) | set(used), key=lambda k: (k[0] or "", k[1] or "")):
        events_row, use_row = counted.get(key, {}), used.get(key, {})
        rows.append(
            {
                "institution": key[0],
                "scenario": str(labels.get(key[1], key[1] or "-")),
                "sams": use_row.get("sams", 0),
                "frozen": events_row.get("frozen", 0),
                "unfrozen": events_row.get("unfrozen", 0),
                "cancelled": events_row.get("cancelled", 0),
                "uses": use_row.get("uses") or 0,
            }
        )
    return rows
