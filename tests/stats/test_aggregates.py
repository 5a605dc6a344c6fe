"""Daily counts are folded from the case history: they equal direct counts over the underlying rows, and so do
their weekly and monthly roll-ups, the by-region forms, the rolling windows and a figure read from them over a
range with ragged edges or over a window."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cards.choices import CardEventKind, PlanItemStatus
from cards.models import Application, Card, CardEvent, PlanItem
from stats.actions import stats_fold, stats_rebuild
from stats.choices import Grouping
from stats.filtersets import FigureFilters
from stats.models import (
    DailyCount,
    FoldCheckpoint,
    MonthlyCount,
    RegionDailyCount,
    RegionMonthlyCount,
    StatsWindow,
    WeeklyCount,
    WindowCount,
)
from stats.periods import ROLLING_WINDOWS, month_start, week_start
from stats.selectors import fact_counts as figure_counts
from stats.selectors import periods

from .conftest import COUNTIES


def event_counts() -> Counter:
    """The direct count: case-history rows by day, county, institution and kind."""
    return Counter(
        (timezone.localtime(e.at).date(), e.region_id, e.institution_code, e.kind)
        for e in CardEvent.objects.all()
    )


def fact_counts() -> Counter:
    out = Counter()
    for row in DailyCount.objects.values("day", "region", "institution_code", "measure").annotate(
        n=Sum("count")
    ):
        out[(row["day"], row["region"], row["institution_code"], row["measure"])] += row["n"]
    return +out


def maker_produced_facts() -> Counter:
    rows = (
        DailyCount.objects.filter(measure=CardEventKind.PRODUCED)
        .values("card_maker_code")
        .annotate(n=Sum("count"))
    )
    return +Counter({r["card_maker_code"]: r["n"] for r in rows})


def maker_produced_direct() -> Counter:
    return Counter(
        PlanItem.objects.filter(status=PlanItemStatus.PRODUCED).values_list(
            "plan__card_maker__code", flat=True
        )
    )


def period_counts(model, period_start=month_start) -> Counter:
    """A fact table's counts per period (the day replaced by its month's or week's first day) and key."""
    out = Counter()
    for row in model.objects.values(
        "day", "region", "institution_code", "card_maker_code", "measure", "count"
    ):
        out[
            (
                period_start(row["day"]),
                *[row[k] for k in ("region", "institution_code", "card_maker_code", "measure")],
            )
        ] += row["count"]
    return +out


def region_counts(model, *, monthly: bool) -> Counter:
    out = Counter()
    for row in model.objects.values("day", "region", "card_maker_code", "measure", "count"):
        day = row["day"].replace(day=1) if monthly else row["day"]
        out[(day, row["region"], row["card_maker_code"], row["measure"])] += row["count"]
    return +out


def key_counts(rows) -> Counter:
    out = Counter()
    for row in rows.values("region", "institution_code", "card_maker_code", "measure", "count"):
        out[(row["region"], row["institution_code"], row["card_maker_code"], row["measure"])] += row["count"]
    return +out


def assert_windows_equal_their_days() -> None:
    """The rolling windows end today, and each holds what its days' rows add up to, key by key."""
    windows = list(StatsWindow.objects.all())
    today = timezone.localdate()
    assert sorted(w.days for w in windows) == sorted(ROLLING_WINDOWS)
    assert all(w.last_day == today and (w.last_day - w.first_day).days == w.days - 1 for w in windows)
    for window in windows:
        days = DailyCount.objects.filter(day__gte=window.first_day, day__lte=window.last_day)
        assert key_counts(WindowCount.objects.filter(day=window.first_day)) == key_counts(days)
    assert not WindowCount.objects.exclude(day__in=[w.first_day for w in windows]).exists()


def assert_facts_equal_direct_counts() -> None:
    assert fact_counts() == event_counts()
    assert period_counts(MonthlyCount) == period_counts(DailyCount)
    assert period_counts(WeeklyCount, week_start) == period_counts(DailyCount, week_start)
    assert not WeeklyCount.objects.exclude(day__week_day=2).exists()  # a weekly row carries its Monday
    assert region_counts(RegionDailyCount, monthly=False) == region_counts(DailyCount, monthly=False)
    assert region_counts(RegionMonthlyCount, monthly=True) == region_counts(DailyCount, monthly=True)
    assert maker_produced_facts() == maker_produced_direct()
    assert_windows_equal_their_days()
    applied = DailyCount.objects.filter(measure=CardEventKind.APPLIED).aggregate(n=Sum("count"))["n"] or 0
    assert applied == Application.objects.count()
    collected = DailyCount.objects.filter(measure=CardEventKind.COLLECTED).aggregate(n=Sum("count"))["n"] or 0
    assert collected == Card.objects.filter(collected_at__isnull=False).count()


def direct_range_counts(filters: FigureFilters, measures) -> dict:
    """A province figure's counts over the filters' dates summed straight from the daily rows, grouped here."""
    group = {
        Grouping.INSTITUTION: lambda row: row["institution_code"],
        Grouping.CARD_MAKER: lambda row: row["card_maker_code"],
        Grouping.MONTH: lambda row: month_start(row["day"]),
        Grouping.REGION: lambda row: row["region"][:4].ljust(6, "0"),  # the cities of the province
    }[filters.by]
    out: dict = {}
    rows = DailyCount.objects.filter(
        day__gte=filters.date_from, day__lte=filters.date_to, measure__in=measures, count__gt=0
    ).values("day", "region", "institution_code", "card_maker_code", "measure", "count")
    for row in rows:
        counts = out.setdefault(group(row), Counter())
        counts[row["measure"]] += row["count"]
    return out


def ragged_range(data) -> tuple[dt.date, dt.date] | None:
    """A range from one day with events to another (a day either side or not): its ends fall on any weekday,
    so it reads whole months, whole weeks and the edge days, and the edge days have counts to get wrong."""
    days = sorted(set(DailyCount.objects.values_list("day", flat=True)))
    if not days:
        return None
    # Drawn from a fixed range, then fitted to the days: the strategy may not depend on the database (examples
    # share it, so the same draws meet more days later, and hypothesis refuses a strategy that changes).
    i, j = sorted(n % len(days) for n in data.draw(st.tuples(st.integers(0, 999), st.integers(0, 999))))
    before, after = data.draw(st.tuples(st.integers(-1, 1), st.integers(-1, 1)))
    start, end = days[i] + dt.timedelta(days=before), days[j] + dt.timedelta(days=after)
    return min(start, end), max(start, end)


GROUPINGS = (Grouping.INSTITUTION, Grouping.MONTH, Grouping.CARD_MAKER, Grouping.REGION)


def assert_range_figures_equal_the_days(user, start: dt.date, end: dt.date, groupings=GROUPINGS) -> None:
    """Over the range, every grouping read from the roll-ups plus edge days gives what the range's daily rows
    give."""
    measures = sorted(set(DailyCount.objects.values_list("measure", flat=True)))
    for grouping in groupings:
        filters = FigureFilters(date_from=start, date_to=end, by=grouping)
        figure = {key: +Counter(counts) for key, counts in figure_counts(user, filters, measures).items()}
        assert {key: counts for key, counts in figure.items() if counts} == direct_range_counts(
            filters, measures
        )


# The clock the actions see, moved forward by the "later" step so events fall on many days, across week and
# month boundaries (monotonic: examples share the test's database and its journal).
CLOCK = {"days": 0}
_real_now = timezone.now


def shifted_now():
    return _real_now() + dt.timedelta(days=CLOCK["days"])


_users = itertools.count(1)

STEP = st.one_of(
    st.tuples(st.just("later"), st.just(""), st.sampled_from((1, 2, 3, 6, 13, 27))),
    st.tuples(st.just("apply"), st.sampled_from(COUNTIES), st.integers(1, 4)),
    st.tuples(st.just("produce"), st.sampled_from(("610100", "610300")), st.integers(0, 3)),
    st.tuples(st.just("stock_in"), st.just(""), st.just(0)),
    st.tuples(st.just("deliver"), st.sampled_from(COUNTIES), st.just(0)),
    st.tuples(st.just("collect"), st.just(""), st.integers(1, 5)),
    st.tuples(st.just("onsite"), st.sampled_from(COUNTIES), st.just(0)),
    st.tuples(st.just("withdraw"), st.just(""), st.just(0)),
    st.tuples(st.just("fold"), st.just(""), st.just(0)),
    st.tuples(st.just("rebuild"), st.just(""), st.just(0)),
)


@pytest.mark.django_db
@settings(
    max_examples=12, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(STEP, min_size=1, max_size=10),
    data=st.data(),
)
def test_aggregates_equal_a_direct_count_after_any_sequence_of_actions(
    world, system_actor, make_user, monkeypatch, steps, data, settings
):
    settings.HC_REGION = "610000"  # a province node: both cities' cards live here
    monkeypatch.setattr(timezone, "now", shifted_now)
    statistician = make_user(f"prov{next(_users)}", roles=["统计员"], scope="610000")
    # Examples share the test's database: the invariant holds over everything written so far.
    plans = []
    for op, where, n in steps:
        if op == "later":
            CLOCK["days"] += n
        elif op == "apply":
            for i in range(n):
                world.apply(where, at_hospital=i % 2 == 0)
        elif op == "produce":
            plan = world.produce(where, n, fail_every=n + 1)
            if plan is not None:
                plans.append(plan)
        elif op == "stock_in":
            for plan in plans:
                world.stock_in(plan)
        elif op == "deliver":
            world.deliver(where)
        elif op == "collect":
            world.collect(n)
        elif op == "onsite":
            world.onsite(where)
        elif op == "withdraw":
            world.withdraw()
        elif op == "fold":
            stats_fold(limit=7)  # small batches: the checkpoint moves across many of them
        else:
            stats_rebuild(actor=system_actor)
    stats_fold()
    assert_facts_equal_direct_counts()
    span = ragged_range(data)
    if span is not None:
        read = {model for model, _first, _last in periods(FigureFilters(*span, by=Grouping.INSTITUTION))}
        event(f"the range reads weekly rows: {WeeklyCount in read}, monthly rows: {MonthlyCount in read}")
        assert_range_figures_equal_the_days(statistician, *span)
    for window in StatsWindow.objects.all():  # a window's figures, read from its rows, equal its days'
        span = (window.first_day, window.last_day)
        assert periods(FigureFilters(*span, by=Grouping.INSTITUTION)) == [(WindowCount, span[0], span[0])]
        assert_range_figures_equal_the_days(statistician, *span)
    # A rebuild from the rows themselves gives the same figures, and the next fold adds nothing twice.
    stats_rebuild(actor=system_actor)
    stats_fold()
    assert_facts_equal_direct_counts()
    span = ragged_range(data)
    if span is not None:
        read = {model for model, _first, _last in periods(FigureFilters(*span, by=Grouping.INSTITUTION))}
        event(f"the range reads weekly rows: {WeeklyCount in read}, monthly rows: {MonthlyCount in read}")
        assert_range_figures_equal_the_days(statistician, *span)


@pytest.mark.django_db
def test_a_figure_over_any_ragged_range_equals_the_daily_rows(world, make_user, monkeypatch, settings):
    """An application on each of 75 days in a row; every range starting on one of the first nine days and
    ending on one of the last nine (ends on every weekday, across month ends) gives, by institution and by
    month, what the range's daily rows give: no edge day read twice or missed."""
    settings.HC_REGION = "610000"
    monkeypatch.setattr(timezone, "now", shifted_now)
    statistician = make_user("prov-ragged", roles=["统计员"], scope="610000")
    first = timezone.localdate()
    for day in range(75):
        CLOCK["days"] += 1
        world.apply(COUNTIES[day % len(COUNTIES)])
        if day == 40:
            stats_fold()
    stats_fold()
    assert period_counts(WeeklyCount, week_start) == period_counts(DailyCount, week_start)
    days = sorted(DailyCount.objects.values_list("day", flat=True).distinct())
    assert len(days) == 75 and days[0] > first
    for start, end in itertools.product(days[:9], days[-9:]):
        assert_range_figures_equal_the_days(statistician, start, end, groupings=GROUPINGS[:2])


@pytest.mark.django_db
def test_an_action_folds_its_events_right_after_it_commits(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        world.apply("610113")
    assert DailyCount.objects.get(measure=CardEventKind.APPLIED).count == 1
    assert FoldCheckpoint.objects.get().updated_at is not None


@pytest.mark.django_db
def test_the_rebuild_command_is_idempotent(world):
    from django.core.management import call_command

    world.apply("610113")
    world.apply("610302")
    call_command("stats", "rebuild")
    first = sorted(DailyCount.objects.values_list("day", "region", "institution_code", "measure", "count"))
    call_command("stats", "rebuild")
    call_command("stats", "fold")
    assert (
        sorted(DailyCount.objects.values_list("day", "region", "institution_code", "measure", "count"))
        == first
    )
    assert sum(row[-1] for row in first) == CardEvent.objects.count()


@pytest.mark.django_db
def test_the_first_fold_of_a_day_rolls_the_windows_forward(world, make_user, monkeypatch, settings):
    """An application stays in the 30-day window for 30 days, then the first fold of the 31st day rolls it out;
    the 365-day window keeps it. A range one day off a window reads the roll-ups instead, with the same figures."""
    settings.HC_REGION = "610000"
    monkeypatch.setattr(timezone, "now", shifted_now)
    statistician = make_user("prov-windows", roles=["统计员"], scope="610000")
    CLOCK["days"] += 400  # the fixtures' events (on the real day) fall out of both windows
    world.apply(COUNTIES[0])
    stats_fold()
    applied_on = timezone.localdate()

    def in_window(days: int) -> int:
        window = StatsWindow.objects.get(days=days)
        rows = WindowCount.objects.filter(day=window.first_day, measure=CardEventKind.APPLIED)
        return rows.aggregate(n=Sum("count"))["n"] or 0

    assert (in_window(30), in_window(365)) == (1, 1)
    CLOCK["days"] += 29
    stats_fold()  # nothing to fold: the windows roll all the same
    assert StatsWindow.objects.get(days=30).first_day == applied_on
    assert (in_window(30), in_window(365)) == (1, 1)
    CLOCK["days"] += 1
    stats_fold()
    assert StatsWindow.objects.get(days=30).first_day == applied_on + dt.timedelta(days=1)
    assert (in_window(30), in_window(365)) == (0, 1)
    assert_windows_equal_their_days()
    window = StatsWindow.objects.get(days=30)
    off_by_one = FigureFilters(
        window.first_day - dt.timedelta(days=1), window.last_day, by=Grouping.INSTITUTION
    )
    assert WindowCount not in {model for model, _first, _last in periods(off_by_one)}
    assert_range_figures_equal_the_days(statistician, off_by_one.date_from, off_by_one.date_to)
    assert_range_figures_equal_the_days(statistician, window.first_day, window.last_day)
