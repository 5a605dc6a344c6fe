"""One test per filter of the stock-in, stock-out and shipment queries."""

import datetime as dt

import pytest
from django.utils import timezone

from cards import actions
from cards.filtersets.stock import ShipmentFilterSet, StockInFilterSet, StockOutFilterSet
from cards.models import Shipment, StockIn, StockOut

from . import test_production_setup as shared

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan


@pytest.fixture
def stock(settings, make_plan, make_institution, bank, system_actor):
    settings.HC_REGION = "610000"
    xian = make_plan("stocked", n=3, region="610100", county="610113")
    baoji = make_plan("stocked", n=1, region="610300", county="610302")
    hospital = make_institution("610113", name="雁塔区人民医院")
    baoji_hospital = make_institution("610302", name="渭滨区人民医院")
    common = {"responsible_unit": "卡管中心", "responsible_person": "李"}
    to_hospital = actions.stock_out_record(
        actor=system_actor, institution=hospital, count=2, waybill="SF100", courier="顺丰速运", **common
    )
    to_bank = actions.stock_out_record(
        actor=system_actor, institution=bank, count=1, courier="邮政EMS", **common
    )
    to_baoji = actions.stock_out_record(actor=system_actor, institution=baoji_hospital, count=1, **common)
    actions.shipment_update(actor=system_actor, shipment=to_hospital.shipment, status="shipped")
    StockOut.objects.filter(pk=to_baoji.pk).update(at=to_baoji.at - dt.timedelta(days=10))
    StockIn.objects.filter(plan=baoji).update(at=to_baoji.at - dt.timedelta(days=10))
    return {
        "xian": StockIn.objects.get(plan=xian),
        "baoji": StockIn.objects.get(plan=baoji),
        "hospital": hospital,
        "to_hospital": to_hospital,
        "to_bank": to_bank,
        "to_baoji": StockOut.objects.get(pk=to_baoji.pk),
    }


def found(filterset, model, params):
    return set(filterset(params, queryset=model.objects.all()).qs.values_list("pk", flat=True))


@pytest.mark.django_db
def test_stock_in_batch_number(stock):
    assert found(StockInFilterSet, StockIn, {"batch_number": stock["xian"].batch_number[-6:]}) == {
        stock["xian"].pk
    }


@pytest.mark.django_db
def test_stock_in_plan(stock):
    assert found(StockInFilterSet, StockIn, {"plan": stock["baoji"].plan.number}) == {stock["baoji"].pk}


@pytest.mark.django_db
def test_stock_in_region(stock):
    assert found(StockInFilterSet, StockIn, {"region": "610300"}) == {stock["baoji"].pk}


@pytest.mark.django_db
def test_stock_in_dates(stock):
    day = timezone.localdate(stock["baoji"].at)
    assert found(StockInFilterSet, StockIn, {"date_to": day.isoformat()}) == {stock["baoji"].pk}
    later = (day + dt.timedelta(days=1)).isoformat()
    assert found(StockInFilterSet, StockIn, {"date_from": later}) == {stock["xian"].pk}


@pytest.mark.django_db
def test_stock_out_batch_number(stock):
    number = stock["to_bank"].batch_number
    assert found(StockOutFilterSet, StockOut, {"batch_number": number}) == {stock["to_bank"].pk}


@pytest.mark.django_db
def test_stock_out_region(stock):
    assert found(StockOutFilterSet, StockOut, {"region": "610113"}) == {stock["to_hospital"].pk}


@pytest.mark.django_db
def test_stock_out_institution(stock):
    assert found(StockOutFilterSet, StockOut, {"institution": stock["hospital"].code}) == {
        stock["to_hospital"].pk
    }


@pytest.mark.django_db
def test_stock_out_dates(stock):
    day = timezone.localdate(stock["to_baoji"].at)
    assert found(StockOutFilterSet, StockOut, {"date_to": day.isoformat()}) == {stock["to_baoji"].pk}
    later = (day + dt.timedelta(days=1)).isoformat()
    assert stock["to_baoji"].pk not in found(StockOutFilterSet, StockOut, {"date_from": later})


def shipments(params):
    return set(
        ShipmentFilterSet(params, queryset=Shipment.objects.all()).qs.values_list("stock_out_id", flat=True)
    )


@pytest.mark.django_db
def test_shipment_status(stock):
    assert shipments({"status": "shipped"}) == {stock["to_hospital"].pk}


@pytest.mark.django_db
def test_shipment_waybill(stock):
    assert shipments({"waybill": "SF100"}) == {stock["to_hospital"].pk}


@pytest.mark.django_db
def test_shipment_courier(stock):
    assert shipments({"courier": "EMS"}) == {stock["to_bank"].pk}


@pytest.mark.django_db
def test_shipment_batch_number(stock):
    assert shipments({"batch_number": stock["to_baoji"].batch_number}) == {stock["to_baoji"].pk}


@pytest.mark.django_db
def test_shipment_region(stock):
    assert shipments({"region": "610300"}) == {stock["to_baoji"].pk}


@pytest.mark.django_db
def test_shipment_dates(stock):
    day = timezone.localdate(stock["to_baoji"].at)
    assert shipments({"date_to": day.isoformat()}) == {stock["to_baoji"].pk}
    later = (day + dt.timedelta(days=1)).isoformat()
    assert shipments({"date_from": later}) == {stock["to_hospital"].pk, stock["to_bank"].pk}


def test_every_filter_has_a_test():
    assert set(StockInFilterSet.base_filters) == {"batch_number", "plan", "region", "date_from", "date_to"}
    assert set(StockOutFilterSet.base_filters) == {
        "batch_number",
        "region",
        "institution",
        "date_from",
        "date_to",
    }
    assert set(ShipmentFilterSet.base_filters) == {
        "status",
        "waybill",
        "courier",
        "batch_number",
        "region",
        "date_from",
        "date_to",
    }
