"""The admin pages and the staff API of production plans: generate, submit, file, start, return, stock-in."""

import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cards.choices import PlanStatus
from cards.models import Card, PlanItem, ProductionPlan, StockIn
from cards.personalisation import return_file_csv, verify_personalisation_file
from registry.models import AuditEntry, ImportJob

from . import test_production_setup as shared
from .test_production_setup import results

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan
node_key = shared.node_key


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["卡管理员"], scope="610100")


def _cells(response) -> set:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return {c for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in row}


def _return_upload(plan, rows) -> io.BytesIO:
    upload = io.BytesIO(return_file_csv([{"plan_number": plan.number, **row} for row in rows]))
    upload.name = "回盘文件.csv"
    return upload


@pytest.mark.django_db
def test_admin_generate_submit_file_start_return_and_stock_in(
    client,
    manager,
    applications,
    card_maker,
    node_key,
    django_capture_on_commit_callbacks,
):
    applications(3)
    client.force_login(manager)
    listing = client.get("/admin/cards/productionplan/")
    assert listing.status_code == 200 and "/admin/cards/productionplan/generate/" in listing.content.decode()
    assert client.get("/admin/cards/productionplan/generate/").status_code == 200
    made = client.post(
        "/admin/cards/productionplan/generate/",
        {"card_maker": card_maker.pk, "region": "610100", "size_cap": 10, "channel": "", "note": ""},
    )
    plan = ProductionPlan.objects.get()
    assert made.status_code == 302 and made["Location"].endswith(f"/{plan.pk}/change/")
    assert plan.item_count == 3 and plan.created_by == manager

    changelist = "/admin/cards/productionplan/"
    client.post(changelist, {"action": "submit_selected", "_selected_action": [plan.pk]})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUBMITTED
    page = client.get(f"/admin/cards/productionplan/{plan.pk}/change/").content.decode()
    assert f"/admin/cards/productionplan/{plan.pk}/personalisation-file/" in page
    assert 'name="_save"' not in page  # plans change only through their actions

    download = client.get(f"/admin/cards/productionplan/{plan.pk}/personalisation-file/")
    assert download["Content-Type"] == "application/zip" and plan.number in download["Content-Disposition"]
    assert verify_personalisation_file(download.content, public_key_pem_text=node_key)["count"] == 3
    assert AuditEntry.objects.filter(action="production_plan.personalisation_file", user=manager).count() == 1

    client.post(changelist, {"action": "start_selected", "_selected_action": [plan.pk]})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.IN_PRODUCTION

    rows = results(plan, failed=1)
    rows[0]["chip_serial"] = "bad serial!"
    checked = client.post("/admin/cards/productionplan/import/", {"file": _return_upload(plan, rows)})
    job = ImportJob.objects.get()
    assert checked.status_code == 302 and (job.rows_total, job.rows_valid, job.errors_total) == (3, 2, 1)
    report = client.get(checked["Location"]).content.decode()
    assert "bad serial!" in report
    rows[0]["chip_serial"] = "CSADMIN0001"
    checked = client.post("/admin/cards/productionplan/import/", {"file": _return_upload(plan, rows)})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(checked["Location"], {"commit": "1"})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED and (plan.produced_count, plan.failed_count) == (2, 1)
    assert "66.7%" in client.get(changelist).content.decode()

    form = client.post(changelist, {"action": "stock_in_selected", "_selected_action": [plan.pk]})
    assert form.status_code == 200 and 'name="responsible_unit"' in form.content.decode()
    client.post(
        changelist,
        {
            "action": "stock_in_selected",
            "_selected_action": [plan.pk],
            "apply_form": "1",
            "responsible_unit": "西安市卡管中心",
            "responsible_person": "张库管",
            "batch_number": "RK-001",
            "quantity": "2",
        },
    )
    assert StockIn.objects.get().batch_number == "RK-001" and Card.objects.count() == 2

    page = client.get(f"/admin/cards/productionplan/{plan.pk}/change/").content.decode()
    assert "/admin/cards/stockin/?plan__id__exact=" in page and "66.7%" in page
    item = PlanItem.objects.filter(plan=plan).first()
    assert client.get(f"/admin/cards/planitem/{item.pk}/change/").status_code == 200
    stock_ins = client.get(f"/admin/cards/stockin/?plan__id__exact={plan.pk}")
    assert [s.batch_number for s in stock_ins.context["cl"].result_list] == ["RK-001"]
    items = client.get(f"/admin/cards/planitem/?plan__id__exact={plan.pk}")
    text = items.content.decode()
    holder = PlanItem.objects.filter(plan=plan).first().application.resident
    assert holder.masked_document_number in text and holder.document_number not in text


@pytest.mark.django_db
def test_admin_close_with_reason_and_refusals_shown(client, manager, make_plan):
    plan = make_plan("in_production", n=1)
    client.force_login(manager)
    changelist = "/admin/cards/productionplan/"
    refused = client.post(
        changelist,
        {"action": "close_selected", "_selected_action": [plan.pk], "apply_reason": "1", "reason": "作废"},
        follow=True,
    )
    assert refused.status_code == 200
    assert ProductionPlan.objects.get(pk=plan.pk).status == PlanStatus.IN_PRODUCTION
    draft = make_plan("draft", n=1)
    client.post(
        changelist,
        {"action": "close_selected", "_selected_action": [draft.pk], "apply_reason": "1", "reason": "作废"},
    )
    assert ProductionPlan.objects.get(pk=draft.pk).status == PlanStatus.CLOSED


@pytest.mark.django_db
def test_plan_list_prints_and_the_card_maker_page_shows_production(client, manager, make_plan):
    plan = make_plan("completed", n=4, failed=1)
    client.force_login(manager)
    printed = client.get("/admin/cards/productionplan/export/pdf/")
    content = b"".join(printed.streaming_content) if printed.streaming else printed.content
    assert printed.status_code == 200 and content.startswith(b"%PDF")
    from institutions.selectors import card_maker_work

    assert card_maker_work(maker=plan.card_maker) == {
        "planned": 4,
        "produced": 3,
        "failed": 1,
        "success_rate": 75.0,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/cards/productionplan/export/xlsx/",
        "/admin/cards/planitem/export/xlsx/",
        "/api/v1/production-plans/export/?as=xlsx",
    ],
)
def test_exports_open_as_xlsx(client, manager, make_plan, path):
    plan = make_plan("completed", n=2, failed=1)
    client.force_login(manager)
    response = client.get(path)
    assert response.status_code == 200
    cells = _cells(response)
    assert plan.number in cells


@pytest.mark.django_db
def test_api_plan_lifecycle(manager, applications, card_maker, node_key):
    applications(2)
    api = APIClient()
    api.force_authenticate(manager)
    created = api.post(
        "/api/v1/production-plans/generate/",
        {"card_maker": card_maker.code, "region": "610100", "size_cap": 5},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft" and body["item_count"] == 2 and body["success_rate"] is None
    pk = body["id"]
    assert api.post(f"/api/v1/production-plans/{pk}/submit/").json()["status"] == "submitted"
    items = api.get(f"/api/v1/production-plans/{pk}/items/").json()["results"]
    assert len(items) == 2 and "*" in items[0]["document_number"]
    download = api.get(f"/api/v1/production-plans/{pk}/personalisation-file/")
    assert verify_personalisation_file(download.content, public_key_pem_text=node_key)["count"] == 2
    assert api.post(f"/api/v1/production-plans/{pk}/start/").json()["status"] == "in_production"

    plan = ProductionPlan.objects.get(pk=pk)
    rows = results(plan, failed=1)
    dry = api.post(
        "/api/v1/production-plans/return-file/", {"file": _return_upload(plan, rows)}, format="multipart"
    )
    assert dry.json() == {"dry_run": True, "total": 2, "valid": 2, "errors_total": 0, "errors": []}
    applied = api.post(f"/api/v1/production-plans/{pk}/return/", {"rows": rows}, format="json")
    assert applied.json() == {"produced": 1, "failed": 1, "unchanged": 0, "completed": True}
    again = api.post(
        "/api/v1/production-plans/return-file/",
        {"file": _return_upload(plan, rows), "dry_run": "false"},
        format="multipart",
    )
    assert again.json()["changed"] == 0 and again.json()["unchanged"] == 2
    plan_json = api.get(f"/api/v1/production-plans/{pk}/").json()
    assert (plan_json["status"], plan_json["success_rate"]) == ("completed", 50.0)

    refused = api.post(f"/api/v1/production-plans/{pk}/submit/")
    assert refused.status_code == 409 and refused.json()["code"] == "illegal_transition"
    assert refused.json()["detail"]["current"] == "completed" and refused.json()["message_zh"]

    bad = api.post(
        f"/api/v1/production-plans/{pk}/return/", {"rows": [{"item_id": 1, "result": "x"}]}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"

    stocked = api.post(
        "/api/v1/stock-ins/",
        {
            "plan": plan.number,
            "responsible_unit": "西安市卡管中心",
            "responsible_person": "张库管",
            "quantity": 1,
        },
        format="json",
    )
    assert stocked.status_code == 201 and stocked.json()["quantity"] == 1
    closed = api.post(f"/api/v1/production-plans/{pk}/close/", {"reason": "归档"}, format="json")
    assert closed.json()["status"] == "closed"


@pytest.mark.django_db
def test_api_file_download_needs_the_change_permission(make_user, make_plan, node_key):
    plan = make_plan("submitted", n=1)
    viewer = make_user("viewer", roles=["只读用户"], scope="610100")
    api = APIClient()
    api.force_authenticate(viewer)
    assert api.get(f"/api/v1/production-plans/{plan.pk}/").status_code == 200
    assert api.get(f"/api/v1/production-plans/{plan.pk}/personalisation-file/").status_code == 403
    assert api.post(f"/api/v1/production-plans/{plan.pk}/start/").status_code == 403
    assert not AuditEntry.objects.filter(action="production_plan.personalisation_file").exists()


@pytest.mark.django_db
def test_api_return_errors_come_back_with_row_numbers(manager, make_plan):
    plan = make_plan("in_production", n=2)
    rows = results(plan)
    rows[1]["chip_serial"] = ""
    api = APIClient()
    api.force_authenticate(manager)
    answer = api.post(f"/api/v1/production-plans/{plan.pk}/return/", {"rows": rows}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "return_file_invalid"
    assert [(e["row"], e["column"], e["code"]) for e in answer.json()["detail"]] == [
        (3, "chip_serial", "chip_serial_required")
    ]
