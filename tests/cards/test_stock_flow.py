"""Stock-in, stock-out and logistics: bulk stock-in, refusals that name the state, deliveries and returns."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards import actions
from cards.choices import CardStatus, PlanItemStatus, ShipmentStatus
from cards.models import Card, CardEvent, PlanItem, StockIn
from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import JournalEntry

from . import test_production_setup as shared
from .test_production_setup import produced_items

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan


def _stock_in(actor, plan, **kwargs):
    kwargs.setdefault("responsible_unit", "西安市卡管中心")
    kwargs.setdefault("responsible_person", "张库管")
    return actions.stock_in_record(actor=actor, plan=plan, **kwargs)


@pytest.mark.django_db
def test_stock_in_is_bulk_its_queries_do_not_grow_with_the_cards(make_plan, system_actor):
    small, large = make_plan("completed", n=2), make_plan("completed", n=40)
    counts = []
    for plan in (small, large):
        with CaptureQueriesContext(connection) as queries:
            _stock_in(system_actor, plan)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert Card.objects.filter(stock_in__plan=large).count() == 40
    assert CardEvent.objects.filter(kind="stocked_in", card__stock_in__plan=large).count() == 40
    seqs = list(JournalEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # one gap-free range


@pytest.mark.django_db
def test_stock_in_of_chosen_items_and_its_refusals(make_plan, system_actor):
    plan = make_plan("completed", n=3, failed=1)
    produced = produced_items(plan)
    failed = PlanItem.objects.get(plan=plan, status=PlanItemStatus.FAILED)
    with pytest.raises(DomainError) as caught:
        _stock_in(system_actor, plan, items=[failed])
    assert caught.value.code == "item_not_produced" and caught.value.detail["current"] == "failed"
    assert "Failed" in caught.value.message_en
    with pytest.raises(DomainError) as caught:
        _stock_in(system_actor, plan, quantity=5)
    assert caught.value.code == "quantity_mismatch" and caught.value.detail["expected"] == 2
    with pytest.raises(DomainError) as caught:
        _stock_in(system_actor, plan, responsible_person=" ")
    assert caught.value.code == "required"
    first = _stock_in(system_actor, plan, items=produced[:1], batch_number="RK-2026-001")
    assert first.batch_number == "RK-2026-001" and first.quantity == 1
    with pytest.raises(DomainError) as caught:
        _stock_in(system_actor, plan, items=produced[:1])
    assert caught.value.code == "already_stocked_in" and "RK-2026-001" in caught.value.message_en
    with pytest.raises(DomainError) as caught:
        _stock_in(system_actor, plan, batch_number="RK-2026-001")
    assert caught.value.code == "duplicate_batch"
    rest = _stock_in(system_actor, plan)
    assert rest.quantity == 1 and Card.objects.count() == 2
    with pytest.raises(DomainError) as caught:
        _stock_in(system_actor, plan)
    assert caught.value.code == "nothing_to_stock_in"


@pytest.mark.django_db
def test_stock_in_needs_a_plan_in_production_or_completed(make_plan, system_actor):
    plan = make_plan("submitted", n=1)
    with pytest.raises(DomainError) as caught:
        _stock_in(system_actor, plan)
    assert caught.value.code == "plan_not_in_production" and caught.value.detail["current"] == "submitted"


@pytest.fixture
def stocked(make_plan):
    return make_plan("stocked", n=3)


@pytest.fixture
def hospital(make_institution):
    return make_institution("610113", name="雁塔区人民医院")


def _stock_out(actor, institution, **kwargs):
    kwargs.setdefault("responsible_unit", "西安市卡管中心")
    kwargs.setdefault("responsible_person", "李发货")
    return actions.stock_out_record(actor=actor, institution=institution, **kwargs)


@pytest.mark.django_db
def test_stock_out_by_count_or_by_card_to_a_bank_or_a_hospital(stocked, hospital, bank, system_actor):
    first = _stock_out(system_actor, bank, count=1)
    card = Card.objects.get(stock_out=first)
    assert card.financial_institution == bank and card.medical_institution is None
    assert card.region_id == "610100" and card.status == CardStatus.DISPATCHED
    chosen = list(Card.objects.filter(status=CardStatus.IN_STOCK))
    second = _stock_out(system_actor, hospital, cards=chosen, waybill="EMS001")
    assert second.quantity == 2 and second.shipment.waybill == "EMS001"
    with pytest.raises(IllegalTransition) as caught:
        _stock_out(system_actor, hospital, cards=[card])
    assert caught.value.detail["current"] == CardStatus.DISPATCHED
    with pytest.raises(DomainError) as caught:
        _stock_out(system_actor, hospital, count=1)
    assert caught.value.code == "insufficient_stock"
    with pytest.raises(DomainError) as caught:
        _stock_out(system_actor, hospital, count=1, cards=chosen)
    assert caught.value.code == "cards_or_count"


@pytest.mark.django_db
def test_cards_do_not_go_to_an_issuing_point_of_another_city(stocked, make_institution, system_actor):
    baoji = make_institution("610302", name="渭滨区人民医院")
    with pytest.raises(DomainError) as caught:
        _stock_out(system_actor, baoji, cards=list(Card.objects.all()[:1]))
    assert caught.value.code == "card_region_mismatch"
    with pytest.raises(DomainError) as caught:
        _stock_out(system_actor, baoji, count=1)
    assert caught.value.code == "insufficient_stock"


@pytest.mark.django_db
def test_a_delivery_signed_for_cannot_be_delivered_again(stocked, hospital, system_actor):
    shipment = _stock_out(system_actor, hospital, count=3).shipment
    with pytest.raises(DomainError) as caught:
        actions.shipment_update(actor=system_actor, shipment=shipment, status="shipped")
    assert caught.value.code == "waybill_required"
    with pytest.raises(IllegalTransition) as caught:
        actions.shipment_update(actor=system_actor, shipment=shipment, status="delivered")
    assert caught.value.detail["current"] == "preparing"
    actions.shipment_update(
        actor=system_actor, shipment=shipment, status="shipped", responsible_person="自送：刘司机"
    )
    actions.shipment_update(actor=system_actor, shipment=shipment, status="in_transit")
    actions.shipment_update(actor=system_actor, shipment=shipment, status="delivered")
    with pytest.raises(DomainError) as caught:
        actions.shipment_update(actor=system_actor, shipment=shipment, status="signed")
    assert caught.value.code == "signed_by_required"
    shipment = actions.shipment_update(
        actor=system_actor, shipment=shipment, status="signed", signed_by="王护士"
    )
    with pytest.raises(IllegalTransition) as caught:
        actions.shipment_update(actor=system_actor, shipment=shipment, status="delivered")
    assert caught.value.detail == {"current": "signed", "target": "delivered", "allowed": []}
    assert "Signed for" in caught.value.message_en
    with pytest.raises(DomainError) as caught:
        actions.shipment_update(actor=system_actor, shipment=shipment, waybill="SF9")
    assert caught.value.code == "shipment_final"
    assert set(Card.objects.values_list("status", flat=True)) == {CardStatus.AWAITING_COLLECTION}


@pytest.mark.django_db
def test_a_returned_delivery_puts_its_cards_back_in_stock(stocked, hospital, system_actor):
    stock_out = _stock_out(system_actor, hospital, count=3)
    shipment = actions.shipment_update(
        actor=system_actor, shipment=stock_out.shipment, status="shipped", waybill="SF1", courier="顺丰"
    )
    actions.shipment_update(actor=system_actor, shipment=shipment, status="delivered")
    shipment = actions.shipment_update(actor=system_actor, shipment=shipment, status="returned")
    assert shipment.status == ShipmentStatus.RETURNED
    for card in Card.objects.all():
        assert card.status == CardStatus.IN_STOCK and card.region_id == "610100"
        assert card.stock_out is None and card.issuing_point is None
    assert (
        CardEvent.objects.filter(kind="stocked_in", data__returned_from=stock_out.batch_number).count() == 3
    )
    again = _stock_out(system_actor, hospital, count=3)
    assert again.quantity == 3


@pytest.mark.django_db
def test_stock_in_records_unit_person_quantity_and_time(stocked):
    stock_in = StockIn.objects.get(plan=stocked)
    assert (stock_in.responsible_unit, stock_in.responsible_person, stock_in.quantity) == (
        "市卡管中心",
        "张库管",
        3,
    )
    assert stock_in.region_id == "610100" and stock_in.at is not None
