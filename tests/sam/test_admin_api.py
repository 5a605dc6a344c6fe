"""The admin pages and staff API of SAMs: scope per tier, the actions behind them, exports, supervision."""

import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from sam import actions
from sam.choices import UseScenario
from sam.models import Sam, SamApplication, SamPlan

from .conftest import serials


def _cells(response) -> set:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return {c for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in row}


@pytest.fixture
def baoji_sams(ministry, province, baoji_hospital):
    """Two SAMs in use at a hospital of another city (Baoji), stocked without a plan."""
    numbers = serials(2)
    unit = {"responsible_unit": "部中心", "responsible_person": "赵"}
    actions.sam_stock_in(actor=ministry, serials=numbers, **unit)
    from registry.models import Region

    actions.sam_stock_out(actor=ministry, serials=numbers, region=Region.objects.get(code="610000"), **unit)
    actions.sam_stock_out(actor=province, serials=numbers, region=Region.objects.get(code="610300"), **unit)
    return numbers


@pytest.mark.django_db
def test_city_sees_only_its_institutions_sams_in_admin_api_and_exports(
    client, issued_sams, baoji_sams, city, other_city
):
    ours = {sam.serial for sam in issued_sams(2)}
    client.force_login(city.user)
    listing = client.get("/admin/sam/sam/")
    assert {sam.serial for sam in listing.context["cl"].result_list} == ours
    baoji = Sam.objects.get(serial=baoji_sams[0])
    assert client.get(f"/admin/sam/sam/{baoji.pk}/change/").status_code in (302, 404)
    exported = _cells(client.get("/admin/sam/sam/export/xlsx/"))
    assert ours <= exported and not set(baoji_sams) & exported

    api = APIClient()
    api.force_authenticate(city.user)
    rows = api.get("/api/v1/sam-cards/").json()["results"]
    assert {row["serial"] for row in rows} == ours
    assert api.get(f"/api/v1/sam-cards/{baoji.pk}/").status_code == 404
    assert api.post(f"/api/v1/sam-cards/{baoji.pk}/freeze/", {"reason": "x"}).status_code == 404

    api.force_authenticate(other_city.user)
    rows = api.get("/api/v1/sam-cards/").json()["results"]
    assert {row["serial"] for row in rows} == set(baoji_sams)


@pytest.mark.django_db
def test_api_application_to_plan_at_each_tier(city, province, ministry, hospital, maker):
    api = APIClient()
    api.force_authenticate(city.user)
    created = api.post(
        "/api/v1/sam-applications/",
        {
            "institution_code": hospital.code,
            "quantity": 4,
            "terminal_type": "kiosk",
            "scenario": "registration",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    refused = api.post(f"/api/v1/sam-applications/{pk}/review/", {"decision": "reject"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "reason_required"
    cut = api.post(
        f"/api/v1/sam-applications/{pk}/review/",
        {"decision": "cut", "approved_quantity": 3, "reason": "先配三台"},
        format="json",
    )
    assert cut.json()["status"] == "cut"
    plan = api.post("/api/v1/sam-plans/aggregate/", {}, format="json").json()
    assert (plan["level"], plan["quantity"]) == ("city", 3)
    assert api.post(f"/api/v1/sam-plans/{plan['id']}/report/").json()["status"] == "reported"
    again = api.post(f"/api/v1/sam-plans/{plan['id']}/report/")
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"

    api.force_authenticate(province.user)
    listed = api.get("/api/v1/sam-plans/", {"level": "city", "status": "reported"}).json()["results"]
    assert [row["number"] for row in listed] == [plan["number"]]
    approved = api.post(f"/api/v1/sam-plans/{plan['id']}/review/", {"decision": "approve"}, format="json")
    assert approved.json()["status"] == "approved"
    province_plan = api.post("/api/v1/sam-plans/aggregate/", {}, format="json").json()
    api.post(f"/api/v1/sam-plans/{province_plan['id']}/report/")

    api.force_authenticate(ministry.user)
    api.post(f"/api/v1/sam-plans/{province_plan['id']}/review/", {"decision": "approve"}, format="json")
    production = api.post("/api/v1/sam-plans/aggregate/", {"card_maker": maker.code}, format="json").json()
    assert (production["level"], production["card_maker"], production["quantity"]) == (
        "ministry",
        maker.code,
        3,
    )
    api.post(f"/api/v1/sam-plans/{production['id']}/start/")
    numbers = serials(3)
    stocked = api.post(
        "/api/v1/sam-stock-ins/",
        {
            "plan": production["number"],
            "serials": numbers,
            "quantity": 3,
            "responsible_unit": "部中心",
            "responsible_person": "钱",
        },
        format="json",
    )
    assert stocked.status_code == 201 and stocked.json()["quantity"] == 3
    out = api.post(
        "/api/v1/sam-stock-outs/",
        {"region": "610000", "serials": numbers, "responsible_unit": "部中心", "responsible_person": "钱"},
        format="json",
    )
    assert out.status_code == 201 and out.json()["region"] == "610000"

    # The city sees what it reported and how it went, but not the province's and ministry's plans.
    api.force_authenticate(city.user)
    seen = {row["number"]: row for row in api.get("/api/v1/sam-plans/").json()["results"]}
    assert list(seen) == [plan["number"]] and seen[plan["number"]]["status"] == "approved"
    assert seen[plan["number"]]["parent"] == province_plan["number"]
    assert SamApplication.objects.get(pk=pk).status == "planned" and SamPlan.objects.count() == 3


@pytest.mark.django_db
def test_admin_freeze_bind_and_supervision(client, issued_sams, city, ministry):
    first, second, _third = issued_sams(3)
    client.force_login(city.user)
    bound = client.post(
        "/admin/sam/sam/",
        {
            "action": "bind_selected",
            "_selected_action": [first.pk],
            "apply_form": "1",
            "terminal_type": "counter",
            "terminal_number": "GH-01",
            "scenario": "outpatient",
        },
    )
    assert bound.status_code == 302
    first.refresh_from_db()
    assert first.terminal_number == "GH-01"
    asked = client.post("/admin/sam/sam/", {"action": "freeze_selected", "_selected_action": [second.pk]})
    assert asked.status_code == 200 and "reason" in asked.content.decode()
    client.post(
        "/admin/sam/sam/",
        {
            "action": "freeze_selected",
            "_selected_action": [second.pk],
            "apply_reason": "1",
            "reason": "终端维修",
        },
    )
    second.refresh_from_db()
    assert (second.status, second.status_reason) == ("frozen", "终端维修")
    actions.sam_use_report(actor=city, sam=first, count=40)

    page = client.get("/admin/sam/sam/supervision/", {"by": "institution"})
    assert page.status_code == 200
    reports = {report["title"]: report for report in page.context["reports"]}
    issuance = next(r for title, r in reports.items() if "signed" in title or "签收" in title)
    assert issuance["rows"] == [["雁塔区人民医院", 1, 3, 0, 3]]
    maintenance = page.context["reports"][3]["rows"]
    # Frozen and bound SAMs count per scenario; a SAM not yet bound has none.
    assert sorted(maintenance, key=str) == sorted(
        [
            ["雁塔区人民医院", "-", 2, 1, 0, 0, 0],
            ["雁塔区人民医院", str(UseScenario.OUTPATIENT.label), 1, 0, 0, 0, 40],
        ],
        key=str,
    )
    sheet = _cells(
        client.get("/admin/sam/sam/supervision/", {"report": "issuance", "as": "xlsx", "by": "institution"})
    )
    assert "雁塔区人民医院" in sheet

    client.force_login(ministry.user)
    production = client.get("/admin/sam/sam/supervision/").context["reports"][1]["rows"]
    assert production[0][1] == "北京某某智能卡有限公司" and production[0][4:7] == [3, 3, 0]
    api = APIClient()
    api.force_authenticate(ministry.user)
    rows = api.get("/api/v1/sam-supervision/issuance/", {"by": "region"}).json()["rows"]
    assert sum(row["issued"] for row in rows) == 9  # three tiers of stock-outs of three SAMs each
    for path in (
        "/admin/sam/samplan/",
        "/admin/sam/samapplication/",
        "/admin/sam/samstockin/",
        "/admin/sam/samstockout/",
        "/admin/sam/samshipment/",
    ):
        assert client.get(path).status_code == 200
        assert client.get(f"{path}export/xlsx/").status_code == 200


@pytest.mark.django_db
def test_institution_page_shows_its_sams(client, issued_sams, city, hospital, make_user):
    issued_sams(2)
    admin_user = make_user("boss", roles=["系统管理员"], scope="610100")
    client.force_login(admin_user)
    page = client.get(f"/admin/institutions/medicalinstitution/{hospital.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "SAM" in html and ": 2 ·" in html


@pytest.mark.django_db
def test_api_lists_do_not_grow_queries_with_rows(issued_sams, city):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = APIClient()
    api.force_authenticate(city.user)
    paths = [
        "/api/v1/sam-cards/",
        "/api/v1/sam-stock-outs/",
        "/api/v1/sam-shipments/",
        "/api/v1/sam-applications/",
    ]

    def queries() -> list[int]:
        counts = []
        for path in paths:
            with CaptureQueriesContext(connection) as captured:
                assert api.get(path).status_code == 200
            counts.append(len(captured))
        return counts

    issued_sams(1)
    queries()  # the first request also loads the user's permissions
    few = queries()
    issued_sams(4)
    assert queries() == few


@pytest.mark.django_db
def test_admin_application_review_and_plans(client, city, province, hospital):
    client.force_login(city.user)
    listing = client.get("/admin/sam/samapplication/")
    assert "/admin/sam/samapplication/apply/" in listing.content.decode()
    made = client.post(
        "/admin/sam/samapplication/apply/",
        {"institution_code": hospital.code, "quantity": "5", "terminal_type": "pos", "scenario": "pharmacy"},
    )
    assert made.status_code == 302
    application = SamApplication.objects.get()
    cut = client.post(
        "/admin/sam/samapplication/",
        {
            "action": "cut_selected",
            "_selected_action": [application.pk],
            "apply_form": "1",
            "approved_quantity": "2",
            "reason": "配额",
        },
    )
    assert cut.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.approved_quantity) == ("cut", 2)
    assert client.post("/admin/sam/samplan/aggregate/", {"note": "四季度"}).status_code == 302
    plan = SamPlan.objects.get()
    client.post("/admin/sam/samplan/", {"action": "report_selected", "_selected_action": [plan.pk]})
    plan.refresh_from_db()
    assert plan.status == "reported"
    page = client.get(f"/admin/sam/samplan/{plan.pk}/change/")
    assert application.number in page.content.decode()

    client.force_login(province.user)
    client.post(
        "/admin/sam/samplan/",
        {
            "action": "reject_selected",
            "_selected_action": [plan.pk],
            "apply_reason": "1",
            "reason": "超出预算",
        },
    )
    plan.refresh_from_db()
    assert (plan.status, plan.status_reason) == ("rejected", "超出预算")
