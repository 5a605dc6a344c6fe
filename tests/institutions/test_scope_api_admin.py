"""Scope, the staff API and the admin of the registers."""

import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from institutions.models import ApiCredential, MedicalInstitution
from registry.models import AuditEntry

from .conftest import make_uscc


@pytest.fixture
def two_cities(make_institution, settings):
    settings.HC_REGION = "610000"
    return {
        "xian": make_institution("610113", name="雁塔区人民医院"),
        "baoji": make_institution("610302", name="渭滨区人民医院"),
    }


@pytest.fixture
def xian_clerk(make_user):
    return make_user("xian", roles=["系统管理员"], scope="610100")


@pytest.mark.django_db
def test_city_user_cannot_see_or_export_another_city(client, two_cities, xian_clerk):
    client.force_login(xian_clerk)
    listing = client.get("/admin/institutions/medicalinstitution/")
    assert [o.name for o in listing.context["cl"].result_list] == ["雁塔区人民医院"]
    baoji = two_cities["baoji"]
    assert client.get(f"/admin/institutions/medicalinstitution/{baoji.pk}/change/").status_code in (302, 404)
    for path in [
        "/admin/institutions/medicalinstitution/export/xlsx/",
        "/api/v1/medical-institutions/export/?as=xlsx",
    ]:
        content = b"".join(client.get(path).streaming_content)
        cells = {
            c for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in row
        }
        assert "雁塔区人民医院" in cells and "渭滨区人民医院" not in cells
    api = client.get("/api/v1/medical-institutions/").json()["results"]
    assert [r["name"] for r in api] == ["雁塔区人民医院"]
    assert client.get(f"/api/v1/medical-institutions/{baoji.pk}/").status_code == 404


@pytest.mark.django_db
def test_api_register_modify_deregister(two_cities, xian_clerk):
    api = APIClient()
    api.force_authenticate(xian_clerk)
    code = make_uscc("610113")
    created = api.post(
        "/api/v1/medical-institutions/",
        {
            "name": "雁塔区第二社区卫生服务中心",
            "code": code,
            "region": "610113",
            "nature": "public",
            "category": "community_centre",
            "grade": "unrated",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert (
        api.patch(f"/api/v1/medical-institutions/{pk}/", {"phone": "029-1"}, format="json").json()["phone"]
        == "029-1"
    )
    gone = api.post(f"/api/v1/medical-institutions/{pk}/deregister/", {"reason": "合并"}, format="json")
    assert gone.json()["status"] == "deregistered"
    bad = api.post(
        "/api/v1/medical-institutions/",
        {"name": "x", "code": code[:-1] + "0", "region": "610113", "nature": "public", "category": "other"},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["code"] in ("invalid_uscc", "duplicate_code")


@pytest.mark.django_db
def test_api_credential_issue_shows_the_secret_once(two_cities, xian_clerk):
    api = APIClient()
    api.force_authenticate(xian_clerk)
    issued = api.post(
        "/api/v1/api-credentials/issue/", {"institution_code": two_cities["xian"].code}, format="json"
    )
    assert issued.status_code == 201 and len(issued.json()["secret"]) >= 40
    listed = api.get("/api/v1/api-credentials/").json()["results"]
    assert "secret" not in listed[0]
    other = api.post(
        "/api/v1/api-credentials/issue/", {"institution_code": two_cities["baoji"].code}, format="json"
    )
    assert other.status_code == 404 and other.json()["code"] == "institution_not_found"


@pytest.mark.django_db
def test_admin_issue_key_shows_secret_then_warns_before_expiry(client, two_cities, xian_clerk):
    cache.clear()
    client.force_login(xian_clerk)
    page = client.post(
        "/admin/institutions/medicalinstitution/",
        {"action": "issue_credential", "_selected_action": [two_cities["xian"].pk]},
    )
    assert page.status_code == 200
    credential = ApiCredential.objects.get()
    assert credential.key_id in page.content.decode() and "不会再次显示" in page.content.decode()
    ApiCredential.objects.filter(pk=credential.pk).update(
        expires_at=timezone.now() + timedelta(days=6, hours=23)
    )
    listing = client.get("/admin/institutions/apicredential/")
    warnings = [str(m) for m in listing.context["messages"]]
    assert any("7" in w and credential.key_id not in w for w in warnings), warnings
    assert "color:#ba2121" in listing.content.decode()


@pytest.mark.django_db
def test_admin_add_form_reports_a_bad_code_next_to_the_field(client, two_cities, xian_clerk):
    client.force_login(xian_clerk)
    response = client.post(
        "/admin/institutions/medicalinstitution/add/",
        {
            "name": "测试",
            "code": "12610113000000010",
            "region": "610113",
            "nature": "public",
            "category": "other",
            "grade": "unrated",
        },
    )
    assert response.status_code == 200
    assert "统一社会信用代码" in response.content.decode()
    assert not MedicalInstitution.objects.filter(name="测试").exists()
    ok = client.post(
        "/admin/institutions/medicalinstitution/add/",
        {
            "name": "测试",
            "code": make_uscc("610113"),
            "region": "610113",
            "nature": "public",
            "category": "other",
            "grade": "unrated",
        },
    )
    assert ok.status_code == 302
    assert AuditEntry.objects.filter(action="medicalinstitution.register", channel="web").exists()


@pytest.mark.django_db
def test_relabelling_a_key_in_the_admin_is_audited(client, two_cities, xian_clerk, system_actor):
    from institutions.actions import credential_issue

    credential, _secret = credential_issue(actor=system_actor, institution=two_cities["xian"])
    client.force_login(xian_clerk)
    response = client.post(
        f"/admin/institutions/apicredential/{credential.pk}/change/", {"label": "HIS 门诊"}
    )
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.label == "HIS 门诊"
    audit = AuditEntry.objects.get(action="credential.relabel")
    assert audit.changes == {"label": ["", "HIS 门诊"]} and audit.user == xian_clerk
