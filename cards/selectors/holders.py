"""Scoped reads of the cards app: holders, their case history, classified statistics (分类统计) and the sheets
the comparison (比对) and the statistics export and print through."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Case, CharField, Count, F, QuerySet, Value, When
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cards.choices import Ethnicity, Sex
from cards.filtersets.holders import HolderFilterSet
from cards.models import CardEvent, Resident
from registry.exports import Column, Sheet
from registry.models import Region
from registry.models.regions import region_prefix
from registry.scope import scope_queryset, user_scope_prefix

# (key, label, youngest age, oldest age or None)
AGE_BANDS = (
    ("0-6", _("0–6"), 0, 6),
    ("7-17", _("7–17"), 7, 17),
    ("18-44", _("18–44"), 18, 44),
    ("45-59", _("45–59"), 45, 59),
    ("60-79", _("60–79"), 60, 79),
    ("80+", _("80 and over"), 80, None),
)
DIMENSIONS = {
    "region": _("region"),
    "sex": _("sex"),
    "age": _("age band"),
    "ethnicity": _("ethnicity"),
}
NEXT_LEVEL = {0: 2, 2: 4, 4: 6, 6: 6}  # prefix length -> the length of the next level's prefix


def holder_list(*, user, filters: dict | None = None) -> QuerySet[Resident]:
    queryset = scope_queryset(Resident.objects.select_related("region"), user)
    return HolderFilterSet(filters or {}, queryset=queryset).qs


def holder_get(*, user, pk: int) -> Resident | None:
    return scope_queryset(Resident.objects.select_related("region"), user).filter(pk=pk).first()


def holder_history(*, resident: Resident) -> QuerySet[CardEvent]:
    """The case history (个案) of a holder: every event of their applications and cards, oldest first."""
    return (
        CardEvent.objects.filter(resident=resident).select_related("card", "application").order_by("at", "id")
    )


# --- Classified statistics -----------------------------------------------------------------------------------


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier (28 February for a 29 February that year lacks)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_band_expression(as_of: dt.date) -> Case:
    """Each holder's age band on `as_of`: someone is n or older when born on or before as_of minus n years."""
    whens = [
        When(birth_date__gt=years_before(as_of, oldest + 1), then=Value(key))
        for key, _label, _youngest, oldest in AGE_BANDS
        if oldest is not None
    ]
    return Case(*whens, default=Value(AGE_BANDS[-1][0]), output_field=CharField())


@dataclass
class StatisticsRow:
    key: str
    label: str
    total: int = 0
    by_sex: dict[str, int] = field(default_factory=dict)
    by_band: dict[str, int] = field(default_factory=dict)
    drill: str | None = None  # the region code to drill down into, for region rows above county level

    @property
    def male(self) -> int:
        return self.by_sex.get(Sex.MALE, 0)

    @property
    def female(self) -> int:
        return self.by_sex.get(Sex.FEMALE, 0)

    @property
    def other_sex(self) -> int:
        return self.total - self.male - self.female

    def band(self, key: str) -> int:
        return self.by_band.get(key, 0)


@dataclass
class Statistics:
    by: str
    region: Region | None
    as_of: dt.date
    rows: list[StatisticsRow]
    total: StatisticsRow

    @property
    def all_rows(self) -> list[StatisticsRow]:
        return [*self.rows, self.total]


def statistics_root(user) -> str | None:
    """The region a person's statistics start from (their scope), as a code."""
    from django.conf import settings

    prefix = user_scope_prefix(user)
    if prefix is None:
        return None
    if user.scope_region_id and region_prefix(user.scope_region_id) == prefix:
        return user.scope_region_id
    return settings.HC_REGION if region_prefix(settings.HC_REGION) == prefix else None


def holder_statistics(
    *, user, by: str = "region", region: str | None = None, as_of: dt.date | None = None, filters=None
) -> Statistics:
    """分类统计: holders in the person's scope (and under `region`), counted by region (the next level down),
    sex, age band or ethnicity; every row also split by sex and by age band. Ages are on `as_of` (today)."""
    if by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}")
    as_of = as_of or timezone.localdate()
    region = region or statistics_root(user)
    queryset = scope_queryset(Resident.objects.all(), user)
    region_obj = Region.objects.filter(code=region).first() if region else None
    if region:
        queryset = queryset.filter(region__code__startswith=region_prefix(region))
    if filters:
        queryset = HolderFilterSet(filters, queryset=queryset).qs
    queryset = queryset.annotate(band=age_band_expression(as_of))
    if by == "region":
        length = NEXT_LEVEL[len(region_prefix(region or ""))]
        queryset = queryset.annotate(group=Substr("region_id", 1, length))
    else:
        queryset = queryset.annotate(group=F("band" if by == "age" else by))
    counts = queryset.order_by().values_list("group", "sex", "band").annotate(n=Count("id"))

    rows: dict[str, StatisticsRow] = {}
    total = StatisticsRow(key="", label=gettext("Total"))
    for group, sex, band, n in counts:
        key = group.ljust(6, "0") if by == "region" else group
        row = rows.get(key)
        if row is None:
            row = rows[key] = StatisticsRow(key=key, label=key)
        for target in (row, total):
            target.total += n
            target.by_sex[sex] = target.by_sex.get(sex, 0) + n
            target.by_band[band] = target.by_band.get(band, 0) + n
    _label_rows(by, rows)
    ordered = sorted(rows.values(), key=_order_key(by))
    return Statistics(by=by, region=region_obj, as_of=as_of, rows=ordered, total=total)


def _label_rows(by: str, rows: dict[str, StatisticsRow]) -> None:
    if by == "region":
        names = dict(Region.objects.filter(code__in=list(rows)).values_list("code", "name"))
        levels = dict(Region.objects.filter(code__in=list(rows)).values_list("code", "level"))
        for key, row in rows.items():
            row.label = names.get(key, key)
            row.drill = key if levels.get(key) not in (None, "county") else None
    elif by == "sex":
        for key, row in rows.items():
            row.label = str(Sex(key).label) if key in Sex.values else key
    elif by == "ethnicity":
        for key, row in rows.items():
            row.label = str(Ethnicity(key).label) if key in Ethnicity.values else key
    else:
        labels = {key: str(label) for key, label, *_ages in AGE_BANDS}
        for key, row in rows.items():
            row.label = labels.get(key, key)


def _order_key(by: str):
    if by == "age":
        order = {key: position for position, (key, *_rest) in enumerate(AGE_BANDS)}
        return lambda row: order.get(row.key, len(order))
    return lambda row: row.key


def statistics_columns(by: str) -> list[Column]:
    columns = [
        Column(DIMENSIONS[by], "label", 22),
        Column(_("code"), "key", 10),
        Column(_("holders"), "total", 10),
        Column(Sex.MALE.label, "male", 9),
        Column(Sex.FEMALE.label, "female", 9),
        Column(_("sex not stated"), "other_sex", 9),
    ]
    if by != "age":
        columns += [Column(label, _band_getter(key), 9) for key, label, *_ages in AGE_BANDS]
    return columns


def _band_getter(key: str):
    return lambda row: row.band(key)


def statistics_sheet(statistics: Statistics, *, generated_by: str) -> Sheet:
    """The statistics as an export Sheet (registry.exports writes XLSX and prints PDF)."""
    filters = [
        (gettext("classified by"), str(DIMENSIONS[statistics.by])),
        (
            gettext("region"),
            statistics.region.full_name if statistics.region else gettext("all in your scope"),
        ),
        (gettext("ages on"), statistics.as_of.isoformat()),
    ]
    return Sheet(
        title=gettext("Holders: classified statistics"),
        columns=statistics_columns(statistics.by),
        rows=statistics.all_rows,
        filters=filters,
        generated_by=generated_by,
        total=len(statistics.rows),
    )


# --- The comparison's report -------------------------------------------------------------------------------


def comparison_sheet(report, *, generated_by: str) -> Sheet:
    """The mismatch rows of a comparison (masked), with its figures stated where the filters usually are."""
    from cards.actions.holders import MismatchReason

    filters = [
        (gettext("reference file"), report.filename or "-"),
        (gettext("rows"), str(report.total)),
        (gettext("full matches"), f"{report.matched} ({report.match_rate}%)"),
        *((str(MismatchReason.LABELS[reason]), str(count)) for reason, count in report.by_reason.items()),
    ]
    if report.mismatches_total > len(report.mismatches):
        filters.append(
            (
                gettext("shown"),
                gettext("the first %(shown)s of %(total)s mismatches")
                % {"shown": len(report.mismatches), "total": report.mismatches_total},
            )
        )
    return Sheet(
        title=gettext("Comparison with the population reference file"),
        columns=[
            Column(_("row"), "row", 7),
            Column(_("mismatch"), "reason_text", 24),
            Column(_("ID number"), "document", 22),
            Column(_("name in the reference"), "reference_name", 12),
            Column(_("name registered here"), "registered_name", 12),
            Column(_("sex in the reference"), "reference_sex", 9),
            Column(_("sex registered here"), "registered_sex", 9),
            Column(_("ethnicity in the reference"), "reference_ethnicity", 10),
            Column(_("ethnicity registered here"), "registered_ethnicity", 10),
        ],
        rows=report.mismatches,
        filters=filters,
        generated_by=generated_by,
        total=report.mismatches_total,
    )
