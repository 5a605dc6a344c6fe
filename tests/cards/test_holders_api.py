"""The staff holder API: masked list and detail, register and modify through the actions, the audited unmasked
view, statistics, export, and a city clerk's region."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cards.models import Resident
from registry.models import AuditEntry

from .conftest import make_id_number


@pytest.fixture(autouse=True)
def province_node(settings):
    settings.HC_REGION = "610000"


@pytest.fixture
def manager(make_user):
    return make_user("api_manager", roles=["卡管理员"], scope="610100")


@pytest.fixture
def clerk(make_user):
    return make_user("api_clerk", roles=["发卡操作员"], scope="610100")


@pytest.fixture
def holders(make_holder):
    return {
        "xian": make_holder("610113", name="王小明", phone1="13912345678", address1="西安市雁塔区某路1号"),
        "baoji": make_holder("610302", name="宝鸡人"),
    }


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.mark.django_db
def test_list_and_detail_are_masked_and_scoped(manager, holders, django_assert_max_num_queries, make_holder):
    for _ in range(3):
        make_holder("610113")
    api = api_for(manager)
    with django_assert_max_num_queries(8):  # no query per row, however many holders
        listed = api.get("/api/v1/holders/").json()
    xian = holders["xian"]
    assert listed["count"] == 4
    rows = listed["results"]
    assert holders["baoji"].pk not in {r["id"] for r in rows}
    first = next(r for r in rows if r["id"] == xian.pk)
    assert first["name"] == "王**" and first["document_number"] == xian.masked_document_number
    assert "phone1" not in first
    detail = api.get(f"/api/v1/holders/{xian.pk}/").json()
    assert (detail["phone1"], detail["address1"]) == ("139****5678", "西安市雁塔区****")
    body = str(detail)
    assert xian.document_number not in body and "王小明" not in body
    assert api.get(f"/api/v1/holders/{holders['baoji'].pk}/").status_code == 404


@pytest.mark.django_db
def test_register_and_modify_go_through_the_actions(manager, holders):
    api = api_for(manager)
    number = make_id_number("610116", dt.date(2001, 7, 1), male=False)
    created = api.post(
        "/api/v1/holders/",
        {
            "document_number": number,
            "name": "陈红",
            "contacts": [{"name": "陈父", "relation": "3", "phone": "1"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["sex"], body["birth_date"], body["region"]) == ("2", "2001-07-01", "610116")
    assert body["name"] == "陈*" and body["contacts"][0]["name"] == "陈*"
    again = api.post("/api/v1/holders/", {"document_number": number, "name": "陈红"}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "holder_exists"
    bad = api.post("/api/v1/holders/", {"document_number": number[:-1] + "Y", "name": "错"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] in ("id_checksum", "id_format")
    assert bad.json()["detail"] == {"field": "document_number"}
    pk = body["id"]
    changed = api.patch(f"/api/v1/holders/{pk}/", {"phone1": "13811112222", "ethnicity": "03"}, format="json")
    assert changed.status_code == 200 and changed.json()["phone1"] == "138****2222"
    holder = Resident.objects.get(pk=pk)
    assert (holder.phone1, holder.ethnicity) == ("13811112222", "03")
    identity = api.patch(f"/api/v1/holders/{pk}/", {"birth_date": "2001-07-02"}, format="json")
    assert identity.status_code == 200 and Resident.objects.get(pk=pk).birth_date == dt.date(2001, 7, 1)
    assert api.put(f"/api/v1/holders/{pk}/", {}, format="json").status_code == 405
    outside = api.patch(f"/api/v1/holders/{pk}/", {"region": "610302"}, format="json")
    assert outside.status_code == 400 and outside.json()["code"] == "out_of_scope"


@pytest.mark.django_db
def test_reveal_needs_the_permission_and_is_audited(manager, clerk, holders):
    xian = holders["xian"]
    refused = api_for(clerk).post(f"/api/v1/holders/{xian.pk}/reveal/", {"reason": "核对"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "personal_data_forbidden"
    assert not AuditEntry.objects.filter(action="personal_data.reveal").exists()
    shown = api_for(manager).post(f"/api/v1/holders/{xian.pk}/reveal/", {"reason": "核对"}, format="json")
    assert shown.status_code == 200
    values = shown.json()
    assert (values["document_number"], values["name"], values["phone1"]) == (
        xian.document_number,
        "王小明",
        "13912345678",
    )
    audit = AuditEntry.objects.get(action="personal_data.reveal")
    assert (audit.object_key, audit.reason, audit.channel) == (str(xian.pk), "核对", "api")
    other = api_for(manager).post(f"/api/v1/holders/{holders['baoji'].pk}/reveal/", {}, format="json")
    assert other.status_code == 404


@pytest.mark.django_db
def test_export_is_masked_and_scoped(manager, holders):
    api = api_for(manager)
    response = api.get("/api/v1/holders/export/", {"as": "xlsx", "sex": "1"})
    cells = {
        c
        for r in load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(
            values_only=True
        )
        for c in r
    }
    xian = holders["xian"]
    assert xian.masked_document_number in cells and "王**" in cells
    assert xian.document_number not in cells and "王小明" not in cells and "宝**" not in cells
    assert any("sex" in str(c) or "性别" in str(c) for c in cells if c)  # the filters are stated


@pytest.mark.django_db
def test_statistics_are_scoped_and_export(manager, holders):
    api = api_for(manager)
    stats = api.get("/api/v1/holders/statistics/", {"by": "region"}).json()
    assert stats["region"] == "610100" and stats["total"]["total"] == 1
    assert [row["key"] for row in stats["rows"]] == ["610113"]
    refused = api.get("/api/v1/holders/statistics/", {"region": "610300"})
    assert refused.status_code == 400 and refused.json()["code"] == "out_of_scope"
    printed = api.get("/api/v1/holders/statistics/", {"by": "age", "as": "pdf"})
    assert printed.status_code == 200 and printed["Content-Type"] == "application/pdf"
