"""Figures: scoped, filtered reads of the daily counts (and of the small registers), one registry of them.

Each figure is one entry of FIGURES: a title, its columns, the groupings it offers and a function giving its
rows. Fact-based figures sum DailyCount and its weekly and monthly roll-ups (never the card or event tables). A
later app's figure (card use from its daily aggregate, SAM, lifecycle) is one more `figure_register(...)` call,
made in stats at start-up.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Count, F, Max, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Substr, TruncDate, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.choices import CardEventKind as K
from cards.models import ProductionPlan
from institutions.models import CardMaker, FinancialInstitution, MedicalInstitution
from registry.models import Region
from registry.models.regions import region_prefix
from registry.scope import scope_queryset, user_scope_prefix
from stats.choices import Grouping, TargetMeasure
from stats.filtersets import FigureFilters
from stats.models import (
    AssessmentTarget,
    DailyCount,
    FoldCheckpoint,
    MonthlyCount,
    RegionDailyCount,
    RegionMonthlyCount,
    StatsWindow,
    WeeklyCount,
    WindowCount,
)
from stats.periods import DAY, MONTH, WEEK, next_month, range_split

G = Grouping
Counts = dict[str, int]

# Reports whose rows are institutions or card makers: thousands of rows at a province (13,700 institutions at
# 100 M cards), so the page shows them PAGE_SIZE at a time, ranked by the figure's main column.
PAGED = (G.INSTITUTION, G.CARD_MAKER)
PAGE_SIZE = 100  # as the admin's own lists


# --- The registry -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureColumn:
    key: str
    header: Any
    value: Callable[[Counts], Any]
    width: int = 14


@dataclass
class Figure:
    name: str
    title: Any
    description: Any
    columns: list[FigureColumn]
    groupings: tuple[str, ...]
    rows: Callable[[Any, FigureFilters, Figure], list[dict]]
    measures: tuple[str, ...] = ()
    extra_counts: Callable[..., dict[str, Counts]] | None = None  # counts from outside the fact table (plans)
    fresh: Callable[[], dt.datetime | None] = field(default=lambda: fold_updated_at())
    uses_card_maker: bool = False
    # The main figure of a table by institution or card maker: its column and the measures it sums. Such a table
    # lists its rows largest first (ties by code), on screen a page at a time, in the export all of them.
    main_column: str = ""
    main_measures: tuple[str, ...] = ()
    # The case-level rows behind the figure, where the spec wants them exported: (user, filters) -> Sheet.
    cases: Callable[..., Any] | None = None


FIGURES: dict[str, Figure] = {}


def figure_register(figure: Figure) -> Figure:
    FIGURES[figure.name] = figure
    return figure


def figure_get(name: str) -> Figure:
    return FIGURES[name]


def fold_updated_at() -> dt.datetime | None:
    return FoldCheckpoint.objects.aggregate(at=Max("updated_at"))["at"]


# --- Scope and the fact rows --------------------------------------------------------------------------------


def effective_prefix(user, filters: FigureFilters) -> str | None:
    """The region prefix the figure covers: the chosen region inside the user's scope; None: nothing."""
    scope = user_scope_prefix(user)
    if scope is None:
        return None
    if not filters.region:
        return scope
    chosen = region_prefix(filters.region)
    return chosen if chosen.startswith(scope) else None


def child_length(prefix: str) -> int:
    return min(len(prefix) + 2, 6)


def periods(filters: FigureFilters) -> list[tuple[type, dt.date, dt.date]]:
    """The fact tables and date ranges that together cover the filters' dates exactly once: whole months from
    the monthly rows, whole ISO weeks left at the edges from the weekly rows, the remaining days from the daily
    rows (grouping by day reads daily rows only)."""
    # The tables by region (a row per county and card maker, not per institution) serve unless an institution is
    # in the filters or the grouping: they need no weekly roll-up to stay small.
    by_region = not (filters.institution or filters.by == G.INSTITUTION)
    if by_region:
        tables, grains = {MONTH: RegionMonthlyCount, DAY: RegionDailyCount}, (MONTH,)
    else:
        window = current_window(filters)
        if window is not None:  # the range is a rolling window: a row per institution, not per week and day
            return [(WindowCount, window, window)]
        tables, grains = {MONTH: MonthlyCount, WEEK: WeeklyCount, DAY: DailyCount}, (MONTH, WEEK)
    if filters.by == G.DAY:
        grains = ()
    pieces = range_split(
        filters.date_from, filters.date_to, grains, weeks_within_months=filters.by == G.MONTH
    )
    return [(tables[grain], first, last) for grain, first, last in pieces]


def current_window(filters: FigureFilters) -> dt.date | None:
    """The first day of the rolling window (WindowCount) that is exactly the filters' range, if the fold keeps
    one now (a figure by day or month needs its days apart: never)."""
    if filters.by in (G.DAY, G.MONTH):
        return None
    found = StatsWindow.objects.filter(first_day=filters.date_from, last_day=filters.date_to).values_list(
        "first_day", flat=True
    )
    return found.first()


def fact_rows(user, filters: FigureFilters, model=DailyCount, start=None, end=None) -> QuerySet:
    prefix = effective_prefix(user, filters)
    if prefix is None:
        return model.objects.none()
    queryset = model.objects.filter(day__gte=start or filters.date_from, day__lte=end or filters.date_to)
    if prefix:
        queryset = queryset.filter(region__startswith=prefix)
    if filters.institution:
        queryset = queryset.filter(institution_code=filters.institution)
    if filters.card_maker:
        queryset = queryset.filter(card_maker_code=filters.card_maker)
    return queryset


def _group_expression(
    by: str,
    prefix: str,
    *,
    region="region",
    institution="institution_code",
    card_maker="card_maker_code",
    day="day",
):
    """The SQL expression a grouping groups by, on the fact table (or, named, on another table)."""
    if by == G.REGION:
        return Substr(region, 1, child_length(prefix))
    if by == G.INSTITUTION:
        return F(institution)
    if by == G.CARD_MAKER:
        return F(card_maker)
    if by == G.MONTH:
        return TruncMonth(day)
    return F(day) if day == "day" else TruncDate(day)


# A measure asked of fact_counts: one measure, or (name, measures) for one column summing several (the scorecard's
# card uses over every scenario).
Measure = str | tuple[str, tuple[str, ...]]


def _measure_name(measure: Measure) -> str:
    return measure if isinstance(measure, str) else measure[0]


def _pieces(
    user, filters: FigureFilters, measures: list[Measure], prefix: str
) -> tuple[list[QuerySet], list[str]]:
    """The grouped rows of each piece of the range (months, weeks, edge days), a sum column per measure."""
    # One row per group with a sum per measure (not one per group and measure): a figure by institution has
    # thousands of groups, and the rows, not the sums, are what cost.
    sums = {
        f"m{i}": Sum(
            "count", filter=Q(measure=measure) if isinstance(measure, str) else Q(measure__in=measure[1])
        )
        for i, measure in enumerate(measures)
    }
    read = [m for measure in measures for m in ((measure,) if isinstance(measure, str) else measure[1])]
    pieces = [
        fact_rows(user, filters, model, start, end)
        .filter(measure__in=read)
        .annotate(g=_group_expression(filters.by, prefix))
        .values("g")
        .order_by()
        .annotate(**sums)
        .values_list("g", *sums)
        for model, start, end in periods(filters)
    ]
    return pieces, list(sums)


def fact_counts(user, filters: FigureFilters, measures: Iterable[Measure]) -> dict[Any, Counts]:
    """Counts per group key and measure: {key: {measure: n}} (a (name, measures) pair counts under its name)."""
    prefix = effective_prefix(user, filters)
    if prefix is None:
        return {}
    measures = list(measures)
    pieces, sums = _pieces(user, filters, measures, prefix)
    out: dict[Any, Counts] = defaultdict(dict)
    if not pieces or not measures:  # an empty range (from after to), or nothing asked
        return out
    names = [_measure_name(measure) for measure in measures]
    by_region = filters.by == G.REGION
    for key, *values in _summed(pieces, sums):
        if by_region:
            key = key.ljust(6, "0")
        elif isinstance(key, dt.datetime):  # a month, from the summed pieces (no ORM conversion to a date)
            key = key.date()
        counts = out[key]
        for name, n in zip(names, values, strict=True):
            if n is not None:
                counts[name] = counts.get(name, 0) + n
    return out


@dataclass
class CountsPage:
    """One page of a figure's groups, ranked, with what the whole result adds up to."""

    counts: dict[Any, Counts]  # the page's groups, ranked
    total: Counts  # over every group, not only the page's
    groups: int  # how many groups in all
    number: int  # the page shown (a page past the end shows the last)


def fact_page(
    user, filters: FigureFilters, measures: Iterable[str], main_measures: Iterable[str]
) -> CountsPage:
    """One page (filters.page) of the counts by institution or card maker, ranked by the sum of main_measures,
    largest first, ties by code, with the totals of every group and their number: PostgreSQL sums, ranks, counts
    and cuts the page in one statement (window sums over the grouped rows, before the LIMIT), so Python handles
    PAGE_SIZE rows however many institutions the province has."""
    prefix = effective_prefix(user, filters)
    if prefix is None:
        return CountsPage({}, {}, 0, 1)
    measures = list(measures)
    pieces, sums = _pieces(user, filters, measures, prefix)
    if not pieces:  # an empty range (from after to)
        return CountsPage({}, {}, 0, 1)
    compiled = [piece.query.sql_with_params() for piece in pieces]
    params = [param for _sql, piece_params in compiled for param in piece_params]
    # Every name below is one of our own annotations (m0, m1, ...), not input; the page is a parameter.
    summed = ", ".join(f"SUM({name})::bigint" for name in sums)
    totals = ", ".join(f"SUM(SUM({name})) OVER ()::bigint" for name in sums)
    main = " + ".join(f"COALESCE(SUM({sums[measures.index(m)]}), 0)" for m in main_measures)
    union = " UNION ALL ".join(f"({sql})" for sql, _params in compiled)
    statement = (
        f"SELECT g, {summed}, COUNT(*) OVER (), {totals} FROM ({union}) AS pieces GROUP BY g "  # noqa: S608
        f'ORDER BY {main} DESC, g COLLATE "C" LIMIT %s OFFSET %s'  # "C": the order of Python's str sort
    )

    def read(number: int) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(statement, [*params, PAGE_SIZE, (number - 1) * PAGE_SIZE])
            return cursor.fetchall()

    number = max(filters.page, 1)
    rows = read(number)
    if not rows and number > 1:  # past the end (the data shrank, or a hand-made link): show the last page
        first = read(1)
        number = max(1, -(-first[0][len(sums) + 1] // PAGE_SIZE)) if first else 1
        rows = first if number == 1 else read(number)
    width = len(sums)
    counts = {
        key: {m: n for m, n in zip(measures, values[:width], strict=True) if n is not None}
        for key, *values in rows
    }
    if not rows:
        return CountsPage({}, {}, 0, number)
    grand = rows[0][width + 2 :]
    total = {m: n for m, n in zip(measures, grand, strict=True) if n is not None}
    return CountsPage(counts, total, rows[0][width + 1], number)


def _summed(pieces: list[QuerySet], sums: list[str]) -> Iterable[tuple]:
    """The grouped rows of the pieces of a range (its months, weeks and edge days), one row per group: a group
    is in most pieces, and PostgreSQL adds them up in one statement cheaper than Python handles each piece's
    rows (thousands of institutions a piece). Elsewhere the pieces' rows as they are (the caller adds up)."""
    if connection.vendor != "postgresql":
        return itertools.chain.from_iterable(pieces)
    compiled = [piece.query.sql_with_params() for piece in pieces]
    if len(compiled) == 1:  # one piece (a rolling window, or days): its rows as they are, without the ORM's
        # per-row conversions (a province's institutions are thousands of rows); the sums cast as the ORM's
        # converters would (PostgreSQL's SUM of a bigint is a numeric: a Decimal, which JSON writes as a string)
        sql, params = compiled[0]
        columns = ", ".join(f"{name}::bigint" for name in sums)  # names of our own annotations, not input
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT g, {columns} FROM ({sql}) AS piece", params)  # noqa: S608
            return cursor.fetchall()
    totals = ", ".join(f"SUM({name})::bigint" for name in sums)  # names of our own annotations, not input
    union = " UNION ALL ".join(f"({sql})" for sql, _params in compiled)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT g, {totals} FROM ({union}) AS pieces GROUP BY g",  # noqa: S608  (ORM-compiled pieces)
            [param for _sql, params in compiled for param in params],
        )
        return cursor.fetchall()


def labels(by: str, keys: Iterable[Any]) -> dict[Any, str]:
    keys = [k for k in keys if k not in (None, "")]
    if by == G.REGION:
        return dict(Region.objects.filter(code__in=keys).values_list("code", "name"))
    if by == G.INSTITUTION:
        names = dict(_code_in(MedicalInstitution.objects.all(), keys).values_list("code", "name"))
        names.update(_code_in(FinancialInstitution.objects.all(), keys).values_list("code", "name"))
        return names
    if by == G.CARD_MAKER:
        return dict(CardMaker.objects.filter(code__in=keys).values_list("code", "name"))
    return {k: (k.strftime("%Y-%m") if by == G.MONTH else k.isoformat()) for k in keys}


def _code_in(queryset: QuerySet, codes: list[str]) -> QuerySet:
    """queryset.filter(code__in=codes), with the codes as one array parameter on PostgreSQL: a figure by
    institution names thousands, and binding thousands of placeholders cost more than the query."""
    if connection.vendor != "postgresql":
        return queryset.filter(code__in=codes)
    table = queryset.model._meta.db_table  # the model's own table name, not input; the codes are a parameter
    return queryset.alias(
        listed=RawSQL(  # noqa: S611
            f"{table}.code = ANY(%s)", (codes,), output_field=BooleanField()
        )
    ).filter(listed=True)


def _sum(counts: Counts, *measures: str) -> int:
    return sum(counts.get(m, 0) for m in measures)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator * 100 / denominator, 1) if denominator else None


def ranked(figure: Figure, by: str) -> bool:
    """Whether the figure's table is ranked by its main column (and paged on screen): rows of institutions or
    card makers of a figure that has a main column."""
    return by in PAGED and bool(figure.main_measures)


def _total(counts: Iterable[Counts]) -> Counts:
    total: Counts = defaultdict(int)
    for row_counts in counts:
        for measure, n in row_counts.items():
            if not isinstance(n, dt.datetime):  # a time (the last sync) has no total
                total[measure] += n
    return total


def table(
    figure: Figure, counts: dict[Any, Counts], by: str, *, page: int = 0, whole: CountsPage | None = None
) -> list[dict]:
    """Rows with each column computed from their counts, and a total row last. Sorted by key, or (a ranked
    table) by the main column, largest first, ties by key; page n (n > 0) of a ranked table keeps that page's
    PAGE_SIZE rows, and its total row still covers every group and says how many (`groups`) and which page
    (`page`). `whole`: counts hold one page already, ranked by PostgreSQL, with the totals of all."""
    if ranked(figure, by):
        main = figure.main_measures
        if len(main) == 1:  # the usual case, and thousands of institutions: one dict look-up per key
            (measure,) = main
            keys = sorted(counts, key=lambda k: (-counts[k].get(measure, 0), k is None, str(k)))
        else:
            keys = sorted(counts, key=lambda k: (-_sum(counts[k], *main), k is None, str(k)))
    else:
        keys = sorted(counts, key=lambda k: (k is None, str(k)))
    paged = page > 0 and ranked(figure, by)
    if whole is None:
        total, groups = _total(counts.values()), len(counts)
        if paged:  # every group counted here: cut the page (labels and columns are built for it alone)
            page = min(page, max(1, -(-groups // PAGE_SIZE)))
            keys = keys[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    else:
        total, groups, page = whole.total, whole.groups, whole.number
    names = labels(by, keys)
    rows = []
    for key in keys:
        row_counts = counts[key]
        label = names.get(key) or (str(key) if key not in (None, "") else str(_("(none)")))
        rows.append({"key": key, "label": label, **{c.key: c.value(row_counts) for c in figure.columns}})
    total_row = {
        "key": "",
        "label": str(_("Total")),
        "total": True,
        **{c.key: c.value(total) for c in figure.columns},
    }
    if paged:
        total_row.update(groups=groups, page=page)
    return [*rows, total_row]


def fact_figure_rows(user, filters: FigureFilters, figure: Figure) -> list[dict]:
    if (
        filters.page
        and ranked(figure, filters.by)
        and figure.extra_counts is None
        and connection.vendor == "postgresql"
    ):
        # A page of one source's counts: ranked and cut by PostgreSQL.
        whole = fact_page(user, filters, figure.measures, figure.main_measures)
        return table(figure, whole.counts, filters.by, page=whole.number, whole=whole)
    counts = fact_counts(user, filters, figure.measures)
    if figure.extra_counts is not None:
        for key, extra in figure.extra_counts(user, filters).items():
            counts.setdefault(key, {}).update(extra)
    return table(figure, counts, filters.by, page=filters.page)


def figure_rows(*, user, name: str, filters: FigureFilters) -> list[dict]:
    """The rows of one figure as the person may see them (the last row is the total); filters.page > 0: that
    page of a ranked table (its total row still covers every row)."""
    figure = figure_get(name)
    if filters.by not in figure.groupings:
        filters = FigureFilters(**{**filters.__dict__, "by": figure.groupings[0]})
    return figure.rows(user, filters, figure)


# --- Production (§4.2.5.1) ---------------------------------------------------------------------------------


def plan_counts(user, filters: FigureFilters) -> dict[Any, Counts]:
    """Production plans created in the period, grouped like the figure (plans are few: counted directly)."""
    prefix = effective_prefix(user, filters)
    if prefix is None or filters.by == G.INSTITUTION:
        return {}
    plans = scope_queryset(ProductionPlan.objects.all(), user).filter(
        created_at__date__gte=filters.date_from, created_at__date__lte=filters.date_to
    )
    if prefix:
        plans = plans.filter(region__code__startswith=prefix)
    if filters.card_maker:
        plans = plans.filter(card_maker__code=filters.card_maker)
    expression = _group_expression(
        filters.by, prefix, region="region_id", card_maker="card_maker__code", day="created_at"
    )
    out: dict[Any, Counts] = {}
    for row in plans.annotate(g=expression).values("g").order_by().annotate(n=Count("id")):
        key = row["g"].ljust(6, "0") if filters.by == G.REGION else row["g"]
        if filters.by == G.MONTH and isinstance(key, dt.datetime):
            key = key.date()
        out[key] = {"plans": row["n"]}
    return out


figure_register(
    Figure(
        name="production",
        title=_("Production"),
        description=_(
            "Applications, production plans, cards produced and failed, success rate and progress."
        ),
        measures=(K.APPLIED, K.PLANNED, K.PRODUCED, K.PRODUCTION_FAILED),
        columns=[
            FigureColumn("applications", _("applications"), lambda c: _sum(c, K.APPLIED)),
            FigureColumn("plans", _("production plans"), lambda c: _sum(c, "plans")),
            FigureColumn("planned", _("cards planned"), lambda c: _sum(c, K.PLANNED)),
            FigureColumn("produced", _("cards produced"), lambda c: _sum(c, K.PRODUCED)),
            FigureColumn("failed", _("cards failed"), lambda c: _sum(c, K.PRODUCTION_FAILED)),
            FigureColumn(
                "success_rate",
                _("success rate (%)"),
                lambda c: _rate(_sum(c, K.PRODUCED), _sum(c, K.PRODUCED, K.PRODUCTION_FAILED)),
            ),
            FigureColumn(
                "progress",
                _("progress against plan (%)"),
                lambda c: _rate(_sum(c, K.PRODUCED, K.PRODUCTION_FAILED), _sum(c, K.PLANNED)),
            ),
        ],
        groupings=(G.CARD_MAKER, G.REGION, G.DAY, G.MONTH),
        rows=fact_figure_rows,
        extra_counts=plan_counts,
        uses_card_maker=True,
        main_column="produced",
        main_measures=(K.PRODUCED,),
    )
)


# --- Issuance (§4.2.5.2) -----------------------------------------------------------------------------------

ISSUED = (K.DELIVERED, K.ALLOCATED)  # cards that reached a service point (or were allocated on site)

figure_register(
    Figure(
        name="issuance",
        title=_("Issuance"),
        description=_(
            "Applications received, cards issued to service points, collected by holders, not yet collected."
        ),
        measures=(K.APPLIED, *ISSUED, K.COLLECTED),
        columns=[
            FigureColumn("received", _("applications received"), lambda c: _sum(c, K.APPLIED)),
            FigureColumn("issued", _("cards issued to service points"), lambda c: _sum(c, *ISSUED)),
            FigureColumn("collected", _("cards collected"), lambda c: _sum(c, K.COLLECTED)),
            FigureColumn(
                "not_collected",
                _("not yet collected"),
                lambda c: max(_sum(c, *ISSUED) - _sum(c, K.COLLECTED), 0),
            ),
            FigureColumn(
                "collection_rate",
                _("collection rate (%)"),
                lambda c: _rate(_sum(c, K.COLLECTED), _sum(c, *ISSUED)),
            ),
        ],
        groupings=(G.REGION, G.INSTITUTION, G.DAY, G.MONTH),
        rows=fact_figure_rows,
        main_column="issued",
        main_measures=ISSUED,
    )
)


# --- Institutions and vendors (§4.5) -----------------------------------------------------------------------


def institution_rows(user, filters: FigureFilters, figure: Figure) -> list[dict]:
    """Registers counted directly (thousands of rows, not millions), by region one level down or by the
    medical institutions' category (card makers and banks have none: they count under their region only)."""
    from institutions.choices import InstitutionCategory
    from vendors.choices import ActualUseStatus
    from vendors.models import ActualUse

    prefix = effective_prefix(user, filters)
    if prefix is None:
        return table(figure, {}, filters.by)
    in_use = ActualUse.objects.filter(status=ActualUseStatus.IN_USE)
    if filters.by == G.CATEGORY:
        group, sources = F("category"), [("medical", MedicalInstitution.objects.all(), Count("id"))]
        use_group = F("medical_institution__category")
    else:
        group = use_group = Substr("region_id", 1, child_length(prefix))
        sources = [
            ("medical", MedicalInstitution.objects.all(), Count("id")),
            ("card_makers", CardMaker.objects.all(), Count("id")),
            ("banks", FinancialInstitution.objects.all(), Count("id")),
        ]
    sources += [
        ("actual_use", in_use, Count("id")),
        ("devices", in_use, Sum("quantity")),
        ("products", in_use, Count("product", distinct=True)),
    ]
    counts: dict[Any, Counts] = defaultdict(dict)
    for measure, queryset, aggregate in sources:
        queryset = scope_queryset(queryset, user).filter(region__code__startswith=prefix)
        expression = use_group if queryset.model is ActualUse else group
        for row in queryset.annotate(g=expression).values("g").order_by().annotate(n=aggregate):
            key = row["g"] or ""
            if filters.by == G.REGION:
                key = key.ljust(6, "0")
            counts[key][measure] = row["n"] or 0
    # A product used in two regions is one product in the total (the rows count it once each).
    distinct = scope_queryset(in_use, user).filter(region__code__startswith=prefix)
    products = distinct.aggregate(n=Count("product", distinct=True))["n"] or 0
    if filters.by == G.CATEGORY:
        names = dict(InstitutionCategory.choices)
        rows = table(figure, counts, G.INSTITUTION)
        for row in rows:
            if not row.get("total"):
                row["label"] = str(names.get(row["key"], _("(none)")))
    else:
        rows = table(figure, counts, G.REGION)
    rows[-1]["products"] = products
    return rows


figure_register(
    Figure(
        name="institutions",
        title=_("Institutions and vendors"),
        description=_(
            "Registered institutions by region, products in actual use (filed products) and devices."
        ),
        columns=[
            FigureColumn("medical", _("medical institutions"), lambda c: _sum(c, "medical")),
            FigureColumn("card_makers", _("card makers"), lambda c: _sum(c, "card_makers")),
            FigureColumn("banks", _("bank branches"), lambda c: _sum(c, "banks")),
            FigureColumn("actual_use", _("actual-use registrations"), lambda c: _sum(c, "actual_use")),
            FigureColumn("devices", _("devices in use"), lambda c: _sum(c, "devices")),
            FigureColumn("products", _("filed products in use"), lambda c: _sum(c, "products")),
        ],
        groupings=(G.REGION, G.CATEGORY),
        rows=institution_rows,
        fresh=lambda: None,  # read live from the registers
    )
)


# --- Assessment scorecard (§4.2.5.4) -----------------------------------------------------------------------


def scorecard_rows(user, filters: FigureFilters, figure: Figure) -> list[dict]:
    """Per subordinate centre (region one level down) or per institution, against the year's targets."""
    from stats.sources import USE_MEASURES, USES, sam_accounting

    # Issuance and uses in one read of the fact tables, the uses of every scenario summed by PostgreSQL into one
    # column (a province's institutions are thousands of groups).
    counts = fact_counts(user, filters, (K.APPLIED, *ISSUED, K.COLLECTED, (USES, tuple(USE_MEASURES))))
    for key, values in sam_accounting(user, filters).items():
        counts.setdefault(key, {}).update(values)
    targets = assessment_targets(user, year=filters.date_to.year, by=filters.by, keys=counts.keys())
    for key, values in targets.items():
        counts.setdefault(key, {}).update(values)
    if filters.by == G.REGION:
        for key, at in last_applied_syncs(user, filters).items():
            counts.setdefault(key, {})["last_sync"] = at
    return table(figure, counts, filters.by, page=filters.page)


def last_applied_syncs(user, filters: FigureFilters) -> dict[str, dt.datetime]:
    """When a bundle from each child node (a subordinate centre) was last applied here, by its region code."""
    from exchange.choices import BundleStatus, Direction
    from exchange.models import InboundBundle

    prefix = effective_prefix(user, filters)
    if prefix is None:
        return {}
    return dict(
        InboundBundle.objects.filter(
            status=BundleStatus.APPLIED, direction=Direction.UP, sender__startswith=prefix
        )
        .exclude(sender=prefix.ljust(6, "0"))
        .values("sender")
        .order_by()
        .annotate(at=Max("applied_at"))
        .values_list("sender", "at")
    )


def child_syncs(user, filters: FigureFilters) -> list[dict]:
    """How fresh the synced figures are: each child node whose bundles are applied here, with the time its
    last one was (last_applied_syncs, as the scorecard shows it), the stalest first: it bounds the figures."""
    syncs = last_applied_syncs(user, filters)
    names = dict(Region.objects.filter(code__in=list(syncs)).values_list("code", "name"))
    return [
        {"node": code, "name": names.get(code, code), "applied_at": at}
        for code, at in sorted(syncs.items(), key=lambda item: item[1])
    ]


def sync_timeliness(counts: Counts) -> str | None:
    """The time the child's last sync was applied here; None ("-") when no sync came from it directly (an
    institution, or a region whose data comes through a node in between)."""
    at = counts.get("last_sync")
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else None


def assessment_targets(user, *, year: int, by: str, keys) -> dict[Any, dict]:
    queryset = scope_queryset(AssessmentTarget.objects.filter(year=year), user)
    if by == G.REGION:
        queryset = queryset.filter(institution_code="", region_id__in=list(keys))
        key_of = "region_id"
    else:
        queryset = queryset.exclude(institution_code="")
        key_of = "institution_code"
    out: dict[Any, dict] = defaultdict(dict)
    for row in queryset.values(key_of, "measure", "value"):
        out[row[key_of]][f"target_{row['measure']}"] = row["value"]
    return out


def _target(counts: Counts, measure: str):
    value = counts.get(f"target_{measure}")
    return float(value) if value is not None else None


def _of_target(counts: Counts) -> float | None:
    target = _target(counts, TargetMeasure.CARDS_ISSUED)
    return round(_sum(counts, K.COLLECTED) * 100 / target, 1) if target else None


figure_register(
    Figure(
        name="assessment",
        title=_("Assessment scorecard"),
        description=_(
            "Cards issued against the year's target, applications, collection rate against its target, card "
            "uses, SAM accounting and sync timeliness, per subordinate centre or institution. Targets are set "
            "under Assessment targets."
        ),
        columns=[
            FigureColumn("applications", _("applications received"), lambda c: _sum(c, K.APPLIED)),
            FigureColumn("issued", _("cards issued (collected)"), lambda c: _sum(c, K.COLLECTED)),
            FigureColumn(
                "target_issued", _("target: cards issued"), lambda c: _target(c, TargetMeasure.CARDS_ISSUED)
            ),
            FigureColumn("of_target", _("of target (%)"), _of_target),
            FigureColumn(
                "collection_rate",
                _("collection rate (%)"),
                lambda c: _rate(_sum(c, K.COLLECTED), _sum(c, *ISSUED)),
            ),
            FigureColumn(
                "target_collection_rate",
                _("target: collection rate (%)"),
                lambda c: _target(c, TargetMeasure.COLLECTION_RATE),
            ),
            FigureColumn("uses", _("card uses"), lambda c: _sum(c, "uses")),
            FigureColumn("sam_issued", _("SAMs issued"), lambda c: _sum(c, "sam_issued")),
            FigureColumn("sam_signed", _("SAMs signed for"), lambda c: _sum(c, "sam_signed")),
            FigureColumn("sam_in_use", _("SAMs in use"), lambda c: _sum(c, "sam_in_use")),
            FigureColumn("last_sync", _("last applied sync"), sync_timeliness, width=20),
        ],
        groupings=(G.REGION, G.INSTITUTION),
        rows=scorecard_rows,
        main_column="issued",
        main_measures=(K.COLLECTED,),
    )
)


# --- Dashboard ---------------------------------------------------------------------------------------------

# Trend series: (measure, label, counts). Later sources add theirs (card use, losses) with trend_register; a
# series not folded into the daily counts brings its own counts(user, filters) -> {day or month: n}.
TRENDS: list[tuple[str, Any, Callable | None]] = [
    (K.APPLIED, _("applications"), None),
    (K.COLLECTED, _("cards collected"), None),
]


def trend_register(measure: str, label, counts: Callable | None = None) -> None:
    TRENDS.append((measure, label, counts))


def dashboard_headline(
    *, user, filters: FigureFilters, issuance: dict | None = None
) -> tuple[list[dict], Any]:
    """The scope's headline numbers for the period, and how fresh they are (`issuance`: its total row, when
    the caller has it already)."""
    fresh = fold_updated_at()
    issuance = issuance or figure_rows(user=user, name="issuance", filters=filters)[-1]
    production = figure_rows(user=user, name="production", filters=by_total(filters))[-1]
    return [
        {"key": "received", "label": str(_("applications received")), "value": issuance["received"]},
        {"key": "produced", "label": str(_("cards produced")), "value": production["produced"]},
        {"key": "issued", "label": str(_("cards issued to service points")), "value": issuance["issued"]},
        {"key": "collected", "label": str(_("cards collected")), "value": issuance["collected"]},
        {"key": "not_collected", "label": str(_("not yet collected")), "value": issuance["not_collected"]},
    ], fresh


def by_total(filters: FigureFilters) -> FigureFilters:
    """Filters whose grouping gives few groups and reads the small tables (only the total is wanted)."""
    return FigureFilters(**{**filters.__dict__, "by": G.MONTH})


TREND_DAILY_UP_TO = 92  # longer periods trend by month


def dashboard_trend(*, user, filters: FigureFilters) -> dict:
    days = (filters.date_to - filters.date_from).days + 1
    if days <= TREND_DAILY_UP_TO:
        axis = [filters.date_from + dt.timedelta(days=i) for i in range(days)]
        grouping, label = G.DAY, dt.date.isoformat
    else:
        axis, month = [], filters.date_from.replace(day=1)
        while month <= filters.date_to:
            axis.append(month)
            month = next_month(month)
        grouping, label = G.MONTH, lambda d: d.strftime("%Y-%m")
    grouped = FigureFilters(**{**filters.__dict__, "by": grouping})
    counts = fact_counts(user, grouped, [m for m, _l, source in TRENDS if source is None])
    series = []
    for measure, name, source in TRENDS:
        values = source(user, grouped) if source else {d: c.get(measure, 0) for d, c in counts.items()}
        series.append({"measure": measure, "name": str(name), "data": [values.get(d, 0) for d in axis]})
    return {"days": [label(d) for d in axis], "series": series}


def dashboard_drill(*, user, filters: FigureFilters) -> dict:
    """One level of the region drill-down: the children of the chosen region with their issuance figures."""
    prefix = effective_prefix(user, filters)
    scope = user_scope_prefix(user)
    if prefix is None:
        return {"region": filters.region, "children": [], "breadcrumb": [], "leaf": True}
    rows = figure_rows(
        user=user, name="issuance", filters=FigureFilters(**{**filters.__dict__, "by": G.REGION})
    )
    # The breadcrumb: every level from the user's scope down to the chosen region.
    codes = []
    for length in (2, 4, 6):
        if len(scope) <= length <= len(prefix):
            codes.append(prefix[:length].ljust(6, "0"))
    if not scope:
        codes.insert(0, "100000")
    names = dict(Region.objects.filter(code__in=codes).values_list("code", "name"))
    return {
        "region": prefix.ljust(6, "0") if prefix else "100000",
        "leaf": len(prefix) >= 6,
        "breadcrumb": [{"code": c, "name": names.get(c, c)} for c in codes],
        "children": [r for r in rows if not r.get("total")],
        "total": rows[-1],
    }


def target_list(*, user) -> QuerySet[AssessmentTarget]:
    return scope_queryset(AssessmentTarget.objects.select_related("region"), user)


# The sources registered after the first figures (lifecycle, card use, SAM): imported last, they use the above.
from stats import sources  # noqa: E402, F401
