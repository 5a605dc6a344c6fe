"""The staff API: scoped lists with filters, writes through actions, errors in both languages, OpenAPI."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def api(make_user, settings):
    settings.HC_REGION = "610000"
    user = make_user("api_admin", roles=["系统管理员"], scope="610000")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.django_db
def test_filters_combine(api, make_centre, system_actor):
    from registry.actions import centre_deregister

    for code in ["610000", "610100", "610200", "610300"]:
        make_centre(code)
    centre_deregister(actor=system_actor, centre=make_centre("610400"), reason="撤并")
    rows = api.get("/api/v1/centres/", {"tier": "city", "status": "active"}).json()["results"]
    assert sorted(r["region"] for r in rows) == ["610100", "610200", "610300"]
    rows = api.get("/api/v1/centres/", {"region_name": "宝鸡"}).json()["results"]
    assert [r["region"] for r in rows] == ["610300"]
    rows = api.get("/api/v1/centres/", {"status": "deregistered"}).json()["results"]
    assert [r["status_reason"] for r in rows] == ["撤并"]


@pytest.mark.django_db
def test_create_update_deregister_through_the_api(api):
    created = api.post(
        "/api/v1/centres/", {"region": "610500", "name": "渭南市居民健康卡注册管理中心", "head": "孙主任"}
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["tier"] == "city" and body["status"] == "active"
    changed = api.patch(f"/api/v1/centres/{body['id']}/", {"phone": "0913-1234567"}, format="json")
    assert changed.status_code == 200 and changed.json()["phone"] == "0913-1234567"
    gone = api.post(f"/api/v1/centres/{body['id']}/deregister/", {"reason": "撤并"}, format="json")
    assert gone.status_code == 200 and gone.json()["status"] == "deregistered"
    again = api.post(f"/api/v1/centres/{body['id']}/deregister/", {"reason": "撤并"}, format="json")
    assert again.status_code == 409
    error = again.json()
    assert error["code"] == "illegal_transition"
    assert error["message_zh"] and error["message_en"].startswith("Cannot change")
    assert error["detail"] == {"current": "deregistered", "target": "deregistered", "allowed": ["active"]}


@pytest.mark.django_db
def test_errors_are_json_with_a_stable_code(api):
    missing = api.post("/api/v1/centres/", {"name": "x"}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "validation_error"
    assert "region" in missing.json()["detail"]
    county = api.post("/api/v1/centres/", {"region": "610113", "name": "x"}, format="json")
    assert county.status_code == 400 and county.json()["code"] == "centre_region_level"
    anonymous = APIClient().get("/api/v1/centres/")
    assert anonymous.status_code in (401, 403) and anonymous.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_a_role_without_the_permission_cannot_write(make_user, settings):
    settings.HC_REGION = "610000"
    client = APIClient()
    client.force_authenticate(make_user("viewer", roles=["只读用户"], scope="610000"))
    assert client.get("/api/v1/centres/").status_code == 200
    assert client.post("/api/v1/centres/", {"region": "610500", "name": "x"}).status_code == 403


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/centres/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower() and "swagger-ui" in docs
