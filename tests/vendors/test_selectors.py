"""Actual-use figures that add up, and card makers compared with filings."""

import pytest

from institutions.models import CardMaker, FinancialInstitution
from institutions.selectors import card_maker_has_valid_filing, card_makers_without_filed_product
from tests.institutions.conftest import make_uscc
from vendors import actions
from vendors.selectors import (
    actual_use_national_figures,
    actual_use_totals,
    card_maker_filing_list,
    card_maker_without_valid_filing_list,
)

from .conftest import at_ministry

GROUPINGS = ["product", "product_type", "manufacturer", "province", "region", "institution"]


@pytest.fixture
def province_admin(make_user, province):
    return make_user("sx", roles=["系统管理员"], scope="610000")


@pytest.fixture
def uses(province, make_institution, make_product, make_manufacturer, make_use, system_actor):
    """Seven registrations at five institutions in three counties of two cities (one retired)."""
    maker_a, maker_b = make_manufacturer("甲读写器厂"), make_manufacturer("乙自助机厂")
    reader, kiosk = make_product(maker_a, product_type="reader"), make_product(maker_b, product_type="kiosk")
    sam = make_product(maker_a, product_type="sam_card")
    yanta, beilin, weibin = (
        make_institution("610113", name="雁塔区人民医院"),
        make_institution("610103", name="碑林区中医医院"),
        make_institution("610302", name="渭滨区妇幼保健院"),
    )
    yanta_clinic = make_institution("610113", name="雁塔区某某诊所")
    bank = make_institution("610100", model=FinancialInstitution, name="某某银行西安分行", kind="bank")
    rows = [
        make_use(yanta, reader, quantity=10, node="610000"),
        make_use(yanta, kiosk, quantity=2, node="610000"),
        make_use(beilin, reader, quantity=5, node="610000"),
        make_use(weibin, sam, quantity=7, node="610000"),
        make_use(yanta_clinic, reader, quantity=1, node="610000"),
        make_use(bank, kiosk, quantity=20, node="610000"),
    ]
    retired = make_use(beilin, kiosk, quantity=100, node="610000")
    actions.actual_use_retire(actor=system_actor, use=retired, reason="报废")
    return {"rows": rows, "reader": reader, "kiosk": kiosk, "sam": sam}


@pytest.mark.django_db
@pytest.mark.parametrize("by", GROUPINGS)
def test_actual_use_figures_add_up_across_institutions(uses, province_admin, by):
    figures = actual_use_totals(user=province_admin, by=by)
    assert sum(row["quantity"] for row in figures) == 45  # the retired hundred do not count
    assert sum(row["registrations"] for row in figures) == 6
    per_institution = actual_use_totals(user=province_admin, by="institution")
    assert sum(row["quantity"] for row in per_institution) == sum(row["quantity"] for row in figures)


@pytest.mark.django_db
def test_figures_by_product_region_and_institution(uses, province_admin):
    by_product = {row["key"]: row for row in actual_use_totals(user=province_admin, by="product")}
    reader = by_product[uses["reader"].filing_number]
    assert (reader["quantity"], reader["registrations"], reader["institutions"]) == (16, 3, 3)
    by_region = {row["key"]: row["quantity"] for row in actual_use_totals(user=province_admin, by="region")}
    assert by_region == {"610113": 13, "610103": 5, "610302": 7, "610100": 20}
    by_institution = {
        row["label"]: row["quantity"] for row in actual_use_totals(user=province_admin, by="institution")
    }
    assert by_institution["雁塔区人民医院"] == 12 and by_institution["某某银行西安分行"] == 20
    by_type = {row["key"]: row for row in actual_use_totals(user=province_admin, by="product_type")}
    assert by_type["kiosk"]["quantity"] == 22 and by_type["kiosk"]["label"] == "自助机"


@pytest.mark.django_db
def test_a_city_user_counts_only_its_city(uses, make_user):
    xian = make_user("xian", roles=["只读用户"], scope="610100")
    assert sum(row["quantity"] for row in actual_use_totals(user=xian, by="product")) == 38
    assert actual_use_totals(user=make_user("nobody"), by="product") == []


@pytest.mark.django_db
def test_the_ministry_sums_by_type_manufacturer_and_province(
    settings, make_institution, make_product, make_manufacturer, make_use, make_user
):
    reader = make_product(make_manufacturer("甲读写器厂"), product_type="reader")
    card = make_product(make_manufacturer("丙卡厂"), product_type="user_card")
    make_use(make_institution("610113"), reader, quantity=10, node="610100")
    make_use(make_institution("610302"), card, quantity=300, node="610000")
    make_use(make_institution("620102"), reader, quantity=4, node="620100")
    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"
    nation = make_user("nation", roles=["统计员"], scope="100000")
    figures = actual_use_national_figures(user=nation)
    assert {r["key"]: r["quantity"] for r in figures["product_type"]} == {"user_card": 300, "reader": 14}
    assert {r["label"]: r["quantity"] for r in figures["manufacturer"]} == {"丙卡厂": 300, "甲读写器厂": 14}
    assert {(r["key"], r["label"]): r["quantity"] for r in figures["province"]} == {
        ("610000", "陕西省"): 310,
        ("620000", "甘肃省"): 4,
    }
    assert {by: sum(r["quantity"] for r in rows) for by, rows in figures.items()} == {
        "product_type": 314,
        "manufacturer": 314,
        "province": 314,
    }


# --- Card makers compared with filings -------------------------------------------------------------------


@pytest.fixture
def makers(make_institution):
    return {
        "filed": make_institution("610113", model=CardMaker, name="陕西有备案卡厂"),
        "reader_only": make_institution("610113", model=CardMaker, name="陕西只有读写器厂"),
        "none": make_institution("610116", model=CardMaker, name="陕西无备案卡厂"),
        "by_name": make_institution("610116", model=CardMaker, name="陕西同名卡厂"),
    }


@pytest.mark.django_db
def test_a_card_maker_without_a_valid_filed_product_is_flagged(
    city, makers, make_manufacturer, make_product, make_user
):
    make_product(make_manufacturer(makers["filed"].name, code=makers["filed"].code, region="610113"))
    make_product(make_manufacturer(code=makers["reader_only"].code, region="610113"), product_type="reader")
    # Keyed with another code at the ministry: the exact registered name stands in.
    make_product(
        make_manufacturer("陕西同名卡厂", code=make_uscc("610116", "91"), region="610116"),
        product_type="chip_os",
    )

    assert card_maker_has_valid_filing(makers["filed"]) is True
    assert card_maker_has_valid_filing(makers["by_name"]) is True
    assert card_maker_has_valid_filing(makers["reader_only"]) is False
    assert card_maker_has_valid_filing(makers["none"]) is False
    admin = make_user("xa", roles=["系统管理员"], scope="610100")
    flagged = {m.name for m in card_makers_without_filed_product(user=admin)}
    assert flagged == {"陕西只有读写器厂", "陕西无备案卡厂"}
    assert {m.name for m in card_maker_without_valid_filing_list(user=admin)} == flagged
    listed = {
        m.name: (m.has_valid_filing, m.filing_manufacturer_by_code)
        for m in card_maker_filing_list(user=admin)
    }
    assert listed["陕西同名卡厂"] == (True, False) and listed["陕西有备案卡厂"] == (True, True)


@pytest.mark.django_db
def test_revoking_the_only_valid_product_flags_the_maker(
    city, makers, make_manufacturer, make_product, system_actor
):
    product = make_product(
        make_manufacturer(code=makers["filed"].code, region="610113"), product_type="sam_card"
    )
    assert card_maker_has_valid_filing(makers["filed"])
    with at_ministry():
        actions.product_revoke(actor=system_actor, product=product, reason="撤销备案")
    assert not card_maker_has_valid_filing(makers["filed"])


@pytest.mark.django_db
def test_a_code_match_wins_over_a_name_match(city, makers, make_manufacturer, make_product):
    """A manufacturer with the maker's code but no valid card product: a namesake does not rescue it."""
    make_product(make_manufacturer(code=makers["none"].code, region="610116"), product_type="kiosk")
    make_product(make_manufacturer(makers["none"].name, region="610116"))
    assert not card_maker_has_valid_filing(makers["none"])
