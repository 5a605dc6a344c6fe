"""Fixtures the production and stock tests share (this module holds no tests): a node key, approved
applications, a plan taken through the real actions up to any state."""

from __future__ import annotations

import itertools

import pytest

from cards import actions
from cards.choices import PlanItemStatus
from registry.models import Region
from tests.institutions import conftest as institutions

# The institution fixtures, assigned so that the tests importing them from here find them.
bank, card_maker, make_institution = institutions.bank, institutions.card_maker, institutions.make_institution
_serials = itertools.count(1)


def chip_serial() -> str:
    return f"CS{next(_serials):08d}"


@pytest.fixture
def node_key(settings):
    from registry.node import node_key_create, public_key_pem

    node_key_create(settings.HC_NODE_KEY_FILE)
    return public_key_pem()


@pytest.fixture
def applications(approved_application):
    """n approved counter applications of holders in a county (Yanta, Xi'an by default), oldest first."""

    def make(n: int = 3, county: str = "610113"):
        return [approved_application(county) for _ in range(n)]

    return make


def results(plan, *, failed: int = 0) -> list[dict]:
    """Return rows for every item of a plan: the last `failed` items failed, the others produced."""
    items = list(plan.items.select_related("application__resident").order_by("id"))
    rows = []
    for index, item in enumerate(items):
        if index >= len(items) - failed:
            rows.append({"item_id": item.pk, "result": "failed", "failure_reason": "芯片初始化失败"})
        else:
            rows.append(
                {
                    "item_id": item.pk,
                    "card_no": item.application.resident.document_number,
                    "result": "produced",
                    "chip_serial": chip_serial(),
                }
            )
    return rows


@pytest.fixture
def make_plan(applications, card_maker, system_actor):
    """A plan taken through the real actions to `stage`: draft, submitted, in_production, completed, stocked."""

    def make(
        stage: str = "draft", *, n: int = 3, failed: int = 0, region: str = "610100", county: str = "610113"
    ):
        applications(n, county)
        plan = actions.plan_generate(
            actor=system_actor, card_maker=card_maker, region=Region.objects.get(code=region), size_cap=n
        )
        if stage == "draft":
            return plan
        plan = actions.plan_submit(actor=system_actor, plan=plan)
        if stage == "submitted":
            return plan
        plan = actions.plan_start(actor=system_actor, plan=plan)
        if stage == "in_production":
            return plan
        actions.plan_return_apply(actor=system_actor, plan=plan, rows=results(plan, failed=failed))
        plan.refresh_from_db()
        if stage == "completed":
            return plan
        actions.stock_in_record(
            actor=system_actor, plan=plan, responsible_unit="市卡管中心", responsible_person="张库管"
        )
        plan.refresh_from_db()
        return plan

    return make


def produced_items(plan):
    return list(plan.items.filter(status=PlanItemStatus.PRODUCED).order_by("id"))
