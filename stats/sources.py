"""Figures of the sources that landed after the first figures: card lifecycle (Cards II), card use (the daily
use aggregates) and SAM supervision (§4.3.5), each one more `figure_register`, plus their dashboard trends and
the case-level rows behind the figures that the spec wants exported.

Lifecycle counts are folded daily counts like every case-history figure; uses too, folded from the daily use
aggregates (`cards.CardUseDaily`, never the raw use records) as measures "use:<scenario>"; SAM figures are the
sam app's supervision selectors, seen through the figure's region filter.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from cards.choices import CancellationReason
from cards.choices import CardEventKind as K
from cards.models.uses import CardUseScenario
from registry.choices import NATION_CODE
from stats.actions import reason_measure, use_measure
from stats.choices import Grouping
from stats.filtersets import FigureFilters
from stats.selectors import (
    FIGURES,
    Counts,
    Figure,
    FigureColumn,
    _group_expression,
    _rate,
    _sum,
    effective_prefix,
    fact_counts,
    fact_figure_rows,
    figure_register,
    table,
    trend_register,
)

G = Grouping


# --- Lifecycle: losses, unlosses, replacements, cancellations by reason -------------------------------------


def _cancelled_by(reason: str):
    measure = reason_measure(K.CANCELLED, reason)
    return lambda counts: _sum(counts, measure)


CANCELLATION_MEASURES = tuple(reason_measure(K.CANCELLED, reason) for reason in CancellationReason.values)

figure_register(
    Figure(
        name="lifecycle",
        title=_("Card lifecycle"),
        description=_(
            "Losses reported and revoked, replacements and cancellations by reason (including death), by "
            "region and period."
        ),
        measures=(
            K.LOSS_REPORTED,
            K.LOSS_REVOKED,
            K.REPLACED,
            K.CANCELLED,
            K.RESTORED,
            *CANCELLATION_MEASURES,
        ),
        columns=[
            FigureColumn("losses", _("losses reported"), lambda c: _sum(c, K.LOSS_REPORTED)),
            FigureColumn("unlosses", _("loss reports revoked"), lambda c: _sum(c, K.LOSS_REVOKED)),
            FigureColumn("replacements", _("cards replaced"), lambda c: _sum(c, K.REPLACED)),
            FigureColumn("cancellations", _("cards cancelled"), lambda c: _sum(c, K.CANCELLED)),
            *[
                FigureColumn(
                    f"cancelled_{reason.value}",
                    _("cancelled: %(reason)s") % {"reason": reason.label},
                    _cancelled_by(reason.value),
                )
                for reason in CancellationReason
            ],
            FigureColumn("restored", _("cancellations corrected"), lambda c: _sum(c, K.RESTORED)),
        ],
        groupings=(G.REGION, G.MONTH, G.DAY, G.INSTITUTION),
        rows=fact_figure_rows,
        main_column="losses",
        main_measures=(K.LOSS_REPORTED,),
    )
)
trend_register(K.LOSS_REPORTED, _("losses reported"))


# --- Card use (§4.2.5.3) -------------------------------------------------------------------------------------

USES = "uses"


USE_MEASURES = {use_measure(scenario): scenario for scenario in CardUseScenario.values}


def use_counts(user, filters: FigureFilters) -> dict[Any, Counts]:
    """Uses per group and scenario, folded from the daily use aggregates into the fact tables (with their
    roll-ups and rolling windows, as every other figure), in the user's scope: {key: {scenario: n, USES: n}}."""
    out: dict[Any, Counts] = {}
    for key, counts in fact_counts(user, filters, USE_MEASURES).items():
        row = {USE_MEASURES[measure]: n for measure, n in counts.items() if n}
        if row:
            row[USES] = sum(row.values())
            out[key] = row
    return out


def use_rows(user, filters: FigureFilters, figure: Figure) -> list[dict]:
    return table(figure, use_counts(user, filters), filters.by, page=filters.page)


figure_register(
    Figure(
        name="uses",
        title=_("Card use"),
        description=_(
            "Card uses reported by medical institutions, by time, institution and region, per use scenario "
            "(including rural co-operative settlement). The case rows give the use frequency per card."
        ),
        columns=[
            FigureColumn(USES, _("uses"), lambda c: _sum(c, USES)),
            *[
                FigureColumn(scenario.value, scenario.label, lambda c, s=scenario.value: _sum(c, s))
                for scenario in CardUseScenario
            ],
        ],
        groupings=(G.REGION, G.INSTITUTION, G.DAY, G.MONTH),
        rows=use_rows,
        main_column=USES,
        main_measures=(USES,),
    )
)


def use_trend(user, filters: FigureFilters) -> dict[Any, int]:
    return {key: counts.get(USES, 0) for key, counts in use_counts(user, filters).items()}


trend_register(USES, _("card uses"), counts=use_trend)


# --- SAM supervision (§4.3.5) --------------------------------------------------------------------------------


class _Narrowed:
    """The user as the SAM selectors see them, narrowed to the figure's region: they scope by the user."""

    is_authenticated = True
    is_active = True

    def __init__(self, user, prefix: str):
        self.is_superuser = user.is_superuser
        self.scope_region_id = prefix.ljust(6, "0")


def sam_user(user, filters: FigureFilters):
    """The user to hand to a SAM selector, or None when the filters fall outside the user's scope."""
    prefix = effective_prefix(user, filters)
    if prefix is None:
        return None
    return _Narrowed(user, prefix) if prefix else user


def sam_table(figure: Figure, rows: list[dict], label) -> list[dict]:
    """The selector's rows with a label and a total row (sums of the counts; rates recomputed from them)."""
    out = [{**row, "key": label(row), "label": label(row)} for row in rows]
    total: dict[str, Any] = {"key": "", "label": str(_("Total")), "total": True}
    for column in figure.columns:
        values = [row.get(column.key) for row in rows]
        total[column.key] = sum(v for v in values if isinstance(v, int))
    if "progress" in total:
        total["progress"] = _rate(total["produced"], total["planned"])
        total["success_rate"] = _rate(total["produced"], total["produced"] + total["failed"])
    return [*out, total]


def _institution_name(filters: FigureFilters) -> str | None:
    from institutions.models import MedicalInstitution

    if not filters.institution:
        return None
    return (
        MedicalInstitution.objects.filter(code=filters.institution).values_list("name", flat=True).first()
        or ""
    )


def sam_application_rows(user, filters: FigureFilters, figure: Figure) -> list[dict]:
    from sam.selectors import supervision_applications

    seen_as = sam_user(user, filters)
    rows = (
        []
        if seen_as is None
        else supervision_applications(user=seen_as, date_from=filters.date_from, date_to=filters.date_to)
    )
    return sam_table(figure, rows, lambda r: f"{r['day']} {r['region']}")


def sam_production_rows(user, filters: FigureFilters, figure: Figure) -> list[dict]:
    from sam.selectors import supervision_production

    seen_as = sam_user(user, filters)
    rows = (
        []
        if seen_as is None
        else supervision_production(user=seen_as, date_from=filters.date_from, date_to=filters.date_to)
    )
    return sam_table(figure, rows, lambda r: f"{r['day']} {r['card_maker']}")


SAM_ISSUANCE_BY = {G.DAY: "date", G.REGION: "region", G.INSTITUTION: "institution"}


def sam_issuance_rows(user, filters: FigureFilters, figure: Figure) -> list[dict]:
    from sam.selectors import supervision_issuance

    seen_as = sam_user(user, filters)
    by = SAM_ISSUANCE_BY.get(filters.by, "date")
    rows = (
        []
        if seen_as is None
        else supervision_issuance(user=seen_as, by=by, date_from=filters.date_from, date_to=filters.date_to)
    )
    name = _institution_name(filters)
    if name is not None and by == "institution":
        rows = [r for r in rows if r["group"] == name]
    return sam_table(figure, rows, lambda r: str(r["group"]))


def sam_maintenance_rows(user, filters: FigureFilters, figure: Figure) -> list[dict]:
    from sam.selectors import supervision_maintenance

    seen_as = sam_user(user, filters)
    rows = (
        []
        if seen_as is None
        else supervision_maintenance(user=seen_as, date_from=filters.date_from, date_to=filters.date_to)
    )
    name = _institution_name(filters)
    if name is not None:
        rows = [r for r in rows if r["institution"] == name]
    return sam_table(figure, rows, lambda r: f"{r['institution']} · {r['scenario']}")


def _columns(*pairs) -> list[FigureColumn]:
    return [FigureColumn(key, header, lambda c, k=key: c.get(k)) for key, header in pairs]


figure_register(
    Figure(
        name="sam_applications",
        title=_("SAM applications"),
        description=_("SAM applications by date and region: SAMs asked for, granted, rejected, pending."),
        columns=_columns(
            ("applications", _("applications")),
            ("applied", _("SAMs applied for")),
            ("granted", _("SAMs granted")),
            ("rejected", _("applications rejected")),
            ("pending", _("applications pending")),
        ),
        groupings=(G.DAY,),
        rows=sam_application_rows,
        fresh=lambda: None,
    )
)
figure_register(
    Figure(
        name="sam_production",
        title=_("SAM production"),
        description=_("The ministry's SAM production plans by date and card maker."),
        columns=_columns(
            ("plans", _("production plans")),
            ("completed", _("plans completed")),
            ("planned", _("SAMs planned")),
            ("produced", _("SAMs produced")),
            ("failed", _("SAMs failed")),
            ("progress", _("progress against plan (%)")),
            ("success_rate", _("success rate (%)")),
        ),
        groupings=(G.DAY,),
        rows=sam_production_rows,
        fresh=lambda: None,
    )
)
figure_register(
    Figure(
        name="sam_issuance",
        title=_("SAM issuance"),
        description=_("SAMs sent out, signed for and not yet signed for, by date, region or institution."),
        columns=_columns(
            ("batches", _("stock-out batches")),
            ("issued", _("SAMs issued")),
            ("signed", _("SAMs signed for")),
            ("not_signed", _("SAMs not yet signed for")),
        ),
        groupings=(G.DAY, G.REGION, G.INSTITUTION),
        rows=sam_issuance_rows,
        fresh=lambda: None,
    )
)
figure_register(
    Figure(
        name="sam_maintenance",
        title=_("SAM maintenance and use"),
        description=_(
            "SAMs frozen, unfrozen and cancelled, and their uses, by institution and use scenario."
        ),
        columns=_columns(
            ("sams", _("SAMs")),
            ("frozen", _("frozen")),
            ("unfrozen", _("unfrozen")),
            ("cancelled", _("cancelled")),
            ("uses", _("uses")),
        ),
        groupings=(G.INSTITUTION,),
        rows=sam_maintenance_rows,
        fresh=lambda: None,
    )
)


# --- SAM accounting of the assessment scorecard ------------------------------------------------------------


def sam_accounting(user, filters: FigureFilters) -> dict[Any, Counts]:
    """Per scorecard group (region one level down, or institution): SAMs issued to it and signed for in the
    period (stock-outs from the centre to the child, or to the institution), and SAMs in use there now."""
    from sam.choices import SamShipmentStatus, SamStatus
    from sam.selectors import sam_list, sam_stock_out_list

    prefix = effective_prefix(user, filters)
    if prefix is None or filters.by not in (G.REGION, G.INSTITUTION):
        return {}
    expression = _group_expression(filters.by, prefix, region="region_id", institution="institution__code")
    stock_outs = sam_stock_out_list(user=user).filter(
        region__code__startswith=prefix, at__date__gte=filters.date_from, at__date__lte=filters.date_to
    )
    in_use = sam_list(user=user).filter(region__code__startswith=prefix, status=SamStatus.ISSUED)
    if filters.by == G.REGION:  # what this centre sent down to each subordinate centre
        stock_outs = stock_outs.filter(from_region_id=prefix.ljust(6, "0") if prefix else NATION_CODE)
    else:  # what reached each institution
        stock_outs = stock_outs.filter(institution__isnull=False)
    if filters.institution:
        stock_outs = stock_outs.filter(institution__code=filters.institution)
        in_use = in_use.filter(institution__code=filters.institution)
    out: dict[Any, Counts] = defaultdict(dict)

    def key_of(value):
        return (value or "").ljust(6, "0") if filters.by == G.REGION else value or ""

    for row in (
        stock_outs.annotate(g=expression)
        .values("g")
        .order_by()
        .annotate(
            issued=Sum("quantity"),
            signed=Sum("quantity", filter=Q(shipment__status=SamShipmentStatus.SIGNED)),
        )
    ):
        out[key_of(row["g"])].update(sam_issued=row["issued"] or 0, sam_signed=row["signed"] or 0)
    for row in in_use.annotate(g=expression).values("g").order_by().annotate(n=Count("id")):
        out[key_of(row["g"])]["sam_in_use"] = row["n"]
    return out


# --- Case-level rows (the spec's "case exports") -------------------------------------------------------------


def lifecycle_cases(user, filters: FigureFilters):
    """The case-history events behind the lifecycle counts: (title, columns, rows)."""
    from cards.admin.maintenance import EVENT_COLUMNS
    from cards.models import CardEvent
    from registry.scope import scope_queryset

    prefix = effective_prefix(user, filters)
    events = scope_queryset(CardEvent.objects.select_related("card", "application"), user)
    if prefix is None:
        events = events.none()
    events = events.filter(
        kind__in=(K.LOSS_REPORTED, K.LOSS_REVOKED, K.REPLACED, K.CANCELLED, K.RESTORED),
        region__code__startswith=prefix or "",
        at__date__gte=filters.date_from,
        at__date__lte=filters.date_to,
    ).order_by("at", "id")
    if filters.institution:
        events = events.filter(institution_code=filters.institution)
    return _("Card lifecycle: the events"), EVENT_COLUMNS, events


def not_collected_cases(user, filters: FigureFilters):
    """The cards behind "not yet collected": waiting at a service point now, in the chosen area."""
    from cards.admin.cards import CARD_COLUMNS
    from cards.filtersets.cards import Collection
    from cards.selectors.cards import card_list

    prefix = effective_prefix(user, filters)
    cards = card_list(user=user, filters={"collection": Collection.UNCOLLECTED})
    if prefix is None:
        cards = cards.none()
    cards = cards.filter(region__code__startswith=prefix or "").order_by("id")
    if filters.institution:
        cards = cards.filter(
            Q(medical_institution__code=filters.institution)
            | Q(financial_institution__code=filters.institution)
        )
    return _("Cards not yet collected"), CARD_COLUMNS, cards


def use_frequency_cases(user, filters: FigureFilters):
    """Use frequency per card: each card used in the period and area, how often, first and last use. Case rows
    (one per card), so they are read from the scoped use records; the figure itself reads only the aggregates."""
    from django.db.models import Max, Min

    from cards.models.uses import CardUseStatus
    from cards.selectors.uses import card_use_list
    from registry.exports import Column
    from registry.protection import mask_id_number

    prefix = effective_prefix(user, filters)
    uses = card_use_list(
        user=user,
        filters={
            "status": CardUseStatus.ACCEPTED,
            "date_from": filters.date_from,
            "date_to": filters.date_to,
        },
    )
    if prefix is None:
        uses = uses.none()
    uses = uses.filter(region__code__startswith=prefix or "", card__isnull=False)
    if filters.institution:
        uses = uses.filter(institution__code=filters.institution)
    per_card = list(
        uses.values("card_id")
        .order_by()
        .annotate(n=Count("id"), first=Min("used_at"), last=Max("used_at"))
        .order_by("-n", "card_id")
    )
    from cards.models import Card

    cards = Card.objects.in_bulk([row["card_id"] for row in per_card])
    rows = [{**row, "card": cards[row["card_id"]]} for row in per_card]
    columns = [
        Column(_("card number"), lambda r: mask_id_number(r["card"].card_no), 22),
        Column(_("chip serial"), lambda r: r["card"].chip_serial, 18),
        Column(_("uses"), lambda r: r["n"], 10),
        Column(_("first use"), lambda r: r["first"], 20),
        Column(_("last use"), lambda r: r["last"], 20),
    ]
    return _("Use frequency per card"), columns, rows


FIGURES["lifecycle"].cases = lifecycle_cases
FIGURES["uses"].cases = use_frequency_cases
FIGURES["issuance"].cases = not_collected_cases
