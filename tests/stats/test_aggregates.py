"""Daily counts are folded from the case history: they equal direct counts over the underlying rows."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards.choices import CardEventKind, PlanItemStatus
from cards.models import Application, Card, CardEvent, PlanItem
from stats.actions import stats_fold, stats_rebuild
from stats.models import DailyCount, FoldCheckpoint, MonthlyCount, RegionDailyCount, RegionMonthlyCount

from .conftest import COUNTIES


def event_counts() -> Counter:
    """The direct count: case-history rows by day, county, institution and kind."""
    from django.utils import timezone

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


def monthly_counts(model) -> Counter:
    out = Counter()
    for row in model.objects.values(
        "day", "region", "institution_code", "card_maker_code", "measure", "count"
    ):
        out[
            (
                row["day"].replace(day=1),
                *[row[k] for k in ("region", "institution_code", "card_maker_code", "measure")],
            )
        ] += row["count"]
    return +out


def region_counts(model, *, monthly: bool) -> Counter:
    out = Counter()
    for row in model.objects.values("day", "region", "measure", "count"):
        day = row["day"].replace(day=1) if monthly else row["day"]
        out[(day, row["region"], row["measure"])] += row["count"]
    return +out


def assert_facts_equal_direct_counts() -> None:
    assert fact_counts() == event_counts()
    assert monthly_counts(MonthlyCount) == monthly_counts(DailyCount)
    assert region_counts(RegionDailyCount, monthly=False) == region_counts(DailyCount, monthly=False)
    assert region_counts(RegionMonthlyCount, monthly=True) == region_counts(DailyCount, monthly=True)
    assert maker_produced_facts() == maker_produced_direct()
    applied = DailyCount.objects.filter(measure=CardEventKind.APPLIED).aggregate(n=Sum("count"))["n"] or 0
    assert applied == Application.objects.count()
    collected = DailyCount.objects.filter(measure=CardEventKind.COLLECTED).aggregate(n=Sum("count"))["n"] or 0
    assert collected == Card.objects.filter(collected_at__isnull=False).count()


STEP = st.one_of(
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
@given(steps=st.lists(STEP, min_size=1, max_size=10))
def test_aggregates_equal_a_direct_count_after_any_sequence_of_actions(world, system_actor, steps, settings):
    settings.HC_REGION = "610000"  # a province node: both cities' cards live here
    # Examples share the test's database: the invariant holds over everything written so far.
    plans = []
    for op, where, n in steps:
        if op == "apply":
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
    # A rebuild from the rows themselves gives the same figures, and the next fold adds nothing twice.
    stats_rebuild(actor=system_actor)
    stats_fold()
    assert_facts_equal_direct_counts()


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
