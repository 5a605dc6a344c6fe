"""The admin pages and staff API of stock-ins, stock-outs and shipments, with their exports."""

import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cards.choices import CardStatus
from cards.models import Card, Shipment, StockIn, StockOut

from . import test_production_setup as shared

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["卡管理员"], scope="610100")


@pytest.fixture
def hospital(make_institution):
    return make_institution("610113", name="雁塔区人民医院")


def _cells(response) -> set:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return {c for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in row}


@pytest.mark.django_db
def test_admin_stock_out_then_delivery_updates(client, manager, make_plan, hospital):
    make_plan("stocked", n=3)
    client.force_login(manager)
    listing = client.get("/admin/cards/stockout/")
    assert "/admin/cards/stockout/create/" in listing.content.decode()
    serial = Card.objects.order_by("id").first().chip_serial
    sent = client.post(
        "/admin/cards/stockout/create/",
        {
            "institution_code": hospital.code,
            "chip_serials": serial,
            "responsible_unit": "西安市卡管中心",
            "responsible_person": "李发货",
        },
    )
    assert sent.status_code == 302
    by_count = client.post(
        "/admin/cards/stockout/create/",
        {
            "institution_code": hospital.code,
            "count": "2",
            "responsible_unit": "西安市卡管中心",
            "responsible_person": "李发货",
            "waybill": "SF2",
            "courier": "顺丰",
        },
    )
    assert by_count.status_code == 302 and StockOut.objects.count() == 2
    too_many = client.post(
        "/admin/cards/stockout/create/",
        {"institution_code": hospital.code, "count": "1", "responsible_unit": "x", "responsible_person": "y"},
        follow=True,
    )
    assert StockOut.objects.count() == 2 and too_many.status_code == 200

    shipment = Shipment.objects.get(waybill="SF2")
    changelist = "/admin/cards/shipment/"
    for status in ("shipped", "delivered"):
        client.post(
            changelist,
            {
                "action": "update_selected",
                "_selected_action": [shipment.pk],
                "apply_form": "1",
                "status": status,
            },
        )
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    assert Card.objects.filter(status=CardStatus.AWAITING_COLLECTION).count() == 2
    client.post(
        changelist,
        {
            "action": "update_selected",
            "_selected_action": [shipment.pk],
            "apply_form": "1",
            "status": "signed",
            "signed_by": "王护士",
        },
    )
    shipment.refresh_from_db()
    assert (shipment.status, shipment.signed_by, shipment.waybill) == ("signed", "王护士", "SF2")
    page = client.get(f"/admin/cards/shipment/{shipment.pk}/change/")
    assert page.status_code == 200 and "shipment.update" in page.content.decode()
    for path in (
        f"/admin/cards/stockout/{shipment.stock_out_id}/change/",
        f"/admin/cards/stockin/{StockIn.objects.get().pk}/change/",
        "/admin/cards/stockin/",
        "/admin/cards/stockout/",
        "/admin/cards/shipment/?status__exact=signed",
    ):
        assert client.get(path).status_code == 200, path


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("admin_path", "api_path"),
    [
        ("/admin/cards/stockin/export/xlsx/", "/api/v1/stock-ins/export/?as=xlsx"),
        ("/admin/cards/stockout/export/xlsx/", "/api/v1/stock-outs/export/?as=xlsx"),
        ("/admin/cards/shipment/export/xlsx/", "/api/v1/shipments/export/?as=xlsx"),
    ],
)
def test_exports_open_as_xlsx(client, manager, make_plan, hospital, system_actor, admin_path, api_path):
    from cards import actions

    plan = make_plan("stocked", n=2)
    stock_out = actions.stock_out_record(
        actor=system_actor,
        institution=hospital,
        count=2,
        responsible_unit="卡管中心",
        responsible_person="李",
    )
    expected = (
        StockIn.objects.get(plan=plan).batch_number if "stockin" in admin_path else stock_out.batch_number
    )
    client.force_login(manager)
    for path in (admin_path, api_path):
        response = client.get(path)
        assert response.status_code == 200
        assert expected in _cells(response)


@pytest.mark.django_db
def test_api_stock_out_and_delivery(manager, make_plan, hospital):
    make_plan("stocked", n=2)
    api = APIClient()
    api.force_authenticate(manager)
    serials = list(Card.objects.values_list("chip_serial", flat=True))
    created = api.post(
        "/api/v1/stock-outs/",
        {
            "institution_code": hospital.code,
            "chip_serials": serials,
            "responsible_unit": "西安市卡管中心",
            "responsible_person": "李发货",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["quantity"] == 2 and body["issuing_point"]["code"] == hospital.code
    assert body["shipment"]["status"] == "preparing"
    shipment_id = body["shipment"]["id"]
    missing = api.post(
        "/api/v1/stock-outs/",
        {
            "institution_code": hospital.code,
            "chip_serials": ["NOPE"],
            "responsible_unit": "x",
            "responsible_person": "y",
        },
        format="json",
    )
    assert missing.status_code == 400 and missing.json()["code"] == "cards_not_in_stock"

    url = f"/api/v1/shipments/{shipment_id}/update-status/"
    refused = api.post(url, {"status": "delivered"}, format="json")
    assert refused.status_code == 409 and refused.json()["detail"]["current"] == "preparing"
    shipped = api.post(url, {"status": "shipped", "waybill": "EMS9", "courier": "邮政"}, format="json").json()
    assert shipped["status"] == "shipped" and shipped["shipped_at"]
    assert api.post(url, {"status": "delivered"}, format="json").json()["status"] == "delivered"
    assert set(Card.objects.values_list("status", flat=True)) == {CardStatus.AWAITING_COLLECTION}
    listed = api.get("/api/v1/shipments/", {"waybill": "EMS9"}).json()["results"]
    assert [s["id"] for s in listed] == [shipment_id]
    assert api.get("/api/v1/shipments/", {"status": "signed"}).json()["results"] == []
    assert api.get("/api/v1/stock-ins/").json()["results"][0]["quantity"] == 2


@pytest.mark.django_db
def test_list_endpoints_have_a_fixed_number_of_queries(
    manager,
    make_plan,
    hospital,
    system_actor,
    django_assert_max_num_queries,
):
    from cards import actions

    make_plan("stocked", n=4)
    for _ in range(2):
        actions.stock_out_record(
            actor=system_actor,
            institution=hospital,
            count=2,
            responsible_unit="卡管中心",
            responsible_person="李",
        )
    api = APIClient()
    api.force_authenticate(manager)
    for path in (
        "/api/v1/stock-outs/",
        "/api/v1/shipments/",
        "/api/v1/stock-ins/",
        "/api/v1/production-plans/",
    ):
        with django_assert_max_num_queries(8):
            assert api.get(path).status_code == 200
