"""The staff API: filings written at the ministry only, actual use in scope, figures, the report, exports."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from institutions.models import CardMaker
from registry.models import JournalEntry
from tests.institutions.conftest import make_uscc
from vendors.models import ActualUse, FiledProduct


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def sheet_rows(response) -> list[tuple]:
    content = b"".join(response.streaming_content)
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


@pytest.mark.django_db
@pytest.mark.parametrize("tier,region", [("province", "610000"), ("city", "610100")])
def test_api_writes_to_filings_are_refused_below_the_ministry(
    settings, make_user, make_product, tier, region
):
    product = make_product()
    settings.HC_TIER, settings.HC_REGION = tier, region
    api = api_for(make_user("boss", roles=["系统管理员"], scope=region, is_superuser=True))
    maker = product.manufacturer
    attempts = [
        api.post(
            "/api/v1/manufacturers/",
            {"name": "x", "code": make_uscc("610113", "91"), "region": "610113"},
            format="json",
        ),
        api.patch(f"/api/v1/manufacturers/{maker.pk}/", {"phone": "1"}, format="json"),
        api.delete(f"/api/v1/filed-products/{product.pk}/"),
        api.post(f"/api/v1/filed-products/{product.pk}/revoke/", {"reason": "x"}, format="json"),
    ]
    for response in attempts:
        assert response.status_code == 403
        assert response.json()["code"] == "filing_read_only" and response.json()["message_zh"]
    listed = api.get("/api/v1/filed-products/").json()["results"]
    assert [row["filing_number"] for row in listed] == [product.filing_number] and listed[0]["valid_today"]


@pytest.mark.django_db
def test_ministry_writes_filings_through_the_api(ministry, make_user, make_institution, make_use):
    api = api_for(make_user("nhc", roles=["系统管理员"], scope="100000", is_superuser=True))
    code = make_uscc("110108", "91")
    made = api.post(
        "/api/v1/manufacturers/", {"name": "北京某芯片公司", "code": code, "region": "110108"}, format="json"
    )
    assert made.status_code == 201, made.json()
    today = timezone.localdate()
    product = api.post(
        "/api/v1/filed-products/",
        {
            "manufacturer": code,
            "product_type": "chip_os",
            "name": "安全芯片及COS",
            "model": "BJ-1",
            "filing_number": "JKKBA-BJ-001",
            "filing_date": today.isoformat(),
            "valid_until": (today + dt.timedelta(days=900)).isoformat(),
        },
        format="json",
    )
    assert product.status_code == 201, product.json()
    pk = product.json()["id"]
    patched = api.patch(f"/api/v1/filed-products/{pk}/", {"test_report": "NITS-7"}, format="json")
    assert patched.json()["test_report"] == "NITS-7"
    duplicate = api.post(
        "/api/v1/filed-products/", {**product.json(), "manufacturer": code, "model": "BJ-2"}, format="json"
    )
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "duplicate_filing_number"
    suspended = api.post(f"/api/v1/filed-products/{pk}/suspend/", {"reason": "复核"}, format="json")
    assert suspended.json()["status"] == "suspended" and suspended.json()["valid_today"] is False
    referenced = api.delete(f"/api/v1/manufacturers/{made.json()['id']}/")
    assert referenced.status_code == 400 and referenced.json()["code"] == "filing_referenced"
    assert api.delete(f"/api/v1/filed-products/{pk}/").status_code == 204
    assert not FiledProduct.objects.exists()
    assert JournalEntry.objects.filter(kind="vendors.product").count() == 4


@pytest.mark.django_db
def test_actual_use_api_in_scope(province, make_user, make_institution, make_product, make_use):
    yanta, weibin = (
        make_institution("610113", name="雁塔区人民医院"),
        make_institution("610302", name="渭滨区医院"),
    )
    reader = make_product(product_type="reader")
    make_use(weibin, reader, quantity=4, node="610000")
    api = api_for(make_user("xian", roles=["系统管理员"], scope="610100"))
    created = api.post(
        "/api/v1/actual-uses/",
        {
            "institution_code": yanta.code,
            "product": reader.filing_number,
            "quantity": 6,
            "since": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["institution_name"] == "雁塔区人民医院" and created.json()["region"] == "610113"
    outside = api.post(
        "/api/v1/actual-uses/",
        {
            "institution_code": weibin.code,
            "product": reader.filing_number,
            "quantity": 1,
            "since": "2025-01-01",
        },
        format="json",
    )
    assert outside.status_code == 404 and outside.json()["code"] == "institution_not_found"
    listed = api.get("/api/v1/actual-uses/").json()["results"]
    assert [row["institution_name"] for row in listed] == ["雁塔区人民医院"]
    other = ActualUse.objects.get(region_id="610302")
    assert api.get(f"/api/v1/actual-uses/{other.pk}/").status_code == 404
    pk = created.json()["id"]
    assert api.patch(f"/api/v1/actual-uses/{pk}/", {"quantity": 8}, format="json").json()["quantity"] == 8
    figures = api.get("/api/v1/actual-uses/figures/?by=product").json()
    assert [(row["key"], row["quantity"]) for row in figures] == [(reader.filing_number, 8)]
    retired = api.post(f"/api/v1/actual-uses/{pk}/retire/", {"reason": "报废"}, format="json")
    assert retired.json()["status"] == "retired"
    assert api.get("/api/v1/actual-uses/figures/?by=product").json() == []
    rows = sheet_rows(api.get("/api/v1/actual-uses/export/?as=xlsx"))
    names = {cell for row in rows for cell in row}
    assert "雁塔区人民医院" in names and "渭滨区医院" not in names


@pytest.mark.django_db
def test_actual_use_writes_are_refused_at_the_ministry(settings, make_user, make_institution, make_use):
    use = make_use(make_institution("610113"))
    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"
    api = api_for(make_user("nhc", roles=["系统管理员"], scope="100000", is_superuser=True))
    response = api.patch(f"/api/v1/actual-uses/{use.pk}/", {"quantity": 2}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "actual_use_read_only"
    assert api.get("/api/v1/actual-uses/").json()["count"] == 1


@pytest.mark.django_db
def test_actual_use_list_query_count_does_not_grow_with_rows(
    city, make_user, make_institution, make_product, make_use, django_assert_max_num_queries
):
    api = api_for(make_user("xa", roles=["系统管理员"], scope="610100"))
    product = make_product(product_type="reader")
    for index in range(12):
        make_use(make_institution("610113"), product, quantity=index + 1)
    with django_assert_max_num_queries(8):
        assert len(api.get("/api/v1/actual-uses/").json()["results"]) == 12


@pytest.mark.django_db
def test_card_maker_filing_report_and_export(
    city, make_user, make_institution, make_manufacturer, make_product
):
    filed = make_institution("610113", model=CardMaker, name="陕西秦川金卡制造有限公司")
    make_institution("610113", model=CardMaker, name="西安长城智能卡科技有限公司")
    make_product(make_manufacturer(code=filed.code, region="610116"), product_type="sam_card")
    api = api_for(make_user("xa", roles=["只读用户"], scope="610100"))
    flagged = api.get("/api/v1/card-maker-filings/?has_valid_filing=false").json()["results"]
    assert [(row["name"], row["matched_by"]) for row in flagged] == [("西安长城智能卡科技有限公司", None)]
    good = api.get("/api/v1/card-maker-filings/?has_valid_filing=true").json()["results"]
    assert [(row["name"], row["matched_by"]) for row in good] == [("陕西秦川金卡制造有限公司", "code")]
    rows = sheet_rows(api.get("/api/v1/card-maker-filings/export/?as=xlsx&has_valid_filing=false"))
    assert any(row and row[0] == "西安长城智能卡科技有限公司" for row in rows)
    assert not any(row and row[0] == "陕西秦川金卡制造有限公司" for row in rows)


@pytest.mark.django_db
def test_filing_exports_open_and_hold_the_rows(city, make_user, make_product):
    for index in range(3):
        make_product(name=f"居民健康卡{index}")
    api = api_for(make_user("xa", roles=["只读用户"], scope="610100"))
    rows = sheet_rows(api.get("/api/v1/filed-products/export/?as=xlsx&product_type=user_card"))
    names = sorted(
        row[1] for row in rows if row and isinstance(row[1], str) and row[1].startswith("居民健康卡")
    )
    assert names == ["居民健康卡0", "居民健康卡1", "居民健康卡2"]
    pdf = api.get("/api/v1/manufacturers/export/?as=pdf")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
