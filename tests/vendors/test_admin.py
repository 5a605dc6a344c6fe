"""The browser admin: filings editable at the ministry through actions, read-only below; actual use, figures,
the card-maker report; every list exports."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from institutions.models import CardMaker
from registry.models import AuditEntry, JournalEntry
from tests.institutions.conftest import make_uscc
from vendors.models import ActualUse, FiledProduct, Manufacturer

FILINGS = ["/admin/vendors/manufacturer/", "/admin/vendors/filedproduct/"]


def cells(response) -> set:
    content = b"".join(response.streaming_content)
    return {c for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in row}


@pytest.fixture
def product(make_product, make_manufacturer):
    return make_product(make_manufacturer("深圳某某卡厂"), name="居民健康卡", model="HC-9")


@pytest.mark.django_db
@pytest.mark.parametrize("tier,region", [("province", "610000"), ("city", "610100")])
def test_lower_tier_admins_cannot_edit_filings(client, settings, make_user, product, tier, region):
    settings.HC_TIER, settings.HC_REGION = tier, region
    admin = make_user("boss", roles=["系统管理员"], scope=region, is_superuser=True)
    client.force_login(admin)
    objects = {FILINGS[0]: product.manufacturer, FILINGS[1]: product}
    for base, obj in objects.items():
        listing = client.get(base)
        assert listing.status_code == 200
        page = listing.content.decode()
        assert "revoke_selected" not in page and "delete_unreferenced" not in page
        assert "只读" in page  # the list says it is a copy kept by sync
        assert client.get(f"{base}add/").status_code == 403
        assert client.post(f"{base}add/", {"name": "x"}).status_code == 403
        assert client.get(f"{base}{obj.pk}/change/").status_code == 200  # read-only view
        assert client.post(f"{base}{obj.pk}/change/", {"name": "改名"}).status_code == 403
        assert client.post(base, {"action": "revoke_selected", "_selected_action": [obj.pk]}).status_code in (
            200,
            302,
        )
        assert "居民健康卡" in cells(client.get(f"{base}export/xlsx/")) or base == FILINGS[0]
    product.refresh_from_db()
    assert product.status == "valid" and product.manufacturer.name == "深圳某某卡厂"


@pytest.mark.django_db
def test_ministry_enters_filings_in_the_admin_through_the_actions(client, ministry, make_user):
    client.force_login(make_user("nhc", roles=["系统管理员"], scope="100000", is_superuser=True))
    code = make_uscc("440305", "91")
    wrong_check = "1" if code[-1] == "0" else "0"  # never the real check digit
    bad = client.post(
        "/admin/vendors/manufacturer/add/",
        {"name": "深圳卡厂", "code": code[:-1] + wrong_check, "region": "440305"},
    )
    assert bad.status_code == 200 and "统一社会信用代码" in bad.content.decode()
    made = client.post(
        "/admin/vendors/manufacturer/add/", {"name": "深圳卡厂", "code": code, "region": "440305"}
    )
    assert made.status_code == 302
    maker = Manufacturer.objects.get(code=code)
    today = timezone.localdate()
    added = client.post(
        "/admin/vendors/filedproduct/add/",
        {
            "manufacturer": maker.pk,
            "product_type": "user_card",
            "name": "居民健康卡",
            "model": "SZ-1",
            "filing_number": "JKKBA-SZ-001",
            "test_report": "NITS-9",
            "filing_date": today.isoformat(),
            "valid_until": (today + dt.timedelta(days=800)).isoformat(),
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    product = FiledProduct.objects.get()
    revoked = client.post(
        "/admin/vendors/filedproduct/",
        {
            "action": "revoke_selected",
            "_selected_action": [product.pk],
            "apply_reason": "1",
            "reason": "抽检不合格",
        },
    )
    assert revoked.status_code in (200, 302)
    product.refresh_from_db()
    assert product.status == "revoked"
    assert AuditEntry.objects.filter(action="filedproduct.revoke", channel="web").exists()
    assert list(JournalEntry.objects.filter(kind__startswith="vendors.").values_list("kind", flat=True)) == [
        "vendors.manufacturer",
        "vendors.product",
        "vendors.product",
    ]
    refused = client.post(
        "/admin/vendors/manufacturer/",
        {
            "action": "delete_unreferenced",
            "_selected_action": [maker.pk],
            "apply_reason": "1",
            "reason": "误录",
        },
        follow=True,
    )
    assert "撤销" in " ".join(str(m) for m in refused.context["messages"])
    assert Manufacturer.objects.filter(pk=maker.pk).exists()


@pytest.mark.django_db
def test_a_read_only_user_views_vendors_lists_and_cannot_edit(client, ministry, make_user, product):
    reader = make_user("reader", roles=["只读用户"], scope="100000")
    assert reader.has_perm("vendors.view_filedproduct") and reader.has_perm("vendors.view_actualuse")
    assert not reader.has_perm("vendors.change_filedproduct") and not reader.has_perm(
        "vendors.revoke_filedproduct"
    )
    client.force_login(reader)
    for base in [*FILINGS, "/admin/vendors/actualuse/", "/admin/vendors/cardmakerfiling/"]:
        assert client.get(base).status_code == 200, base
        assert client.get(f"{base}export/xlsx/").status_code == 200
    assert client.get("/admin/vendors/filedproduct/add/").status_code == 403
    assert client.post(f"/admin/vendors/filedproduct/{product.pk}/change/", {"name": "x"}).status_code == 403
    assert "revoke_selected" not in client.get("/admin/vendors/filedproduct/").content.decode()


@pytest.mark.django_db
def test_a_city_user_sees_only_its_citys_actual_use(client, province, make_user, make_institution, make_use):
    make_use(make_institution("610113", name="雁塔区人民医院"), quantity=3, node="610000")
    make_use(make_institution("610302", name="渭滨区人民医院"), quantity=4, node="610000")
    client.force_login(make_user("xian", roles=["系统管理员"], scope="610100"))
    listing = client.get("/admin/vendors/actualuse/")
    assert [str(u.institution) for u in listing.context["cl"].result_list] == ["雁塔区人民医院"]
    exported = cells(client.get("/admin/vendors/actualuse/export/xlsx/"))
    assert "雁塔区人民医院" in exported and "渭滨区人民医院" not in exported
    other = ActualUse.objects.get(region_id="610302")
    assert client.get(f"/admin/vendors/actualuse/{other.pk}/change/").status_code in (302, 404)
    figures = client.get("/admin/vendors/actualuse/figures/?by=institution")
    assert figures.status_code == 200 and [r["quantity"] for r in figures.context["rows"]] == [3]


@pytest.mark.django_db
def test_actual_use_in_the_admin(client, city, make_user, make_institution, make_product):
    hospital = make_institution("610113", name="雁塔区人民医院")
    product = make_product(product_type="kiosk")
    client.force_login(make_user("xa", roles=["系统管理员"], scope="610100"))
    assert "figures-link" in client.get("/admin/vendors/actualuse/").content.decode()
    both = client.post(
        "/admin/vendors/actualuse/add/",
        {"product": product.pk, "quantity": 2, "since": timezone.localdate().isoformat(), "note": ""},
    )
    assert both.status_code == 200 and not ActualUse.objects.exists()
    added = client.post(
        "/admin/vendors/actualuse/add/",
        {
            "medical_institution": hospital.pk,
            "product": product.pk,
            "quantity": 2,
            "since": timezone.localdate().isoformat(),
            "note": "门诊大厅",
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    use = ActualUse.objects.get()
    assert use.region_id == "610113" and AuditEntry.objects.filter(action="actualuse.register", channel="web")
    client.post(
        f"/admin/vendors/actualuse/{use.pk}/change/",
        {"quantity": 5, "since": use.since.isoformat(), "note": "门诊大厅"},
    )
    use.refresh_from_db()
    assert use.quantity == 5
    client.post(
        "/admin/vendors/actualuse/",
        {"action": "retire_selected", "_selected_action": [use.pk], "apply_reason": "1", "reason": "报废"},
    )
    use.refresh_from_db()
    assert use.status == "retired"
    figures = client.get("/admin/vendors/actualuse/figures/?by=product_type&as=xlsx")
    assert "合计" in cells(figures)


@pytest.mark.django_db
def test_card_maker_report_flags_makers_without_a_valid_filed_product(
    client, city, make_user, make_institution, make_manufacturer, make_product
):
    filed = make_institution("610113", model=CardMaker, name="陕西秦川金卡制造有限公司")
    make_institution("610113", model=CardMaker, name="西安长城智能卡科技有限公司")
    make_product(make_manufacturer(filed.name, code=filed.code, region="610116"), product_type="user_card")
    client.force_login(make_user("xa", roles=["系统管理员"], scope="610100"))
    flagged = client.get("/admin/vendors/cardmakerfiling/?filing=none")
    assert [m.name for m in flagged.context["cl"].result_list] == ["西安长城智能卡科技有限公司"]
    assert "无有效备案产品" in flagged.content.decode()
    exported = cells(client.get("/admin/vendors/cardmakerfiling/export/xlsx/?filing=none"))
    assert "西安长城智能卡科技有限公司" in exported and "陕西秦川金卡制造有限公司" not in exported
    # The card maker register itself shows the same flag (institutions' hook, filled by vendors).
    makers = client.get("/admin/institutions/cardmaker/").content.decode()
    assert "无有效备案产品" in makers and "备案有效" in makers
