"""One test per filter of the production plan and plan item queries."""

import datetime as dt

import pytest
from django.utils import timezone

from cards.filtersets.production import PlanItemFilterSet, ProductionPlanFilterSet
from cards.models import PlanItem, ProductionPlan
from institutions.models import CardMaker

from . import test_production_setup as shared

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan


@pytest.fixture
def plans(settings, make_plan, make_institution):
    settings.HC_REGION = "610000"
    draft = make_plan("draft", n=1, region="610100", county="610113")
    completed = make_plan("completed", n=2, failed=1, region="610113", county="610113")
    other_maker = make_institution("610000", model=CardMaker, name="另一家制卡公司")
    baoji = make_plan("submitted", n=1, region="610300", county="610302")
    ProductionPlan.objects.filter(pk=baoji.pk).update(
        card_maker=other_maker, created_at=baoji.created_at - dt.timedelta(days=10)
    )
    baoji.refresh_from_db()
    return {"draft": draft, "completed": completed, "baoji": baoji, "other_maker": other_maker}


def numbers(params) -> set[str]:
    return set(
        ProductionPlanFilterSet(params, queryset=ProductionPlan.objects.all()).qs.values_list(
            "number", flat=True
        )
    )


@pytest.mark.django_db
def test_number(plans):
    assert numbers({"number": plans["draft"].number[-6:]}) == {plans["draft"].number}


@pytest.mark.django_db
def test_status(plans):
    assert numbers({"status": "completed"}) == {plans["completed"].number}


@pytest.mark.django_db
def test_card_maker(plans):
    assert numbers({"card_maker": plans["other_maker"].code}) == {plans["baoji"].number}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("610000", {"draft", "completed", "baoji"}),
        ("610100", {"draft", "completed"}),
        ("610113", {"completed"}),
    ],
)
def test_region(plans, region, expected):
    assert numbers({"region": region}) == {plans[name].number for name in expected}


@pytest.mark.django_db
def test_created_from_and_to(plans):
    old = timezone.localdate(plans["baoji"].created_at)
    assert numbers({"created_to": old.isoformat()}) == {plans["baoji"].number}
    assert plans["baoji"].number not in numbers({"created_from": (old + dt.timedelta(days=1)).isoformat()})


def item_ids(params) -> set[int]:
    return set(PlanItemFilterSet(params, queryset=PlanItem.objects.all()).qs.values_list("id", flat=True))


@pytest.mark.django_db
def test_item_plan(plans):
    assert item_ids({"plan": plans["completed"].number}) == set(
        plans["completed"].items.values_list("id", flat=True)
    )


@pytest.mark.django_db
def test_item_status(plans):
    assert item_ids({"status": "failed"}) == set(
        PlanItem.objects.filter(plan=plans["completed"], status="failed").values_list("id", flat=True)
    )


@pytest.mark.django_db
def test_item_chip_serial(plans):
    item = plans["completed"].items.filter(status="produced").first()
    assert item_ids({"chip_serial": item.chip_serial}) == {item.pk}


@pytest.mark.django_db
def test_item_region(plans):
    assert item_ids({"region": "610300"}) == set(plans["baoji"].items.values_list("id", flat=True))


def test_every_filter_has_a_test():
    assert set(ProductionPlanFilterSet.base_filters) == {
        "number",
        "status",
        "card_maker",
        "region",
        "created_from",
        "created_to",
    }
    assert set(PlanItemFilterSet.base_filters) == {"plan", "status", "chip_serial", "region"}
