"""One test per filter of the vendors filtersets (the API lists, exports and selectors use them)."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from institutions.actions import organisation_deregister
from institutions.models import CardMaker, FinancialInstitution
from vendors import actions
from vendors.filtersets import (
    ActualUseFilterSet,
    CardMakerFilingFilterSet,
    FiledProductFilterSet,
    ManufacturerFilterSet,
)
from vendors.models import ActualUse, CardMakerFiling, FiledProduct, Manufacturer
from vendors.selectors import card_maker_filing_match

from .conftest import at_ministry

TODAY = timezone.localdate()


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def filings(make_manufacturer, make_product, system_actor):
    shenzhen = make_manufacturer("深圳华卡智能科技有限公司", region="440305")
    xian = make_manufacturer("西安某读写器有限公司", region="610113")
    beijing = make_manufacturer("北京中健芯微电子有限公司", region="110108")
    made = {
        "card": make_product(shenzhen, product_type="user_card", name="居民健康卡", model="HK-1",
                             filing_number="JKKBA-HK-001", filing_date=days(-400), valid_until=days(400)),
        "reader": make_product(xian, product_type="reader", name="桌面读写器", model="XA-R3",
                               filing_number="JKKBA-XA-001", filing_date=days(-100), valid_until=days(30)),
        "expired": make_product(beijing, product_type="chip_os", name="芯片COS", model="BJ-C1",
                                filing_number="JKKBA-BJ-001", filing_date=days(-2000), valid_until=days(-1)),
        "revoked": make_product(shenzhen, product_type="sam_card", name="SAM卡", model="HK-S1",
                                filing_number="JKKBA-HK-002", filing_date=days(-50), valid_until=days(900)),
    }  # fmt: skip
    with at_ministry():
        actions.product_revoke(actor=system_actor, product=made["revoked"], reason="撤销")
        actions.manufacturer_suspend(actor=system_actor, manufacturer=beijing, reason="整改")
    return made


def makers(params) -> list[str]:
    return sorted(
        ManufacturerFilterSet(params, queryset=Manufacturer.objects.all()).qs.values_list("name", flat=True)
    )


def products(params) -> list[str]:
    qs = FiledProductFilterSet(params, queryset=FiledProduct.objects.all()).qs
    return sorted(qs.values_list("filing_number", flat=True))


# --- Manufacturers ---


@pytest.mark.django_db
def test_manufacturer_name(filings):
    assert makers({"name": "华卡"}) == ["深圳华卡智能科技有限公司"]


@pytest.mark.django_db
def test_manufacturer_code(filings):
    code = filings["reader"].manufacturer.code
    assert makers({"code": code}) == ["西安某读写器有限公司"]


@pytest.mark.django_db
def test_manufacturer_region(filings):
    assert makers({"region": "610000"}) == ["西安某读写器有限公司"]
    assert makers({"region": "440300"}) == ["深圳华卡智能科技有限公司"]


@pytest.mark.django_db
def test_manufacturer_status(filings):
    assert makers({"status": "suspended"}) == ["北京中健芯微电子有限公司"]


# --- Filed products ---


@pytest.mark.django_db
def test_product_manufacturer_code(filings):
    assert products({"manufacturer": filings["card"].manufacturer.code}) == ["JKKBA-HK-001", "JKKBA-HK-002"]


@pytest.mark.django_db
def test_product_manufacturer_name(filings):
    assert products({"manufacturer_name": "读写器"}) == ["JKKBA-XA-001"]


@pytest.mark.django_db
def test_product_manufacturer_region(filings):
    assert products({"manufacturer_region": "110000"}) == ["JKKBA-BJ-001"]


@pytest.mark.django_db
def test_product_type(filings):
    assert products({"product_type": "reader"}) == ["JKKBA-XA-001"]


@pytest.mark.django_db
def test_product_name(filings):
    assert products({"name": "健康卡"}) == ["JKKBA-HK-001"]


@pytest.mark.django_db
def test_product_model(filings):
    assert products({"model": "XA-R"}) == ["JKKBA-XA-001"]


@pytest.mark.django_db
def test_product_filing_number(filings):
    assert products({"filing_number": "JKKBA-HK"}) == ["JKKBA-HK-001", "JKKBA-HK-002"]


@pytest.mark.django_db
def test_product_status(filings):
    assert products({"status": "revoked"}) == ["JKKBA-HK-002"]


@pytest.mark.django_db
def test_product_valid_today(filings):
    assert products({"valid": "true"}) == ["JKKBA-HK-001", "JKKBA-XA-001"]
    assert products({"valid": "false"}) == ["JKKBA-BJ-001", "JKKBA-HK-002"]


@pytest.mark.django_db
def test_product_filed_from_and_to(filings):
    assert products({"filed_from": days(-120).isoformat()}) == ["JKKBA-HK-002", "JKKBA-XA-001"]
    assert products({"filed_to": days(-1000).isoformat()}) == ["JKKBA-BJ-001"]


@pytest.mark.django_db
def test_product_valid_until_before(filings):
    assert products({"valid_until_before": days(60).isoformat()}) == ["JKKBA-BJ-001", "JKKBA-XA-001"]


# --- Actual use ---


@pytest.fixture
def uses(filings, make_institution, make_use, system_actor):
    yanta = make_institution("610113", name="雁塔区人民医院")
    weibin = make_institution("610302", name="渭滨区妇幼保健院")
    bank = make_institution("610100", model=FinancialInstitution, name="长安银行股份有限公司", kind="bank")
    rows = {
        "yanta_card": make_use(yanta, filings["card"], quantity=100, since=days(-300), node="610000"),
        "yanta_reader": make_use(yanta, filings["reader"], quantity=5, since=days(-20), node="610000"),
        "weibin": make_use(weibin, filings["reader"], quantity=2, since=days(-60), node="610000"),
        "bank": make_use(bank, filings["card"], quantity=900, since=days(-5), node="610000"),
    }
    with override_settings(HC_TIER="province", HC_REGION="610000"):
        actions.actual_use_retire(actor=system_actor, use=rows["weibin"], reason="停用")
    return rows


def quantities(params) -> list[int]:
    qs = ActualUseFilterSet(params, queryset=ActualUse.objects.all()).qs
    return sorted(qs.values_list("quantity", flat=True))


@pytest.mark.django_db
def test_use_region(uses):
    assert quantities({"region": "610300"}) == [2]
    assert quantities({"region": "610113"}) == [5, 100]


@pytest.mark.django_db
def test_use_institution_code(uses):
    assert quantities({"institution_code": uses["bank"].institution.code}) == [900]
    assert quantities({"institution_code": uses["yanta_card"].institution.code}) == [5, 100]


@pytest.mark.django_db
def test_use_institution_name(uses):
    assert quantities({"institution_name": "银行"}) == [900]
    assert quantities({"institution_name": "雁塔"}) == [5, 100]


@pytest.mark.django_db
def test_use_product(uses):
    assert quantities({"product": "JKKBA-XA-001"}) == [2, 5]


@pytest.mark.django_db
def test_use_product_type(uses):
    assert quantities({"product_type": "user_card"}) == [100, 900]


@pytest.mark.django_db
def test_use_manufacturer(uses, filings):
    assert quantities({"manufacturer": filings["reader"].manufacturer.code}) == [2, 5]


@pytest.mark.django_db
def test_use_status(uses):
    assert quantities({"status": "retired"}) == [2]


@pytest.mark.django_db
def test_use_since_from_and_to(uses):
    assert quantities({"since_from": days(-30).isoformat()}) == [5, 900]
    assert quantities({"since_to": days(-100).isoformat()}) == [100]


# --- Card makers compared with filings ---


@pytest.fixture
def card_makers(filings, make_institution, system_actor):
    filed = make_institution("610113", model=CardMaker, name="深圳华卡智能科技有限公司")  # matched by name
    unfiled = make_institution("610116", model=CardMaker, name="西安长城智能卡科技有限公司")
    closed = make_institution("620102", model=CardMaker, name="兰州某制卡公司")
    organisation_deregister(actor=system_actor, obj=closed, reason="停业")
    return {"filed": filed, "unfiled": unfiled, "closed": closed}


def card_maker_names(params) -> list[str]:
    queryset = CardMakerFiling.objects.annotate(**card_maker_filing_match())
    return sorted(CardMakerFilingFilterSet(params, queryset=queryset).qs.values_list("name", flat=True))


@pytest.mark.django_db
def test_card_maker_name(card_makers):
    assert card_maker_names({"name": "长城"}) == ["西安长城智能卡科技有限公司"]


@pytest.mark.django_db
def test_card_maker_code(card_makers):
    assert card_maker_names({"code": card_makers["closed"].code}) == ["兰州某制卡公司"]


@pytest.mark.django_db
def test_card_maker_region(card_makers):
    assert card_maker_names({"region": "610100"}) == [
        "深圳华卡智能科技有限公司",
        "西安长城智能卡科技有限公司",
    ]


@pytest.mark.django_db
def test_card_maker_status(card_makers):
    assert card_maker_names({"status": "deregistered"}) == ["兰州某制卡公司"]


@pytest.mark.django_db
def test_card_maker_has_valid_filing(card_makers):
    assert card_maker_names({"has_valid_filing": "true"}) == ["深圳华卡智能科技有限公司"]
    assert card_maker_names({"has_valid_filing": "false"}) == ["兰州某制卡公司", "西安长城智能卡科技有限公司"]
